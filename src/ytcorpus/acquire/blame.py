"""Whose fault, from evidence across videos: one URL's 403 is that video's; the same
answer on different videos with no success between them is the route's or the host's.

- `Evidence`: per scope (a host through one route, or the whole node), the distinct videos
  that failed since the last success. `failed()` says True once `threshold` different
  videos failed in a row: the fault is the scope's, not the videos'.
- `HostGate`: every host gets a circuit, paced or not. A host that answers 429 (or fails
  different videos in a row) rests `rest_s`, doubling while it goes on (to `rest_max_s`);
  a fetch for a resting host raises HostResting at once (no request): a node fault
  scoped to that host, released uncharged, behind the others.

    gate.check(host)                    # HostResting while it rests
    gate.rest(host, "HTTP Error 429")   # or gate.ok(host) after a success
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Hashable

from ..core.errors import NodeFault, RetryableError

log = logging.getLogger(__name__)

THRESHOLD = 3  # different videos failing in a row before the scope is blamed


class RouteFault(NodeFault, RetryableError):
    """A fault of one way out (a proxy route) or one host, not of the video: released
    uncharged (a NodeFault first: errors.fault_of says "node"), retryable, and the rest
    of the fleet carries on. `scope` is "route" or "host"; `until` (time.time()) is when
    that route or host may be tried again; `behind`: how long the row waits (None: the
    queue's node_behind_s or until then; 0: another route can take it now)."""

    def __init__(self, message: str, *, kind: str = "node", scope: str = "host",
                 until: float = 0.0, video_id: str | None = None):
        super().__init__(message, kind=kind, video_id=video_id)
        self.scope, self.until = scope, until
        self.behind: float | None = None


class HostResting(RouteFault):
    """The URL's host rests after a 429 or failures on different videos: no request."""


class Evidence:
    """Distinct videos failed per scope since its last success. Thread-safe."""

    def __init__(self, threshold: int = THRESHOLD):
        self.threshold = threshold
        self._failed: dict[Hashable, set[str]] = {}
        self._lock = threading.Lock()

    def failed(self, scope: Hashable, video_id: str) -> bool:
        """Record a failure; True when `threshold` different videos failed in a row."""
        with self._lock:
            seen = self._failed.setdefault(scope, set())
            seen.add(video_id)
            return len(seen) >= self.threshold

    def succeeded(self, scope: Hashable) -> None:
        with self._lock:
            self._failed.pop(scope, None)

    def count(self, scope: Hashable) -> int:
        with self._lock:
            return len(self._failed.get(scope, ()))


class HostGate:
    """A rest per host, doubling while failures go on; a success ends it. Thread-safe."""

    def __init__(self, rest_s: float = 60.0, rest_max_s: float = 3600.0, *,
                 clock: Callable[[], float] = time.time):
        self.rest_s, self.rest_max_s = rest_s, max(rest_s, rest_max_s)
        self._clock = clock
        self._rest: dict[str, tuple[float, float, str, str]] = {}  # until, length, why, kind
        self._lock = threading.Lock()

    def check(self, host: str, video_id: str | None = None) -> None:
        """Raise HostResting while the host rests (the row goes back uncharged)."""
        with self._lock:
            until, _, why, kind = self._rest.get(host, (0.0, 0.0, "", "node"))
        left = until - self._clock()
        if left > 0:
            raise HostResting(f"host {host} rests {left:.0f} s more ({why})", kind=kind,
                              scope="host", until=until, video_id=video_id)

    def rest(self, host: str, why: str, kind: str = "node") -> float:
        """The host failed (`kind`: rate_limited, offline...): rest it, longer each time
        until a success. Returns until."""
        with self._lock:
            length = self._rest.get(host, (0.0, 0.0, "", kind))[1]
            length = min(self.rest_max_s, length * 2 if length else self.rest_s)
            until = self._clock() + length
            self._rest[host] = (until, length, why[:200], kind)
        log.warning("host %s rests %.0f s: %s", host, length, why[:200])
        return until

    def ok(self, host: str) -> None:
        with self._lock:
            self._rest.pop(host, None)

    def until(self, host: str) -> float:
        with self._lock:
            return self._rest.get(host, (0.0, 0.0, "", ""))[0]

    def snapshot(self) -> dict[str, float]:
        """Resting hosts and when each is back (time.time())."""
        now = self._clock()
        with self._lock:
            return {h: r[0] for h, r in self._rest.items() if r[0] > now}
