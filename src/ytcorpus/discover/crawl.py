"""Discovery: yt-dlp flat extraction of searches, channels and playlists into the queue.

Entries stream through yt-dlp's own playlist processing (`extract_flat='in_playlist'`,
`lazy_playlist`) and a match_filter hook that sees each one as it arrives: it filters,
batches new ids into the queue, and stops a channel re-crawl at the first run of
already-known ids (uploads come newest first), so a re-crawl costs about one page.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable, Iterable
from urllib.parse import quote_plus

from ..core.errors import YtcorpusError
from ..acquire.ytdlp import classify
from ..core.ids import is_youtube_id, youtube_url
from ..core.langtag import same_language
from ..core.models import Video
from ..quality.language import metadata_language
from ..queue import Queue

log = logging.getLogger(__name__)

CC_SEARCH_FILTER = "EgIwAQ%3D%3D"  # YouTube's "Creative Commons" search filter
ADD_BATCH = 1000


class _StopSource(Exception):
    """Raised inside yt-dlp's playlist loop to end one source early."""


class NetworkDown(YtcorpusError):
    """Several sources in a row failed on the network: the run stops (what was found so far
    is queued)."""

    kind = "network"


NETWORK_KINDS = {"network", "offline", "timeout", "server_error", "rate_limited", "bot_check"}


@dataclass(frozen=True)
class DiscoverOptions:
    min_duration: float = 60.0
    max_duration: float = 4 * 3600.0
    priority: int | None = None
    cc_only: bool = False
    language: str | None = None  # keep only videos whose metadata names this language
    dry_run: bool = False
    limit: int | None = None
    known_run: int = 10          # this many known ids in a row end an incremental crawl
    incremental: bool = True
    retries: int = 3
    retry_base_s: float = 5.0
    max_network_failures: int = 3  # sources in a row failing on the network end the run


@dataclass
class Summary:
    found: int = 0
    new: int = 0
    known: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    sources: int = 0
    total: int = 0               # sources this run will try (0: not known)
    done: int = 0                # sources finished (found, failed or stopped early)

    def line(self) -> str:
        filtered = sum(self.filtered.values())
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(self.filtered.items()))
        count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.sources:,}"
        text = (f"sources {count}: found {self.found:,}, new {self.new:,}, "
                f"already known {self.known:,}, filtered {filtered:,}"
                f"{' (' + detail + ')' if detail else ''}, failed sources {len(self.failed):,}")
        return text


def channel_url(value: str, tab: str = "videos") -> str:
    """@handle, a channel id, or any channel URL -> that channel's tab URL."""
    value = value.strip().rstrip("/")
    if value.startswith("@"):
        base = f"https://www.youtube.com/{value}"
    elif re.fullmatch(r"UC[\w-]{22}", value):
        base = f"https://www.youtube.com/channel/{value}"
    elif value.startswith(("http://", "https://", "www.", "youtube.com", "m.youtube.com")):
        if not value.startswith("http"):
            value = "https://" + value
        base = re.sub(r"/(videos|shorts|streams|live|featured|playlists|about)$", "", value)
    else:
        base = f"https://www.youtube.com/@{value}"
    return f"{base}/{tab}"


def search_url(query: str, limit: int, cc_only: bool) -> str:
    if cc_only:  # the filter only exists on the search URL form
        return f"https://www.youtube.com/results?search_query={quote_plus(query)}&sp={CC_SEARCH_FILTER}"
    return f"ytsearch{limit}:{query}"


class Discoverer:
    """Runs sources through yt-dlp and feeds what passes the filters into the queue."""

    def __init__(self, queue: Queue, options: DiscoverOptions,
                 ydl_factory: Callable[[dict], Any] | None = None,
                 on_progress: Callable[[Summary], None] | None = None):
        self.queue, self.options = queue, options
        self._factory = ydl_factory or _default_ydl
        self._progress = on_progress
        self.summary = Summary()
        self._network_failures = 0  # sources in a row that failed on the network
        self._seen: set[str] = set()
        self._pending: list[Video] = []

    # ---- one source ----------------------------------------------------------------
    def run_source(self, url: str, label: str, *, incremental: bool = False,
                   priority: int | None = None) -> None:
        self.summary.sources += 1
        # after a network failure, the next source gets one try: offline, the run ends fast
        retries = 0 if self._network_failures else self.options.retries
        network_failure = None
        for attempt in range(retries + 1):
            state = {"known_run": 0, "count": 0}
            try:
                self._extract(url, label, state, incremental, priority)
                break
            except _StopSource:
                break
            except YtcorpusError as exc:
                self.summary.failed[label] = str(exc)
                break
            except Exception as exc:  # yt-dlp DownloadError/ExtractorError
                err = classify(exc)
                if err.retryable and attempt < retries:
                    delay = self.options.retry_base_s * (2 ** attempt)
                    log.warning("%s: %s (%s); retrying in %.0f s", label, err.kind, err, delay)
                    time.sleep(delay)
                    continue
                self.summary.failed[label] = f"{err.kind}: {err}"
                log.warning("source failed: %s: %s: %s", label, err.kind, err)
                if err.kind in NETWORK_KINDS:
                    network_failure = err
                break
        self.flush()
        self.summary.done += 1
        if self._progress:
            self._progress(self.summary)
        if network_failure is None:
            self._network_failures = 0
        else:
            self._network_failed(network_failure)

    def _network_failed(self, err) -> None:
        self._network_failures += 1
        if self._network_failures >= self.options.max_network_failures:
            self.flush()
            raise NetworkDown(f"stopped: {self._network_failures} sources in a row failed on "
                              f"the network (last: {err.kind}: {err}); check the connection "
                              "or proxies and run again (what was found is queued)")

    def _extract(self, url, label, state, incremental, priority) -> None:
        def on_entry(info: dict, incomplete: bool = True) -> str | None:
            if info.get("playlist_index") is None:
                return None  # the playlist itself: let yt-dlp go on to its entries
            self._take(dict(info), label, state, incremental, priority)
            return "collected"  # yt-dlp keeps nothing: memory stays flat

        params = {
            "extract_flat": "in_playlist", "lazy_playlist": True, "quiet": True,
            "no_warnings": True, "skip_download": True, "match_filter": on_entry,
            "ignoreerrors": False, "socket_timeout": 30, "extractor_retries": 1,
            "logger": _YdlLog(),
        }
        if self.options.limit:
            params["playlistend"] = self.options.limit
        with self._factory(params) as ydl:
            ydl.extract_info(url, download=False)

    def _take(self, entry: dict, label, state, incremental, priority) -> None:
        video_id = entry.get("id")
        if not video_id or not is_youtube_id(str(video_id)):
            return  # a channel or playlist inside a search: not a video
        self.summary.found += 1
        state["count"] += 1
        if video_id in self._seen or self.queue.known([video_id]):
            self.summary.known += 1
            state["known_run"] += 1
            if incremental and self.options.incremental and \
                    state["known_run"] >= self.options.known_run:
                raise _StopSource
            return
        self._seen.add(video_id)
        reason = self._reject(entry)
        license = None
        if reason is None and (self.options.cc_only or self.options.language):
            # listings carry neither licence nor language, and a search filter is not the
            # video's licence: read the video's own page (only for new, kept ids)
            page = self._page(video_id)
            license = (page or {}).get("license")
            reason = self._page_reject(page, license)
        if reason:  # never queued, so seen again on every re-crawl: neutral for the run
            self.summary.filtered[reason] = self.summary.filtered.get(reason, 0) + 1
            return
        state["known_run"] = 0
        self.summary.new += 1
        self._pending.append(Video(
            video_id=video_id, url=youtube_url(video_id), title=entry.get("title"),
            duration_seconds=_float(entry.get("duration")),
            priority=priority if priority is not None else (self.options.priority or 0),
            source=label, channel=entry.get("channel") or entry.get("uploader"),
            license=license, license_source="page" if license else None))
        if len(self._pending) >= ADD_BATCH:
            self.flush()
        if self._progress:
            self._progress(self.summary)

    def _reject(self, entry: dict) -> str | None:
        if entry.get("live_status") in ("is_live", "is_upcoming", "post_live"):
            return "live"
        if entry.get("availability") in ("private", "premium_only", "subscriber_only",
                                         "needs_auth"):
            return "unavailable"
        duration = _float(entry.get("duration"))
        if duration is None:
            return "no_duration"
        if duration < self.options.min_duration:
            return "too_short"
        if duration > self.options.max_duration:
            return "too_long"
        return None

    def _page_reject(self, page: dict | None, license: str | None) -> str | None:
        if self.options.cc_only and "creative commons" not in (license or "").lower():
            return "not_cc"
        spoken = metadata_language(page)
        if self.options.language and spoken and not same_language(spoken,
                                                                  self.options.language):
            return "other_language"  # unknown: kept, the worker decides after transcribing
        return None

    def _page(self, video_id: str) -> dict | None:
        """The video's own page (yt-dlp info, unprocessed), None when it cannot be read."""
        params = {"quiet": True, "no_warnings": True, "skip_download": True,
                  "logger": _YdlLog()}
        try:
            with self._factory(params) as ydl:
                return ydl.extract_info(youtube_url(video_id), download=False, process=False)
        except Exception as exc:  # noqa: BLE001 - an unread licence is simply not CC
            log.debug("page of %s unreadable: %s", video_id, exc)
            return None

    def flush(self) -> None:
        if self._pending and not self.options.dry_run:
            self.queue.add(self._pending)
        self._pending = []

    # ---- source kinds --------------------------------------------------------------
    def search(self, queries: Iterable[str], priority: int | None = None) -> None:
        limit = self.options.limit or 100
        for query in queries:
            self.run_source(search_url(query, limit, self.options.cc_only), f"search:{query}",
                            priority=priority)

    def channels(self, channels: Iterable[str], *, shorts: bool = False, live: bool = False,
                 priority: int | None = None) -> None:
        for channel in channels:
            tabs = ["videos"] + (["shorts"] if shorts else []) + (["streams"] if live else [])
            for tab in tabs:
                self.run_source(channel_url(channel, tab), f"channel:{channel}",
                                incremental=True, priority=priority)

    def playlists(self, urls: Iterable[str], priority: int | None = None) -> None:
        for url in urls:
            self.run_source(url, f"playlist:{url}", priority=priority)


def _float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _YdlLog:
    def debug(self, msg: str) -> None:
        log.debug(msg)

    info = warning = debug

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def _default_ydl(params: dict):
    from yt_dlp import YoutubeDL

    from ..acquire.ytdlp_setup import deno_path

    deno = deno_path()
    if deno:
        params = {**params, "js_runtimes": {"deno": {"path": deno}}}
    return YoutubeDL(params)


# ---- the built-in catalog ------------------------------------------------------------
def load_catalog(path: str | None = None) -> dict:
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise YtcorpusError(f"--catalog-file {path}: {exc}") from exc
    files = resources.files("ytcorpus.discover") / "catalog"
    catalog = json.loads((files / "queries.json").read_text(encoding="utf-8"))
    catalog["channels"] = json.loads((files / "channels.json").read_text(encoding="utf-8"))
    return catalog


def catalog_queries(catalog: dict, subjects: list[str] | None = None) -> list[tuple[str, int]]:
    """(query, priority) for every subject topic x modifier."""
    out = []
    for subject, spec in catalog.get("subjects", {}).items():
        if subjects and subject not in subjects:
            continue
        for topic in spec["topics"]:
            for modifier in catalog.get("modifiers", ["lecture"]):
                out.append((f"{topic} {modifier}", int(spec.get("priority", 0))))
    return out


def catalog_channels(catalog: dict, subjects: list[str] | None = None) -> list[dict]:
    return [c for c in catalog.get("channels", [])
            if not subjects or set(c.get("subjects", [])) & set(subjects)]
