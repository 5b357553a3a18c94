"""Polite, per-IP pacing: each route out (a proxy, or the bare IP "direct") has its own
pace, its own cookies, and its own rest after a 429 or bot check.

- Pace: at most `per_hour` download starts an hour on one route; each gap is 3600/N s
  plus a random extra of up to `jitter` of that (yt-dlp's own `-t sleep` preset sleeps
  10-20 s between downloads; its wiki puts a guest IP at ~300 videos an hour).
- Rest: a 429 or a bot check rests that route only, `rest_s` at first, doubling while
  they continue (to `rest_max_s`); a success resets it. A resting route is never handed
  out; when every route rests, `acquire` raises AllRoutesResting (a node fault: release
  the row uncharged) instead of handing one out anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import NodeFault


class AllRoutesResting(NodeFault):
    """Every proxy (and the bare IP) is resting after 429s or bot checks."""

    kind = "rate_limited"

    def __init__(self, message: str, *, until: float):
        super().__init__(message, kind="rate_limited")
        self.until = until


@dataclass
class Route:
    """One way out: a proxy URL (or None for the machine's own IP) and its cookies."""

    name: str
    proxy: str | None = None
    cookies: str | None = None
    next_at: float = 0.0       # monotonic: when a new download could start (to pick routes)
    slot_at: float = 0.0       # monotonic: the next free pace slot (taken before a request)
    rest_until: float = 0.0    # wall-clock time the rest ends
    rest_s: float = 0.0        # length of the current rest (grows while 429s continue)
    success: int = 0
    rate_limited: int = 0
    bot_check: int = 0
    failures: int = 0
    in_flight: int = 0
    last_error: str | None = field(default=None, repr=False)

    def state(self, now: float) -> str:
        return "resting" if self.rest_until > now else "ready"


def parse_routes(proxies: tuple[str, ...] | list[str], cookies: str | None) -> list[Route]:
    """`proxy` or `proxy|cookiefile` entries; none means one direct route."""
    routes = []
    for entry in proxies:
        proxy, _, cookiefile = entry.partition("|")
        proxy = proxy.strip()
        if proxy:
            routes.append(Route(_redact(proxy), proxy, cookiefile.strip() or cookies))
    return routes or [Route("direct", None, cookies)]


def _redact(proxy: str) -> str:
    """A proxy URL fit for logs and the monitor (no password)."""
    from urllib.parse import urlsplit

    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname or proxy
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


def wait_until(moment: float) -> None:
    """Sleep until a time.monotonic() moment."""
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class RoutePool:
    """Hands out routes in turn, paced and never while resting. Thread-safe."""

    def __init__(self, routes: list[Route], *, per_hour: float = 300.0, jitter: float = 0.5,
                 rest_s: float = 300.0, rest_max_s: float = 4 * 3600.0,
                 machine: MachinePace | None = None):
        self.machine = machine  # shared with this host's other processes (one IP)
        self.routes = routes
        self.per_hour = per_hour
        self.jitter = jitter
        self.rest_s = rest_s
        self.rest_max_s = rest_max_s
        self._turn = 0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config) -> RoutePool:
        folder = getattr(config, "pace_dir", None) or default_pace_dir()
        machine = None if folder == "off" or os.name != "posix" else MachinePace(folder)
        return cls(parse_routes(config.proxies, config.cookies),
                   per_hour=config.downloads_per_hour, jitter=config.pace_jitter,
                   rest_s=config.proxy_cooldown_s, rest_max_s=config.proxy_rest_max_s,
                   machine=machine)

    def gap_s(self) -> float:
        if not self.per_hour or self.per_hour <= 0:
            return 0.0
        base = 3600.0 / self.per_hour
        return base * (1.0 + random.uniform(0.0, self.jitter))

    def acquire(self, *, paced: bool = True) -> Route:
        """The next route not resting; waits for its pace slot when `paced`.
        Raises AllRoutesResting when every route rests."""
        route, _ = self.reserve(paced=paced)
        if paced:
            wait_until(self.take_slot(route))
        return route

    def reserve(self, *, paced: bool = True) -> tuple[Route, float]:
        """The route for the next download and when it could start (monotonic); the
        caller takes its pace slot (`take_slot`) right before its first request."""
        with self._lock:
            wall = time.time()
            if self.machine is not None:
                for r in self.routes:
                    self.machine.sync_rest(r)
            ready = [r for r in self._in_turn() if r.rest_until <= wall]
            if not ready:
                until = min(r.rest_until for r in self.routes)
                raise AllRoutesResting(
                    f"all {len(self.routes)} routes are resting after 429s or bot checks "
                    f"(the first is back in {until - wall:.0f} s)", until=until)
            now = time.monotonic()
            route = min(ready, key=lambda r: max(r.next_at, now)) if paced else ready[0]
            self._turn = (self.routes.index(route) + 1) % len(self.routes)
            start = max(route.next_at, now) if paced else now
            if paced:
                route.next_at = start + self.gap_s()  # spreads threads over the routes
            route.in_flight += 1
        return route, start

    def take_slot(self, route: Route) -> float:
        """The monotonic time this route's next pace slot starts, taken now (and, with a
        MachinePace, after every other process's slot on this host): wait until then,
        then send the request. Taken right before the request, so the gap holds between
        real requests whatever came before (building a YoutubeDL, a slow start)."""
        with self._lock:
            now, wall = time.monotonic(), time.time()
            start, gap = max(now, route.slot_at), self.gap_s()
            if self.machine is not None:
                start = now + self.machine.slot(route, wall + start - now, gap) - wall
            route.slot_at = start + gap
            route.next_at = max(route.next_at, route.slot_at)
            return start

    def _in_turn(self) -> list[Route]:
        return self.routes[self._turn:] + self.routes[:self._turn]

    def wait_s(self) -> float:
        """Seconds until some route is out of its rest (0 when one is ready now)."""
        with self._lock:
            wall = time.time()
            if self.machine is not None:
                for r in self.routes:
                    self.machine.sync_rest(r)
            return max(0.0, min(r.rest_until for r in self.routes) - wall)

    def report(self, route: Route, outcome: str, error: str | None = None, *,
               rest: bool = True) -> None:
        """outcome: "ok", "rate_limited", "bot_check" or any other failure kind.
        `rest=False`: count a 429 without resting the route (a host we do not pace)."""
        with self._lock:
            route.in_flight = max(0, route.in_flight - 1)
            if outcome == "ok":
                route.success += 1
                route.rest_s = 0.0
                if self.machine is not None:
                    self.machine.succeeded(route)
                return
            route.last_error = (error or outcome)[:300]
            if outcome in ("rate_limited", "bot_check"):
                if outcome == "rate_limited":
                    route.rate_limited += 1
                else:
                    route.bot_check += 1
                if rest:
                    route.rest_s = min(self.rest_max_s, route.rest_s * 2 if route.rest_s
                                       else self.rest_s)
                    route.rest_until = time.time() + route.rest_s
                    if self.machine is not None:
                        self.machine.rested(route)
            else:
                route.failures += 1

    def snapshot(self) -> list[dict]:
        """Per-route counters and state, for the monitor."""
        with self._lock:
            wall = time.time()
            return [{"route": r.name, "state": r.state(wall), "success": r.success,
                     "rate_limited": r.rate_limited, "bot_check": r.bot_check,
                     "failures": r.failures, "in_flight": r.in_flight,
                     "rest_until": r.rest_until if r.rest_until > wall else None,
                     "last_error": r.last_error} for r in self.routes]


class MachinePace:
    """Route state shared by every process on this machine (they share its IP): the next
    slot and the rest of each route, one JSON file per route under an exclusive lock.
    So 8 GPU workers, or several `fetch` processes, on one host keep one pace per IP."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _state(self, route: Route):
        import fcntl

        name = re.sub(r"[^A-Za-z0-9_.-]", "_", route.name)[:120]
        with open(self.folder / f"{name}.json", "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            try:
                state = json.loads(f.read() or "{}")
            except ValueError:
                state = {}
            before = dict(state)
            yield state
            if state != before:
                f.seek(0)
                f.truncate()
                f.write(json.dumps(state))
                f.flush()

    def sync_rest(self, route: Route) -> None:
        """Take on a rest another process started."""
        with self._state(route) as s:
            if s.get("rest_until", 0) > route.rest_until:
                route.rest_until = s["rest_until"]
                route.rest_s = max(route.rest_s, s.get("rest_s", 0.0))

    def slot(self, route: Route, start_wall: float, gap: float) -> float:
        """The wall-clock start of this download's slot, after every other process's."""
        with self._state(route) as s:
            start = max(start_wall, s.get("next_at", 0.0))
            s["next_at"] = start + gap
            return start

    def rested(self, route: Route) -> None:
        with self._state(route) as s:
            s["rest_until"] = max(s.get("rest_until", 0.0), route.rest_until)
            s["rest_s"] = route.rest_s

    def succeeded(self, route: Route) -> None:
        with self._state(route) as s:
            if s.get("rest_s"):
                s["rest_s"] = 0.0


def default_pace_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache, "ytcorpus", "pace")
