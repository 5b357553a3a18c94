"""The prepare stage: decode -> VAD -> speech chunks of at most 30 s -> engine.prepare,
streamed into the chunk pool, in `--prepare-threads` threads.

Threads, not processes, by measurement (bench/feed.py; 2-core machine, 10-min webm/opus):
PyAV decodes and the Silero VAD (onnxruntime) run outside the GIL, so two threads gave
the same speed-up as two processes (1.6x vs 1.7x for decode + VAD, side by side) while
threads share the engine's `prepare` (a loaded feature extractor) and pass chunks without
pickling. Long files are decoded and chunked as a stream: one VAD window (120 s) and one
chunk per thread at most, plus what waits in the bounded pool.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from ..core.audio import iter_mono16k
from .vad import SAMPLE_RATE, stream_speech
from .chunks import MAX_CHUNK_S, Chunk, Video, cut_chunks
from .pool import ChunkPool

log = logging.getLogger(__name__)


def default_prepare_threads() -> int:
    """The cores this process may use, less one (for the engine loop), at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores - 1)


PREPARE_NICE = 10  # how much lower than the engine thread the prepare threads run


def lower_priority(nice: int = PREPARE_NICE) -> None:
    """Run the calling thread `nice` steps below the rest of the process (Linux: nice is
    per thread). Prepare threads share the cores with the engine's own threads
    (CTranslate2 on CPU uses one per core): at equal priority the scheduler kept taking a
    core from the engine in mid-batch; a step below, decode and VAD fill the cores the
    engine leaves idle (bench/pipeline.py --rounds 4, 2 cores: work's x realtime against
    the bare script's, median of 4 rounds, 0.98 and 0.89 in two runs before, 1.08 and
    1.01 after)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except (AttributeError, OSError):  # not Linux, or not allowed: same priority
        pass


@contextmanager
def one_blas_thread():
    """Numpy's BLAS (OpenBLAS) at one thread while the stages run. Its matrix products here
    are small (a chunk's log-mel, speaker windows' mel bands), and each left a BLAS thread
    spinning on a core after it: speaker embeddings measured 2x their CPU time, taken
    from the engine. The prepare threads already run one per core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; nothing to limit without it
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


@dataclass
class Prepared:
    """A video fully chunked: what the writer needs besides the segments."""

    duration: float   # seconds decoded
    speech_s: float   # seconds of speech the VAD found
    chunks: int
    # the VAD's speech regions ({"start", "end"} in samples of the original timeline):
    # paragraph breaks at its long silences (quality.paragraphs); a few ints per region
    regions: list[dict] = field(default_factory=list)
    # with --diarize: who spoke when (ytcorpus.speakers.assign.Turn), else None
    turns: list | None = None


class Sink(Protocol):
    def prepared(self, video: Video, info: Prepared) -> None: ...
    def failed(self, video: Video, error: BaseException) -> None: ...
    def fatal(self, error: BaseException) -> None: ...


class Stopped(Exception):
    """The pool was aborted (the worker is stopping) while a video was being chunked."""


def _counted(blocks: Iterator[np.ndarray], total: list[int]) -> Iterator[np.ndarray]:
    for block in blocks:
        total[0] += block.size
        yield block


def noted_regions(stream: Iterator[tuple[dict, np.ndarray]],
           regions: list[dict]) -> Iterator[tuple[dict, np.ndarray]]:
    for region, audio in stream:
        regions.append({"start": int(region["start"]), "end": int(region["end"])})
        yield region, audio


def chunk_video(video: Video, engine: Any, pool: ChunkPool, *,
                max_duration: float | None = None, diarize: bool = False) -> Prepared:
    """Decode `video.path` as a stream and put its speech chunks into the pool; with
    `diarize`, embed speakers over the same speech regions and cluster them at the end
    (only the embeddings are kept: memory grows by about 1 KB per second of speech)."""
    prepare: Callable | None = getattr(engine, "prepare", None)
    samples = [0]
    blocks = _counted(iter_mono16k(str(video.path), max_duration=max_duration), samples)
    n, speech, regions = 0, 0.0, []
    speech_stream = noted_regions(stream_speech(blocks, max_chunk_s=MAX_CHUNK_S), regions)
    embedder = None
    if diarize:
        from ..speakers.embed import WindowEmbedder

        embedder = WindowEmbedder()
        speech_stream = _embedded(speech_stream, embedder)
    for audio, spans in cut_chunks(speech_stream):
        if video.failed:
            break  # the engine already failed it: decoding on is wasted work
        seconds = audio.size / SAMPLE_RATE
        item = prepare(audio) if prepare is not None else audio
        if not pool.put(Chunk(video, n, item, spans, seconds)):
            raise Stopped()
        n += 1
        speech += seconds
    turns = None
    if embedder is not None:
        from ..speakers import speaker_turns_of

        turns = speaker_turns_of(embedder.out)
    return Prepared(samples[0] / SAMPLE_RATE, speech, n, regions, turns)


def _embedded(stream: Iterator[tuple[dict, np.ndarray]],
              embedder: Any) -> Iterator[tuple[dict, np.ndarray]]:
    for region, audio in stream:
        embedder.add(int(region["start"]), audio)
        yield region, audio


class PrepareStage:
    """Threads that take downloaded videos from `inputs` (a Prefetcher whose values are
    Videos) and chunk them into the pool. The pool is closed when all threads end."""

    def __init__(self, inputs, pool: ChunkPool, engine: Any, sink: Sink, *, threads: int,
                 stop: threading.Event, max_duration: float | None = None,
                 diarize: bool = False):
        self.inputs, self.pool, self.engine, self.sink = inputs, pool, engine, sink
        self.stop, self.max_duration, self.diarize = stop, max_duration, diarize
        self._alive = threads
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, name=f"prepare-{i}", daemon=True)
                        for i in range(threads)]

    def start(self) -> PrepareStage:
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        for t in self.threads:
            t.join(timeout)

    def _run(self) -> None:
        lower_priority()
        try:
            while not self.stop.is_set():
                try:
                    got = self.inputs.get(timeout=0.5)
                except StopIteration:
                    return
                if got is None:
                    continue
                try:
                    self._one(got)
                finally:
                    self.inputs.done(got)
        finally:
            with self._lock:
                self._alive -= 1
                if self._alive == 0:
                    self.pool.close()

    def _one(self, got) -> None:
        if got.item is None:  # the source itself broke (the database is down)
            self.sink.fatal(got.error)
            return
        video: Video = got.value if got.ok else got.item
        try:
            if not got.ok:
                self.sink.failed(video, got.error)
                return
            try:
                info = chunk_video(video, self.engine, self.pool,
                                   max_duration=self.max_duration, diarize=self.diarize)
            except Stopped:
                return
            except Exception as exc:  # one video's failure is a value
                video.failed = True
                self.sink.failed(video, exc)
                return
            self.sink.prepared(video, info)
        finally:
            self.pool.produced()
