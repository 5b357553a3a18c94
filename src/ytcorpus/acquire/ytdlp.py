"""Get audio: yt-dlp (Python API) for YouTube and any http(s) URL, local files as they are.

Fewest bytes: by default the smallest audio-only stream that ASR still transcribes as well
as the best one (opus >= 32 kbps, any other codec >= 48 kbps; measured: opus 16-128 kbps
and AAC 48/128 kbps gave the same tiny.en WER, 8-90 MB per audio hour). Each download
has a deadline (deadline.py) and goes out through a paced route (pacing.py).
yt-dlp, HTTP and network failures become typed errors in one place: errors.classify.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.config import FetchConfig
from ..core.errors import (SUSPECT_KINDS, NodeFault, PermanentError, RetryableError, VideoError,
                           YtcorpusError, classify)
from .blame import Evidence, HostGate, RouteFault
from .deadline import Watchdog
from .pacing import AllRoutesResting, Route, RoutePool
from .ytdlp_setup import (QuietLogger, deno_path, gated_ydl_class, load_plugins,
                          progress_hook, warm_extractors)
from .prefetch import Prefetcher  # noqa: F401  (DESIGN: fetch.Prefetcher)
from ..quality.language import metadata_language

log = logging.getLogger(__name__)

__all__ = ["Fetcher", "FetchedAudio", "Prefetcher", "RoutePool", "AllRoutesResting",
           "classify", "DEFAULT_AUDIO_FORMAT"]

SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Smallest audio-only stream over a floor (under ASR_FORMAT_SORT "best" means smallest
# bitrate): opus >= 32 kbps, else any codec >= 48 kbps, else the smallest audio-only;
# then the smallest file that has audio at all. A video with several audio tracks (dubs)
# marks its original/default track language_preference >= 5: that track is tried first,
# or a smaller dub would win the first alternative.
_FLOORS = ("ba[acodec^=opus][abr>=32]", "ba[abr>=48]", "ba")
DEFAULT_AUDIO_FORMAT = "/".join([*(f"{f}[language_preference>=5]" for f in _FLOORS),
                                 *_FLOORS, "w", "b*"])
ASR_FORMAT_SORT = ["lang", "+abr", "+size"]


class FetchStopped(NodeFault):
    """The fetcher was closed (the worker is stopping): the row goes back uncharged."""

    kind = "interrupted"


@dataclass
class FetchedAudio:
    """A downloaded (or local) audio file and what yt-dlp told about it."""

    video_id: str
    path: Path
    owned: bool  # True: a temp file of ours, deleted after use; False: the user's file
    info: dict[str, Any] = field(default_factory=dict)
    audio_bytes: int | None = None  # bytes downloaded (None for a local file)
    audio_format: dict[str, Any] | None = None  # format_id, ext, abr, acodec

    def cleanup(self) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)
            for leftover in self.path.parent.glob(f"{self.video_id}.*"):
                leftover.unlink(missing_ok=True)


def _metadata(info: dict) -> dict[str, Any]:
    lang = metadata_language(info)  # the page's language, or its original captions'
    return {
        "title": info.get("title"),
        "duration_seconds": float(info["duration"]) if info.get("duration") else None,
        "channel": info.get("channel") or info.get("uploader"),
        "upload_date": info.get("upload_date"),
        "license": info.get("license"),
        "language": lang,
        "live_status": info.get("live_status"),
        "webpage_url": info.get("webpage_url"),
    }


class Fetcher:
    """Download the audio of one video to `work_dir/<video_id>.<ext>`."""

    def __init__(self, config: FetchConfig | None = None):
        from yt_dlp.utils import parse_bytes

        self.config = c = config or FetchConfig()
        self.work_dir = Path(c.work_dir)
        self.routes = RoutePool.from_config(c)
        self.hosts = HostGate(getattr(c, "host_rest_s", 60.0), getattr(c, "host_rest_max_s",
                                                                      3600.0))
        self.evidence = Evidence()  # per (route, host): different videos failed in a row
        self.watchdog = Watchdog(min_bytes_s=parse_bytes(str(c.min_throughput)) or 0,
                                 window_s=c.throughput_window_s, grace_s=c.download_grace_s,
                                 max_s=c.max_download_s)
        self._closed = False
        self._local = threading.local()  # one YoutubeDL per thread and route (~50 ms to build)
        load_plugins(c.plugin_dirs)

    @property
    def proxies(self) -> RoutePool:  # the name before routes had pacing
        return self.routes

    def close(self, reason: str = "stopping") -> None:
        """Stop every download in flight (each removes its own files before it returns)
        and refuse new ones: nothing is written under work_dir after this returns and
        those fetches have returned."""
        self._closed = True
        self.watchdog.stop_all(reason)

    def paced(self, url: str) -> bool:
        hosts = self.config.pace_hosts
        if "*" in hosts:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in hosts)

    def _ydl(self, video_id: str, route: Route, paced: bool):
        cache = self._local.__dict__.setdefault("ydls", {})
        key = (route.name, paced)
        if key not in cache:
            cls = gated_ydl_class()
            cache[key] = cls(self.options(video_id, route.proxy, route=route, paced=paced))
        ydl = cache[key]
        ydl.params["outtmpl"]["default"] = str(self.work_dir / f"{video_id}.%(ext)s")
        return ydl

    def options(self, video_id: str, proxy: str | None = None, *, route: Route | None = None,
                paced: bool = False) -> dict[str, Any]:
        c = self.config
        opts: dict[str, Any] = {
            "format": c.audio_format or DEFAULT_AUDIO_FORMAT,
            "outtmpl": str(self.work_dir / f"{video_id}.%(ext)s"),
            "postprocessors": [],
            "noplaylist": True,
            "playlist_items": "1",
            "quiet": True,
            "no_warnings": True,
            "color": "no_color",  # no ANSI codes in the error texts stored and printed
            "noprogress": True,
            "logger": QuietLogger(),
            "progress_hooks": [progress_hook],
            "socket_timeout": c.socket_timeout,
            "retries": c.retries,
            "fragment_retries": c.retries,
            "extractor_retries": 1,
            "overwrites": True,
            "continuedl": False,
            "cachedir": False,
        }
        if not c.audio_format:  # a user's selector keeps yt-dlp's own order
            opts["format_sort"] = ASR_FORMAT_SORT
        cookies = route.cookies if route else c.cookies
        if cookies:
            opts["cookiefile"] = cookies
        if proxy:
            opts["proxy"] = proxy
        if c.rate_limit:
            from yt_dlp.utils import parse_bytes

            opts["ratelimit"] = parse_bytes(c.rate_limit)
        if c.sleep_interval:
            opts["sleep_interval"] = c.sleep_interval
            opts["max_sleep_interval"] = max(c.max_sleep_interval, c.sleep_interval)
        if paced and c.sleep_requests:
            opts["sleep_interval_requests"] = c.sleep_requests
        if c.player_client:
            opts["extractor_args"] = {"youtube": {"player_client": c.player_client.split(",")}}
        deno = c.js_runtime or deno_path()
        if deno:  # a venv's bin/ is not on PATH unless activated
            opts["js_runtimes"] = {"deno": {"path": deno}}
        return opts

    def fetch(self, video_id: str, url: str) -> FetchedAudio:
        if not SAFE_ID.match(video_id or ""):
            raise PermanentError(f"unsafe video id {video_id!r}", kind="invalid")
        if url.startswith("file://"):
            path = Path(unquote(urlsplit(url).path))
            if not path.is_file():
                raise PermanentError(f"local file is gone: {path}", kind="not_found",
                                     video_id=video_id)
            return FetchedAudio(video_id, path, owned=False, info={"title": path.stem})
        if self._closed:
            raise FetchStopped("the fetcher is stopping", video_id=video_id)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        paced = self.paced(url)
        host = _server(url)
        self.hosts.check(host, video_id)  # HostResting: no request to a resting host
        warm_extractors()
        route, start = self.routes.reserve(paced=paced)  # AllRoutesResting: a node fault
        try:
            got = self._download(video_id, url, route, paced, start)
        except VideoError as err:
            judged = self._judge(err, route, host, paced, video_id)
            outcome = "rest" if getattr(judged, "scope", None) == "route" and \
                err.kind not in ("rate_limited", "bot_check") else err.kind
            self.routes.report(route, outcome, str(err), rest=paced, kind=judged.kind)
            if getattr(judged, "scope", None) == "route":  # another route may serve it now
                resting = self.routes.wait_s()
                judged.until = time.time() + resting if resting else 0.0
                judged.behind = None if resting else 0.0
            if judged is not err:
                raise judged from err
            raise
        except BaseException:
            self.routes.report(route, "interrupted")
            raise
        self.routes.report(route, "ok")
        self.hosts.ok(host)
        self.evidence.succeeded((route.name, host))
        self.evidence.succeeded(("*", route.name))
        if self._closed:  # finished after close(): leave nothing behind
            got.cleanup()
            raise FetchStopped("the fetcher is stopping", video_id=video_id)
        return got

    def _judge(self, err: VideoError, route: Route, host: str, paced: bool,
               video_id: str) -> YtcorpusError:
        """Whose fault, from the answer and from evidence across videos (blame.py): the
        proxy's (the route rests), the host's (it rests), or the video's (`err` as is)."""
        kind = err.kind
        if kind == "proxy":
            return RouteFault(f"route {route.name}: {err}", kind="proxy", scope="route",
                              video_id=video_id)
        if kind in ("rate_limited", "bot_check"):
            if paced:  # the route rests (RoutePool.report); others carry on
                return RouteFault(f"route {route.name}: {err}", kind=kind, scope="route",
                                  video_id=video_id)
            until = self.hosts.rest(host, f"{kind}: {err}", kind)
            return RouteFault(f"host {host}: {err}", kind=kind, scope="host", until=until,
                              video_id=video_id)
        if kind not in SUSPECT_KINDS:
            return err
        network = kind in ("network", "timeout", "unreachable")
        on_host = self.evidence.failed((route.name, host), video_id)
        anywhere = network and self.evidence.failed(("*", route.name), video_id)
        if anywhere and not on_host:  # no name, no TLS, no network to any host: offline
            self.evidence.succeeded(("*", route.name))
            why = (f"{kind} on {self.evidence.threshold} different videos and hosts in a row "
                   f"through {route.name}, no success between: {err}")
            if route.proxy:
                return RouteFault(why, kind="proxy", scope="route", video_id=video_id)
            return NodeFault(why, kind="offline", video_id=video_id)
        if not on_host:
            return err
        why = (f"{kind} on {self.evidence.threshold} different videos in a row through "
               f"{route.name} to {host}, no success between: {err}")
        self.evidence.succeeded((route.name, host))  # the next ones start a new count
        self.evidence.succeeded(("*", route.name))
        if route.proxy and network:
            return RouteFault(why, kind="proxy", scope="route", video_id=video_id)
        if paced:
            return RouteFault(why, kind="offline" if network else "node", scope="route",
                              video_id=video_id)
        kind = "offline" if network else "node"
        until = self.hosts.rest(host, why, kind)
        return RouteFault(why, kind=kind, scope="host", until=until, video_id=video_id)

    def _download(self, video_id: str, url: str, route: Route, paced: bool,
                  start: float = 0.0) -> FetchedAudio:
        ydl = self._ydl(video_id, route, paced)

        def first_request() -> None:  # the route's pace slot: the first request goes out now
            slot = self.routes.take_slot(route) if paced else start
            watch.waiting = True  # a long wait for a busy route is not a slow download
            try:
                while (left := slot - time.monotonic()) > 0:
                    watch.progress(None)  # raises once stopped (close())
                    time.sleep(min(left, 0.5))
            finally:
                watch.waiting = False
                watch.started = time.monotonic()  # the deadline counts from the request

        ydl.gate = first_request
        with self.watchdog.watch(video_id) as watch:
            try:
                info = ydl.extract_info(url, download=False)
                if info.get("_type") == "playlist":
                    entries = [e for e in (info.get("entries") or []) if e]
                    if not entries:
                        raise PermanentError("the page has no audio or video", kind="no_audio")
                    info = entries[0]
                self._check_before_download(info, video_id)
                watch.progress(None)  # stopped while extracting: do not start the download
                info = ydl.process_ie_result(info, download=True)
                watch.progress(None)
            except Exception as exc:  # yt-dlp raises DownloadError/ExtractorError with text
                self.remove_partial(video_id)
                if watch.expired and self._closed:
                    raise FetchStopped(f"download stopped: {watch.expired}",
                                       video_id=video_id) from exc
                if watch.expired:
                    raise RetryableError(f"download stopped: {watch.expired}", kind="timeout",
                                         video_id=video_id) from exc
                if isinstance(exc, VideoError):
                    raise
                raise classify(exc, video_id) from exc
        path = self._downloaded_path(info, video_id)
        fmt = {k: info.get(k) for k in ("format_id", "ext", "abr", "acodec")}
        return FetchedAudio(video_id, path, owned=True, info=_metadata(info),
                            audio_bytes=path.stat().st_size, audio_format=fmt)

    def _check_before_download(self, info: dict, video_id: str) -> None:
        if info.get("live_status") in ("is_live", "is_upcoming") or info.get("is_live"):
            raise PermanentError("live or upcoming stream", kind="live", video_id=video_id)
        duration = info.get("duration")
        if duration and self.config.max_duration and duration > self.config.max_duration:
            raise PermanentError(f"{duration:.0f} s is over the {self.config.max_duration:.0f} s"
                                 " limit", kind="too_long", video_id=video_id)
        want = self.config.language
        stated = metadata_language(info)
        if want and stated and stated != want.split("-")[0].lower():
            raise PermanentError(f"the page states language {stated!r}, not {want!r}",
                                 kind="wrong_language", video_id=video_id)

    def _downloaded_path(self, info: dict, video_id: str) -> Path:
        requested = info.get("requested_downloads") or []
        candidates = [Path(d["filepath"]) for d in requested if d.get("filepath")]
        candidates += sorted(p for p in self.work_dir.glob(f"{video_id}.*")
                             if not p.name.endswith((".part", ".ytdl")))
        for path in candidates:
            if path.exists():
                if path.stat().st_size == 0:
                    path.unlink()
                    raise PermanentError("the server answered with no data", kind="no_audio",
                                         video_id=video_id)
                return path
        raise PermanentError("the server answered with no data", kind="no_audio",
                             video_id=video_id)

    def remove_partial(self, video_id: str) -> None:
        for leftover in self.work_dir.glob(f"{video_id}.*"):
            leftover.unlink(missing_ok=True)


def _server(url: str) -> str:
    """The host (and port) a URL goes to: the unit a host's circuit rests."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # a bad port: the host alone
        return host
