"""The chunk pool between the prepare threads and the engine loop, bounded by audio
seconds in flight (in the pool, on the engine, or transcribed and waiting for the writer
to store them: EngineLoop(writer_releases=True)), so memory stays flat whatever the
length of the videos and however long the database keeps the writer waiting.

The engine takes exactly `n` chunks as soon as that many are ready, from any videos.
It takes fewer only when nothing more is coming (no video is being prepared and the
source has nothing to give now), or when the pool is full by seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable

from .chunks import Chunk


class ChunkPool:
    def __init__(self, max_seconds: float):
        self.max_seconds = max_seconds
        self._chunks: deque[Chunk] = deque()
        self._cond = threading.Condition()
        self.in_flight = 0.0      # audio seconds held (pool + engine + writer)
        self.peak = 0.0           # the most ever held: tests and metrics read it
        self._producers = 0       # videos claimed or opened and not yet fully chunked
        self._source_idle = False  # the source had nothing to give the last time it looked
        self._closed = False      # the source is finished: nothing will ever come again
        self._aborted = False
        self._blocked_puts = 0
        self.on_depth: Callable[[int], None] | None = None  # metrics hook

    # ---- producers ----------------------------------------------------------------
    def expect(self) -> None:
        """A video is on its way (claimed or opened): its chunks will come."""
        with self._cond:
            self._producers += 1

    def produced(self) -> None:
        """A video's chunks are all in (or it failed before making any)."""
        with self._cond:
            self._producers -= 1
            self._cond.notify_all()

    def source_idle(self, idle: bool) -> None:
        with self._cond:
            self._source_idle = idle
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def put(self, chunk: Chunk) -> bool:
        """Add a chunk; blocks while the pool is full by seconds. False once aborted."""
        with self._cond:
            self._blocked_puts += 1
            try:
                while (not self._aborted and self.in_flight > 0
                       and self.in_flight + chunk.seconds > self.max_seconds):
                    self._cond.notify_all()  # the engine may be waiting for a full batch
                    self._cond.wait()
            finally:
                self._blocked_puts -= 1
            if self._aborted:
                return False
            self._chunks.append(chunk)
            self.in_flight += chunk.seconds
            self.peak = max(self.peak, self.in_flight)
            self._cond.notify_all()
            depth = len(self._chunks)
        if self.on_depth:
            self.on_depth(depth)
        return True

    # ---- the engine ---------------------------------------------------------------
    def _nothing_coming(self) -> bool:
        return self._producers <= 0 and (self._source_idle or self._closed)

    def take(self, n: int, timeout: float = 0.5) -> list[Chunk] | None:
        """Up to n chunks ([] on timeout); None when the source is closed and all is done."""
        with self._cond:
            while not self._aborted:
                ready = len(self._chunks)
                if ready >= n or (ready and (self._nothing_coming() or self._blocked_puts)):
                    return [self._chunks.popleft() for _ in range(min(n, ready))]
                if not ready and self._closed and self._producers <= 0:
                    return None
                if not self._cond.wait(timeout):
                    return []
            return None

    def release(self, chunks: list[Chunk]) -> None:
        """These chunks are done (stored by the writer, or skipped): their seconds leave
        the bound."""
        with self._cond:
            self.in_flight = max(0.0, self.in_flight - sum(c.seconds for c in chunks))
            self._cond.notify_all()

    def ready(self) -> int:
        with self._cond:
            return len(self._chunks)

    def producing(self) -> int:
        """Videos claimed or opened whose chunks are not all in yet (progress line)."""
        with self._cond:
            return max(0, self._producers)

    def abort(self) -> list[Chunk]:
        """Stop: wake everyone, refuse new chunks, return those nobody took."""
        with self._cond:
            self._aborted = True
            left = list(self._chunks)
            self._chunks.clear()
            self.in_flight = 0.0
            self._cond.notify_all()
            return left
