"""The worker's stages over local files, without a queue (for `ytcorpus transcribe`,
benchmarks, and engines' whole-audio `transcribe`).

    transcribe_files(engine, paths, *, prepare_threads=None, max_seconds=None,
                     ordered=True, max_duration=None, language=None)
        -> Iterator[tuple[str, Transcript | Exception]]

Paths are decoded and chunked in `prepare_threads` threads (default: the cores this
process may use, less one), chunks of all files share engine batches, memory is bounded
by `max_seconds` of audio in flight (default: 4 batches of 30 s, at least 10 minutes).
Results come in input order (`ordered=True`) or as each file finishes; a file that
failed yields its exception (a typed ytcorpus error) and the others go on.

    transcribe_arrays(engine, audios) -> list[Transcript]

the same for in-memory 16 kHz arrays, synchronously, on the calling thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..core.models import Transcript
from ..acquire.prefetch import Prefetcher
from .vad import SAMPLE_RATE, stream_speech
from .batch import EngineLoop
from .chunks import MAX_CHUNK_S, Chunk, Video, cut_chunks
from .pool import ChunkPool
from .prepare import (Prepared, PrepareStage, default_prepare_threads, noted_regions,
                      one_blas_thread)
from .write import Writer, _transcript_builder

_END = object()


def want_word_times(engine: Any) -> None:
    """Subtitles time each cue: engines that can give word times (an optional
    `word_timestamps` attribute, not part of the plugin contract) give them. Without it
    a segment's time is its chunk's speech shared by length (the CTranslate2 engine: the
    alignment pass costs 10-20% on CPU). --diarize does not ask for them: splitting
    segments at changes of speaker by words' times shared by length scored better
    against the reference turns than by aligned times (bench/diarize.py), at no cost."""
    if hasattr(engine, "word_timestamps"):
        engine.word_timestamps = True


def pool_seconds(engine: Any, max_seconds: float | None = None) -> float:
    """The audio-seconds bound: room for the batch on the engine and the next ones."""
    floor = 2 * max(1, int(engine.batch_size)) * MAX_CHUNK_S
    return max(floor, max_seconds or max(600.0, 4 * max(1, int(engine.batch_size)) * MAX_CHUNK_S))


def transcribe_files(engine: Any, paths: Iterable[str], *, prepare_threads: int | None = None,
                     max_seconds: float | None = None, ordered: bool = True,
                     max_duration: float | None = None, language: str | None = None,
                     stats: dict | None = None, diarize: bool = False,
                     ) -> Iterator[tuple[str, Transcript | Exception]]:
    """See the module docstring; `diarize`: speakers on the segments (ytcorpus.speakers).
    `stats`, when given, receives the pool's peak seconds
    and the batch sizes the engine got (benchmarks and tests read them)."""
    pool = ChunkPool(pool_seconds(engine, max_seconds))
    if stats is not None:
        stats["pool"] = pool  # live: tests watch it
    stop = threading.Event()
    out: queue.Queue = queue.Queue()
    order: list[Video] = []

    def videos() -> Iterator[Video]:
        for path in paths:
            video = Video(key=str(path), source=str(path), path=str(path))
            order.append(video)
            pool.expect()
            yield video
        pool.source_idle(True)

    def deliver(done: list, failed: list) -> None:
        for video, result in [*done, *failed]:
            out.put((video, result))

    threads = max(1, prepare_threads or default_prepare_threads())
    inputs = Prefetcher(videos(), lambda v: v, threads=1, max_ahead=threads + 1,
                        name="files")
    errors: list[BaseException] = []

    def fail_all(exc: BaseException) -> None:  # re-raised on the caller's thread
        errors.append(exc)
        stop.set()
        pool.abort()

    writer = Writer(engine, deliver, target_language=language, release=pool.release).start()
    stage = PrepareStage(inputs, pool, engine, _Sink(writer, fail_all), threads=threads,
                         stop=stop, max_duration=max_duration, diarize=diarize)
    loop = EngineLoop(engine, pool, writer.results, stop, writer_releases=True)

    def engine_thread() -> None:
        try:
            loop.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            fail_all(exc)
        finally:
            writer.finish()
            out.put(_END)

    with one_blas_thread():
        stage.start()
        runner = threading.Thread(target=engine_thread, name="engine", daemon=True)
        runner.start()
        try:
            yield from _results(out, order, ordered)
            if errors:
                raise errors[0]
        finally:
            stop.set()
            pool.abort()
            inputs.stop(timeout=1.0)
            runner.join(timeout=5.0)
            if stats is not None:
                stats.update(peak_seconds=pool.peak, max_seconds=pool.max_seconds,
                             batches=list(loop.batches), engine_s=loop.busy_s)


class _Sink:
    """The prepare threads report to the writer; a broken path iterator stops the run."""

    def __init__(self, writer: Writer, fatal):
        self.writer, self.fatal = writer, fatal

    def prepared(self, video, info) -> None:
        self.writer.prepared(video, info)

    def failed(self, video, error) -> None:
        self.writer.failed(video, error)


def _results(out: queue.Queue, order: list[Video], ordered: bool):
    finished: dict[Video, Any] = {}
    next_index = 0
    while True:
        got = out.get()
        if got is _END:
            break
        video, result = got
        if not ordered:
            yield video.key, result
            continue
        finished[video] = result
        while next_index < len(order) and order[next_index] in finished:
            v = order[next_index]
            yield v.key, finished.pop(v)
            next_index += 1
    for video, result in finished.items():  # only when stopped early
        yield video.key, result


def transcribe_arrays(engine: Any, audios: Sequence[np.ndarray]) -> list[Transcript]:
    """Whole 16 kHz arrays -> Transcripts: VAD, chunks, shared batches, reassembly."""
    build = _transcript_builder()
    prepare = getattr(engine, "prepare", None)
    videos, infos, chunks = [], [], []
    for i, audio in enumerate(audios):
        video = Video(key=str(i))
        n, speech, regions = 0, 0.0, []
        speech_stream = noted_regions(stream_speech([np.asarray(audio, np.float32)]), regions)
        for samples, spans in cut_chunks(speech_stream):
            item = prepare(samples) if prepare is not None else samples
            chunks.append(Chunk(video, n, item, spans, samples.size / SAMPLE_RATE))
            n += 1
            speech += samples.size / SAMPLE_RATE
        videos.append(video)
        infos.append(Prepared(audio.size / SAMPLE_RATE, speech, n, regions))
    segments: dict[Video, dict[int, list]] = {v: {} for v in videos}
    loop = EngineLoop(engine, ChunkPool(float("inf")), lambda pairs: None, threading.Event())
    size = max(1, int(engine.batch_size))
    for k in range(0, len(chunks), size):
        batch = chunks[k:k + size]
        if loop.detects:
            loop._detect_languages(batch)
        results = loop.guard.run([(c.item, c.video.language) for c in batch],
                                 [c.video for c in batch])
        for c, result in zip(batch, results):
            if isinstance(result, BaseException):
                raise result
            segments[c.video][c.index] = c.restore(result)
    return [build(v, [s for i in range(info.chunks) for s in segments[v][i]], info, engine)
            for v, info in zip(videos, infos)]
