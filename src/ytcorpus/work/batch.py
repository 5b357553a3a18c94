"""The engine loop: exactly `batch_size` chunks from any videos as soon as that many are
ready (fewer only when nothing more is coming), one `transcribe_chunks` call, results to
the writer. It never touches the database, a tokenizer or a download.

Multilingual engines: the first chunk of every video in a batch goes through one batched
`detect_language` call, and each chunk is transcribed in its video's language.

Failures go through EngineGuard (guard.py): out-of-memory halves the batch (after the
exception is dropped and the cache emptied) and it grows back after a run of good
batches; a failed batch is split to find the input at fault; a device that keeps failing
raises DeviceBrokenError (the worker exits 70) only when a known-good input fails too:
before any success that input is `known_good_item` (4 s of real speech shipped with the
package, through the engine's `prepare`). The guard's `batch_size` is the one the loop
takes from the pool.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from ..engines.base import accepts_languages, check_results
from .chunks import Chunk
from .guard import EngineGuard
from .pool import ChunkPool

log = logging.getLogger(__name__)
KNOWN_GOOD = "arctic_a0007.wav"  # CMU ARCTIC (demo_data/ARCTIC-COPYING): 4 s of speech


def known_good_item(engine: Any) -> Any:
    """A real speech chunk as the engine takes it: proof that the device still works
    when inputs fail before anything succeeded (EngineGuard's probe)."""
    import wave
    from pathlib import Path

    import numpy as np

    path = Path(__file__).resolve().parent.parent / "demo_data" / KNOWN_GOOD
    with wave.open(str(path), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)
    audio /= 32768.0
    prepare = getattr(engine, "prepare", None)
    return prepare(audio) if prepare is not None else audio


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


class EngineLoop:
    """Runs on the main thread. `deliver(pairs)` gets [(chunk, segments | exception)].

    Each chunk's audio is dropped once transcribed. writer_releases=True: the chunks
    delivered stay in the pool's bound until the writer has stored them (it calls
    pool.release), so a writer waiting on the database stops this loop, not memory."""

    def __init__(self, engine: Any, pool: ChunkPool, deliver: Callable[[list], None],
                 stop: threading.Event, *, guard: Any = None, metrics: Any = None,
                 writer_releases: bool = False):
        self.engine, self.pool, self.deliver, self.stop = engine, pool, deliver, stop
        self.writer_releases = writer_releases
        self.view = _WithLanguages(engine)
        self.guard = guard or EngineGuard(
            self.view, probe=lambda: (known_good_item(engine), None))
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
                delivered: list[Chunk] = []
                try:
                    delivered = self.run_batch(chunks)
                finally:
                    if self.writer_releases:  # the writer releases what it was given
                        given = {id(c) for c in delivered}
                        chunks = [c for c in chunks if id(c) not in given]
                    self.pool.release(chunks)

    def run_batch(self, chunks: list[Chunk]) -> list[Chunk]:
        """Transcribe and deliver; returns the chunks delivered."""
        self.batches.append(len(chunks))
        live = [c for c in chunks if not c.video.failed]
        if not live:
            return []
        started = time.perf_counter()
        if self.detects:
            self._detect_languages(live)
        results = self.guard.run([(c.item, c.video.language) for c in live],
                                 [c.video for c in live])
        for c in live:  # transcribed: the audio (or features) is no longer needed
            c.item = None
        elapsed = time.perf_counter() - started
        self.busy_s += elapsed
        total = sum(c.seconds for c in live) or 1.0
        for c in live:  # the batch's time, split by audio length
            c.video.engine_s += elapsed * c.seconds / total
        if self.metrics is not None:
            self.metrics.batch(len(chunks), self.guard.batch_size)
            self.metrics.engine_busy(elapsed)
        self.deliver(list(zip(live, results)))
        return live

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
