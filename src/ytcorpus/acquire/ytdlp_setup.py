"""yt-dlp as a library, process-wide: its JS runtime, its logger, the pace gate on its
first request, extractor warm-up and plugin folders. The Fetcher (acquire/ytdlp.py) uses
these; nothing here knows about videos or routes."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from pathlib import Path

log = logging.getLogger("ytcorpus.acquire.ytdlp")


def deno_path() -> str | None:
    here = Path(sys.executable).parent / "deno"
    return str(here) if here.exists() else shutil.which("deno")


class QuietLogger:
    def debug(self, msg: str) -> None:
        log.debug(msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def progress_hook(d: dict) -> None:
    """yt-dlp's progress hook: feeds the download's Watch (raises once it is stopped)."""
    from .deadline import _local

    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.progress(d.get("downloaded_bytes"))


_gated: list = []


def gated_ydl_class():
    """YoutubeDL whose next HTTP request first calls `gate` (once): the pace slot waits
    right before the request really goes out, not before yt-dlp's own set-up work."""
    if not _gated:
        from yt_dlp import YoutubeDL

        class GatedYoutubeDL(YoutubeDL):
            gate = None

            def urlopen(self, req):
                gate, self.gate = self.gate, None
                if gate is not None:
                    gate()
                return super().urlopen(req)

        _gated.append(GatedYoutubeDL)
    return _gated[0]


_warm = threading.Lock()
_warmed = False


def warm_extractors() -> None:
    """yt-dlp compiles each extractor's URL pattern on its first use (~0.5 s): do it before
    a pace slot starts, so the slot is when the first request really goes out."""
    global _warmed
    with _warm:
        if not _warmed:
            from yt_dlp.extractor import gen_extractor_classes

            for ie in gen_extractor_classes():
                ie.suitable("http://127.0.0.1/")
            _warmed = True


_plugins_loaded: set[str] = set()


def load_plugins(dirs: tuple[str, ...] | list[str]) -> None:
    """yt-dlp plugin folders (PO-token providers, extractors) are process-wide in yt-dlp."""
    new = [str(Path(d).expanduser()) for d in dirs if str(Path(d).expanduser())
           not in _plugins_loaded]
    if not new:
        return
    from yt_dlp.globals import plugin_dirs
    from yt_dlp.plugins import load_all_plugins

    _plugins_loaded.update(new)
    plugin_dirs.value = [*sorted(_plugins_loaded), "default"]
    load_all_plugins()

