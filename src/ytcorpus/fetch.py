"""Get audio: yt-dlp (Python API) for YouTube and any http(s) URL, local files as they are.

yt-dlp, HTTP and network failures become typed errors in one place: errors.classify.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .config import FetchConfig
from .errors import PermanentError, VideoError, YtcorpusError, classify
from .prefetch import Prefetcher  # noqa: F401  (DESIGN: fetch.Prefetcher)

log = logging.getLogger(__name__)

__all__ = ["Fetcher", "FetchedAudio", "Prefetcher", "ProxyPool", "classify"]

SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

@dataclass
class FetchedAudio:
    """A downloaded (or local) audio file and what yt-dlp told about it."""

    video_id: str
    path: Path
    owned: bool  # True: a temp file of ours, deleted after use; False: the user's file
    info: dict[str, Any] = field(default_factory=dict)

    def cleanup(self) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)
            for leftover in self.path.parent.glob(f"{self.video_id}.*"):
                leftover.unlink(missing_ok=True)


class ProxyPool:
    """Round-robin proxies; one that met a 429 or bot check cools down for a while."""

    def __init__(self, proxies: tuple[str, ...] | list[str], cooldown_s: float = 300.0):
        self.proxies = list(proxies)
        self.cooldown_s = cooldown_s
        self._resting: dict[str, float] = {}
        self._order = cycle(self.proxies) if self.proxies else None
        self._lock = threading.Lock()

    def next(self) -> str | None:
        if not self._order:
            return None
        with self._lock:
            now = time.time()
            for _ in range(len(self.proxies)):
                proxy = next(self._order)
                if self._resting.get(proxy, 0) <= now:
                    return proxy
            return min(self.proxies, key=lambda p: self._resting.get(p, 0))

    def cool_down(self, proxy: str | None) -> None:
        if proxy:
            with self._lock:
                self._resting[proxy] = time.time() + self.cooldown_s


def _metadata(info: dict) -> dict[str, Any]:
    lang = info.get("language")
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


def _deno_path() -> str | None:
    here = Path(sys.executable).parent / "deno"
    return str(here) if here.exists() else shutil.which("deno")


class _QuietLogger:
    def debug(self, msg: str) -> None:
        log.debug(msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


class Fetcher:
    """Download bestaudio for one video to `work_dir/<video_id>.<ext>`."""

    def __init__(self, config: FetchConfig | None = None):
        self.config = config or FetchConfig()
        self.work_dir = Path(self.config.work_dir)
        self.proxies = ProxyPool(self.config.proxies, self.config.proxy_cooldown_s)
        self._local = threading.local()  # one YoutubeDL per thread and proxy (~50 ms to build)

    def _ydl(self, video_id: str, proxy: str | None):
        from yt_dlp import YoutubeDL

        cache = self._local.__dict__.setdefault("ydls", {})
        if proxy not in cache:
            cache[proxy] = YoutubeDL(self.options(video_id, proxy))
        ydl = cache[proxy]
        ydl.params["outtmpl"]["default"] = str(self.work_dir / f"{video_id}.%(ext)s")
        return ydl

    def options(self, video_id: str, proxy: str | None = None) -> dict[str, Any]:
        c = self.config
        opts: dict[str, Any] = {
            "format": "bestaudio/best",
            "outtmpl": str(self.work_dir / f"{video_id}.%(ext)s"),
            "postprocessors": [],
            "noplaylist": True,
            "playlist_items": "1",
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _QuietLogger(),
            "socket_timeout": c.socket_timeout,
            "retries": c.retries,
            "fragment_retries": c.retries,
            "extractor_retries": 1,
            "overwrites": True,
            "continuedl": False,
            "cachedir": False,
        }
        if c.cookies:
            opts["cookiefile"] = c.cookies
        if proxy:
            opts["proxy"] = proxy
        if c.rate_limit:
            from yt_dlp.utils import parse_bytes

            opts["ratelimit"] = parse_bytes(c.rate_limit)
        if c.sleep_interval:
            opts["sleep_interval"] = c.sleep_interval
            opts["max_sleep_interval"] = max(c.max_sleep_interval, c.sleep_interval)
        if c.player_client:
            opts["extractor_args"] = {"youtube": {"player_client": c.player_client.split(",")}}
        deno = c.js_runtime or _deno_path()
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
        self.work_dir.mkdir(parents=True, exist_ok=True)
        proxy = self.proxies.next()
        try:
            return self._download(video_id, url, proxy)
        except VideoError as err:
            if err.kind in ("rate_limited", "bot_check"):
                self.proxies.cool_down(proxy)
            raise

    def _download(self, video_id: str, url: str, proxy: str | None) -> FetchedAudio:
        ydl = self._ydl(video_id, proxy)
        try:
            info = ydl.extract_info(url, download=False)
            if info.get("_type") == "playlist":
                entries = [e for e in (info.get("entries") or []) if e]
                if not entries:
                    raise PermanentError("the page has no audio or video", kind="no_audio")
                info = entries[0]
            self._check_before_download(info, video_id)
            info = ydl.process_ie_result(info, download=True)
        except VideoError:
            self.remove_partial(video_id)
            raise
        except Exception as exc:  # yt-dlp raises DownloadError/ExtractorError with text
            self.remove_partial(video_id)
            raise classify(exc, video_id) from exc
        path = self._downloaded_path(info, video_id)
        return FetchedAudio(video_id, path, owned=True, info=_metadata(info))

    def _check_before_download(self, info: dict, video_id: str) -> None:
        if info.get("live_status") in ("is_live", "is_upcoming") or info.get("is_live"):
            raise PermanentError("live or upcoming stream", kind="live", video_id=video_id)
        duration = info.get("duration")
        if duration and self.config.max_duration and duration > self.config.max_duration:
            raise PermanentError(f"{duration:.0f} s is over the {self.config.max_duration:.0f} s"
                                 " limit", kind="too_long", video_id=video_id)

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


def download_command(args) -> int:
    """`ytcorpus download`: save audio files, with a progress bar; no queue."""
    from rich.progress import Progress

    from .config import build
    from .ids import parse_source

    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise YtcorpusError(f"cannot create {out}: {exc.strerror}") from exc
    fetcher = Fetcher(build(FetchConfig, work_dir=str(out)))
    failed = 0
    with Progress(transient=False) as progress:
        task = progress.add_task("downloading", total=len(args.sources))
        for source in args.sources:
            try:
                video_id, url = parse_source(source)
                existing = [p for p in out.glob(f"{video_id}.*") if not p.name.endswith(".part")]
                if args.skip_existing and existing:
                    progress.console.print(f"skip {source}: {existing[0]} exists")
                elif url.startswith("file://"):
                    src = Path(unquote(urlsplit(url).path))
                    dest = out / f"{video_id}{src.suffix}"
                    shutil.copyfile(src, dest)
                    progress.console.print(f"ok   {source} -> {dest}")
                else:
                    got = fetcher.fetch(video_id, url)
                    progress.console.print(f"ok   {source} -> {got.path}")
            except YtcorpusError as exc:
                failed += 1
                progress.console.print(f"[red]fail[/] {source}: {exc.kind}: {exc}")
            progress.advance(task)
    if failed:
        print(f"{failed} of {len(args.sources)} failed", file=sys.stderr)
    return 1 if failed else 0

