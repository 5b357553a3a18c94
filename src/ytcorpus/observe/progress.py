"""What a worker is doing, for people: a live line on a terminal, a periodic one-line
summary in logs (also when idle, so a quiet worker can be told from a hung one).

The worker calls, from any thread:
    p = WorkProgress(queue_left=lambda: q.stats().pending + q.stats().processing,
                     metrics=WorkerMetrics(port))   # both optional
    p.start()
    p.video_done(audio_seconds)      p.video_failed(kind)
    p.stages(downloading=2, preparing=1, engine=8, pool_seconds=240.0)
        (or WorkProgress(sample=lambda: {"downloading": 2, ...}): read before each line)
    p.idle(True)   # nothing claimable: "idle, queue empty, polling"
    p.stop()
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from typing import Callable

log = logging.getLogger("ytcorpus.work")

WINDOW_S = 300.0          # current speed: audio finished over the last 5 minutes
QUEUE_EVERY_S = 30.0      # the queue is asked for its size at most this often


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def log_console():
    """The console the log lines go to (a RichHandler's), so the live line and log lines
    share one terminal writer; else a stderr console."""
    from rich.console import Console
    from rich.logging import RichHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            return handler.console
    return Console(stderr=True)


class WorkProgress:
    def __init__(self, *, interval: float = 60.0, terminal: bool | None = None,
                 queue_left: Callable[[], int] | None = None, metrics=None,
                 poll_interval: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 sample: Callable[[], dict] | None = None):
        self.interval = interval
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._queue_left = queue_left
        self.sample = sample  # cheap counters -> stages(**...), read before each line
        self.metrics = metrics
        self.poll_interval = poll_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = clock()
        self.videos = self.failed = 0
        self.audio_seconds = 0.0
        self._recent: deque[tuple[float, float]] = deque()  # (when, audio seconds)
        self.downloading = self.preparing = self.engine = 0
        self.pool_seconds = 0.0
        self.is_idle = False
        self._left: int | None = None
        self._left_at = -1e18

    # ---- what the worker reports ------------------------------------------------------
    def video_done(self, audio_seconds: float) -> None:
        now = self._clock()
        with self._lock:
            self.videos += 1
            self.audio_seconds += audio_seconds
            self._recent.append((now, audio_seconds))
            self.is_idle = False
        if self.metrics is not None:
            self.metrics.videos_done(1)
            self.metrics.audio_seconds(audio_seconds)

    def video_failed(self, kind: str) -> None:
        with self._lock:
            self.failed += 1
        if self.metrics is not None:
            self.metrics.failure(kind)

    def stages(self, *, downloading: int | None = None, preparing: int | None = None,
               engine: int | None = None, pool_seconds: float | None = None) -> None:
        """What is in flight now (pass only what changed)."""
        with self._lock:
            if downloading is not None:
                self.downloading = downloading
            if preparing is not None:
                self.preparing = preparing
            if engine is not None:
                self.engine = engine
            if pool_seconds is not None:
                self.pool_seconds = pool_seconds
        if self.metrics is not None and engine is not None:
            self.metrics.pool_depth(engine)

    def idle(self, idle: bool = True) -> None:
        with self._lock:
            self.is_idle = idle

    # ---- the line -----------------------------------------------------------------------
    def speed(self, now: float | None = None) -> float:
        """x realtime over the last WINDOW_S (or the worker's life, when younger)."""
        now = self._clock() if now is None else now
        with self._lock:
            while self._recent and self._recent[0][0] < now - WINDOW_S:
                self._recent.popleft()
            audio = sum(a for _, a in self._recent)
        return audio / max(1.0, min(WINDOW_S, now - self.started))

    def queue_left(self, now: float, refresh: bool = True) -> int | None:
        if (refresh and self._queue_left is not None
                and now - self._left_at >= QUEUE_EVERY_S):
            self._left_at = now
            try:
                self._left = int(self._queue_left())
            except Exception as exc:  # noqa: BLE001 - a progress line never stops work
                log.debug("queue size unavailable: %s", exc)
        return self._left

    def line(self, now: float | None = None, *, refresh: bool = True) -> str:
        """refresh=False: the last known queue size (the caller's thread must not wait
        on the database)."""
        now = self._clock() if now is None else now
        if self.sample is not None:
            try:
                self.stages(**self.sample())
            except Exception as exc:  # noqa: BLE001 - a progress line never stops work
                log.debug("stage counts unavailable: %s", exc)
        speed = self.speed(now)
        left = self.queue_left(now, refresh)
        with self._lock:
            done = (f"{self.videos:,} videos done, {self.failed:,} failed, "
                    f"{self.audio_seconds / 3600:,.2f} h audio")
            if self.is_idle and not (self.downloading or self.preparing or self.engine):
                return f"idle, queue empty, polling every {self.poll_interval:g}s | {done}"
            rate = self.videos / max(1.0, now - self.started)
            eta = f", ETA {_duration(left / rate)} at this worker's pace" if left and rate else ""
            queue = f" | queue {left:,} left{eta}" if left is not None else ""
            pool = (f" ({self.pool_seconds / 60:,.1f} min audio queued)"
                    if self.pool_seconds else "")
            return (f"{done}, {speed:,.1f}x realtime | downloading {self.downloading}, "
                    f"preparing {self.preparing}, on engine {self.engine} chunks{pool}{queue}")

    # ---- the reporting thread -------------------------------------------------------------
    def start(self) -> "WorkProgress":
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        if self.terminal:
            self._run_live()
            return
        while not self._stop.wait(self.interval):
            log.info("%s", self.line())

    def _run_live(self) -> None:
        from rich.live import Live
        from rich.text import Text

        with Live(Text(self.line()), console=log_console(), refresh_per_second=2,
                  transient=True) as live:
            while not self._stop.wait(1.0):
                live.update(Text(self.line()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("%s", self.line(refresh=False))

    def __enter__(self) -> "WorkProgress":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
