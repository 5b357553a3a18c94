"""The engine loop: exactly `batch_size` chunks from any videos as soon as that many are
ready (fewer only when nothing more is coming), one `transcribe_chunks` call, results to
the writer. It never touches the database, a tokenizer or a download.

Multilingual engines: the first chunk of every video in a batch goes through one batched
`detect_language` call, and each chunk is transcribed in its video's language.

Failures go through a guard (`run(items) -> one result or exception per item`, with a
`batch_size` of its own): the resilience helper's EngineGuard when present
(ytcorpus.work.guard), else `BasicGuard` below: out-of-memory halves the batch (after
the exception is dropped and the cache emptied) and it grows back after a run of good
batches; any other failure is charged to the batch's videos.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from typing import Any, Callable

from ..engines.base import EngineContractError, accepts_languages, check_results
from ..errors import EngineError
from .chunks import Chunk
from .pool import ChunkPool

log = logging.getLogger(__name__)

OOM_MARKERS = ("out of memory", "cuda_error_out_of_memory", "cudaerrormemoryallocation",
               "std::bad_alloc", "failed to allocate", "cublas_status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError, CTranslate2's and CUDA's allocation failures."""
    if type(exc).__name__ in ("OutOfMemoryError", "MemoryError"):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in OOM_MARKERS)


def free_device_memory() -> None:
    """Called outside any except block, so the failed batch's tensors are unreachable."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort
            pass


class _WithLanguages:
    """Engine view whose items are (item, language) pairs, so a guard that splits a
    batch keeps each chunk with its language."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.name, self.model_name = engine.name, engine.model_name
        self.device, self.batch_size = engine.device, engine.batch_size
        self._languages = accepts_languages(engine)

    def transcribe_chunks(self, pairs: list) -> list:
        items = [p[0] for p in pairs]
        if self._languages and any(p[1] for p in pairs):
            got = self.engine.transcribe_chunks(items, languages=[p[1] for p in pairs])
        else:
            got = self.engine.transcribe_chunks(items)
        return check_results(self.engine, items, got)


class BasicGuard:
    """OOM: halve (down to 1), split the batch, grow back after `grow_after` good batches.
    Other errors: one EngineError per item. Contract violations stop the worker."""

    def __init__(self, engine: Any, grow_after: int = 20):
        self.engine = engine
        self.max_batch = self.batch_size = max(1, int(engine.batch_size))
        self.grow_after = grow_after
        self._good = 0

    def run(self, items: list) -> list:
        error: BaseException | None = None
        try:
            results = check_results(self.engine, items, self.engine.transcribe_chunks(items))
        except EngineContractError:
            raise
        except Exception as exc:  # noqa: BLE001 - decided below, outside the except block
            error = exc
        if error is None:
            self._good += 1
            if self._good >= self.grow_after and self.batch_size < self.max_batch:
                self.batch_size = min(self.max_batch, self.batch_size * 2)
                self._good = 0
                log.info("batch size grows back to %d", self.batch_size)
            return results
        self._good = 0
        if is_out_of_memory(error):
            message = str(error)
            error = None  # drop the traceback (and the tensors its frames hold) first
            free_device_memory()
            if len(items) > 1:
                self.batch_size = max(1, min(self.batch_size, len(items)) // 2)
                log.warning("out of memory: batch size now %d", self.batch_size)
                step = self.batch_size
                out: list = []
                for k in range(0, len(items), step):
                    out.extend(self.run(items[k:k + step]))
                return out
            return [EngineError(f"out of memory on a single chunk: {message}")]
        text = f"{type(error).__name__}: {error}"
        return [EngineError(f"engine {self.engine.name!r} failed: {text}") for _ in items]


def make_guard(engine: Any) -> Any:
    try:
        from .guard import EngineGuard  # the resilience helper's unit, when present
    except ImportError:
        return BasicGuard(engine)
    return EngineGuard(engine)


class EngineLoop:
    """Runs on the main thread. `deliver(pairs)` gets [(chunk, segments | exception)]."""

    def __init__(self, engine: Any, pool: ChunkPool, deliver: Callable[[list], None],
                 stop: threading.Event, *, guard: Any = None, metrics: Any = None):
        self.engine, self.pool, self.deliver, self.stop = engine, pool, deliver, stop
        self.view = _WithLanguages(engine)
        self.guard = guard or make_guard(self.view)
        self.metrics = metrics
        self.detects = callable(getattr(engine, "detect_language", None)) and \
            getattr(engine, "multilingual", False)
        self.batches: list[int] = []      # sizes taken, in order (tests, bench)
        self.busy_s = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            chunks = self.pool.take(max(1, int(self.guard.batch_size)))
            if chunks is None:
                return  # the source is closed and every chunk is done
            if chunks:
                try:
                    self.run_batch(chunks)
                finally:
                    self.pool.release(chunks)

    def run_batch(self, chunks: list[Chunk]) -> None:
        self.batches.append(len(chunks))
        live = [c for c in chunks if not c.video.failed]
        if not live:
            return
        started = time.perf_counter()
        if self.detects:
            self._detect_languages(live)
        results = self.guard.run([(c.item, c.video.language) for c in live])
        elapsed = time.perf_counter() - started
        self.busy_s += elapsed
        total = sum(c.seconds for c in live) or 1.0
        for c in live:  # the batch's time, split by audio length
            c.video.engine_s += elapsed * c.seconds / total
        if self.metrics is not None:
            self.metrics.batch(len(chunks), self.guard.batch_size)
            self.metrics.engine_busy(elapsed)
        self.deliver(list(zip(live, results)))

    def _detect_languages(self, chunks: list[Chunk]) -> None:
        firsts = [c for c in chunks if c.index == 0 and c.video.language is None]
        if not firsts:
            return
        try:
            found = self.engine.detect_language([c.item for c in firsts])
        except Exception as exc:  # noqa: BLE001 - transcribing still works without it
            log.warning("language detection failed: %s", exc)
            return
        for c, language in zip(firsts, found or []):
            c.video.language = language
