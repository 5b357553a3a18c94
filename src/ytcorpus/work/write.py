"""The writer: one thread that reassembles each video's chunk results on its original
timeline, turns them into a Transcript (ytcorpus.quality.build_transcript), and hands
finished videos, a group at a time, to a `deliver(done, failed)` function: the worker's
stores them in one transaction per group (QueueStore), `transcribe`'s yields them.

Events come from the prepare threads (a video is fully chunked, or failed) and from the
engine loop (chunk results), in any order; only this thread touches the assemblies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.errors import DatabaseUnavailableError, video_error
from ..core.langtag import same_language
from ..core.models import Segment, Transcript
from ..quality.language import names_language
from .chunks import Chunk, Video
from .prepare import Prepared

log = logging.getLogger(__name__)

GROUP_MAX = 64  # finished videos stored in one transaction at most
_STOP = object()


@dataclass
class _Assembly:
    parts: dict[int, list[Segment]] = field(default_factory=dict)
    info: Prepared | None = None


def _transcript_builder() -> Callable[..., Transcript]:
    """The writer's way from an engine's raw segments to a Transcript (quality applied)."""
    from ..quality import build_transcript, metadata_language

    def build(video: Video, segments: list[Segment], info: Prepared, engine: Any) -> Transcript:
        language = video.language or getattr(engine, "language", None)
        fetched = video.fetched
        return build_transcript(
            segments, info.duration, language, info.speech_s,
            multilingual=bool(getattr(engine, "multilingual", False)),
            regions=info.regions,  # paragraph breaks at the VAD's long silences
            metadata_language=metadata_language(getattr(fetched, "info", None)))

    return build


class Writer:
    """Assembles videos; `deliver(done: [(Video, Transcript)], failed: [(Video, exc)])`
    runs on this thread once per group of finished videos."""

    def __init__(self, engine: Any, deliver: Callable[[list, list], None], *,
                 target_language: str | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 release: Callable[[list[Chunk]], None] | None = None):
        self.engine, self.deliver = engine, deliver
        # ChunkPool.release: chunks leave the pool's bound once their group is stored
        # (EngineLoop(writer_releases=True) leaves that to this thread)
        self.release = release
        self.storing = False
        self.backlog_s = 0.0  # speech seconds of chunk results not yet stored (tests, bench)
        self._backlog_lock = threading.Lock()
        self.target_language = target_language
        self.on_error = on_error
        self._events: queue.Queue = queue.Queue()
        self._open: dict[Video, _Assembly] = {}
        self._build = _transcript_builder()
        self.thread = threading.Thread(target=self._run, name="writer", daemon=True)

    # ---- called from other threads --------------------------------------------------
    def prepared(self, video: Video, info: Prepared) -> None:
        self._events.put(("prepared", video, info))

    def failed(self, video: Video, error: BaseException) -> None:
        video.failed = True
        self._events.put(("failed", video, error))

    def results(self, pairs: list[tuple[Chunk, Any]]) -> None:
        with self._backlog_lock:
            self.backlog_s += sum(chunk.seconds for chunk, _ in pairs)
        self._events.put(("results", pairs, None))

    def _released(self, chunks: list[Chunk]) -> None:
        with self._backlog_lock:
            self.backlog_s = max(0.0, self.backlog_s - sum(c.seconds for c in chunks))
        if self.release is not None:
            self.release(chunks)

    def start(self) -> Writer:
        self.thread.start()
        return self

    def finish(self, timeout: float | None = None) -> None:
        """Handle every event sent so far, deliver, and end the thread."""
        self._events.put(_STOP)
        self.thread.join(timeout)

    # ---- the thread ---------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            done: list = []
            failed: list = []
            taken: list[Chunk] = []  # chunk results handled in this group
            event = self._events.get()
            while True:
                if event is _STOP:
                    stop = True
                    break
                if event[0] == "results":
                    taken.extend(chunk for chunk, _ in event[1])
                self._handle(event, done, failed)
                if len(done) + len(failed) >= GROUP_MAX:
                    break
                try:
                    event = self._events.get_nowait()
                except queue.Empty:
                    break
            try:
                if done or failed:
                    self.storing = True  # tests and the bench: the writer is in deliver
                    self.deliver(done, failed)
            except Exception as exc:  # noqa: BLE001 - the worker decides
                log.error("storing results failed: %s", exc)
                if self.on_error:
                    self.on_error(exc)
            finally:
                self.storing = False
                if taken:
                    self._released(taken)

    def _handle(self, event, done: list, failed: list) -> None:
        kind, a, b = event
        if kind == "results":
            for chunk, result in a:
                video = chunk.video
                if video.settled:
                    continue
                if isinstance(result, BaseException):
                    self._settle_failed(video, result, failed)
                elif not video.failed:  # failed: its "failed" event is on the way
                    self._open.setdefault(video, _Assembly()).parts[chunk.index] = \
                        chunk.restore(result)
                    self._maybe_done(video, done, failed)
        elif kind == "prepared":
            if not a.settled:
                self._open.setdefault(a, _Assembly()).info = b
                self._maybe_done(a, done, failed)
        elif kind == "failed" and not a.settled:
            self._settle_failed(a, b, failed)

    def _settle_failed(self, video: Video, error: BaseException, failed: list) -> None:
        self._open.pop(video, None)
        video.failed = video.settled = True
        failed.append((video, error))

    def _maybe_done(self, video: Video, done: list, failed: list) -> None:
        asm = self._open[video]
        if asm.info is None or len(asm.parts) < asm.info.chunks:
            return
        del self._open[video]
        video.settled = True
        segments = [s for i in range(asm.info.chunks) for s in asm.parts[i]]
        try:
            transcript = self._build(video, segments, asm.info, self.engine)
        except Exception as exc:  # noqa: BLE001 - a quality-stage bug fails one video
            log.exception("building the transcript of %s failed", video.key)
            failed.append((video, exc))
            return
        if (self.target_language and transcript.language
                and names_language(getattr(transcript, "language_source", "model"))
                and not same_language(transcript.language, self.target_language)):
            # a language the model or the metadata named; the signals of an English-only
            # model only flag the row (language_uncertain), they never fail it
            failed.append((video, video_error(
                "wrong_language", f"spoken language {transcript.language!r}, not the "
                f"target {self.target_language!r}", video.key)))
            return
        done.append((video, transcript))


class QueueStore:
    """The worker's `deliver`: token counts for the group, one complete_many
    transaction, failures charged (or released when the node is at fault), temp audio
    deleted, leases dropped from the held set.

    A database outage is the node's: each write waits for the database (the group stays
    here, stored when it returns; the writer's chunks keep the pool full, so the engine
    loop stops, not memory), tripping `circuit`, until `give_up(seconds waited)` says
    stop (then DatabaseUnavailableError goes to the worker: exit 75)."""

    def __init__(self, queue, name: str, engine: Any, held, *, metrics: Any = None,
                 fault_of: Callable[[BaseException], str] | None = None,
                 progress: Any = None, circuit: Any = None,
                 give_up: Callable[[float], bool] | None = None,
                 pause: Callable[[float], Any] | None = None):
        self.queue, self.name, self.engine, self.held = queue, name, engine, held
        self.metrics, self.fault_of = metrics, fault_of
        self.progress = progress  # ytcorpus.progress.WorkProgress
        self.circuit, self.give_up = circuit, give_up
        self.pause = pause or time.sleep
        self.waited_s = 0.0  # time spent waiting for the database (tests, logs)
        self.completed = self.failed = self.released = 0
        self.audio_seconds = 0.0

    def deliver(self, done: list, failed: list) -> None:
        from ..core.tokens import count_tokens_batch

        tokens = count_tokens_batch([t.text for _, t in done]) if done else []
        results = [(v.key, self._result(v, t, n)) for (v, t), n in zip(done, tokens)]
        stored = self._patiently(lambda: self.queue.complete_many(self.name, results)) \
            if results else []
        for (video_id, result), ok in zip(results, stored):
            if ok:
                self.completed += 1
                self.audio_seconds += result.duration_seconds
                log.info("completed %s: %.1f s audio, %.1fx realtime, %d tokens%s", video_id,
                         result.duration_seconds, result.speed_ratio or 0, result.tokens or 0,
                         " (no speech)" if "no_speech" in result.flags else "")
                if self.metrics is not None:
                    self.metrics.videos_done(1)
                    self.metrics.audio_seconds(result.duration_seconds)
                if self.progress is not None:
                    self.progress.video_done(result.duration_seconds)
            else:
                log.warning("lease of %s was lost before it was stored; another worker "
                            "has it now", video_id)
        for video, error in failed:
            self._patiently(lambda: self._fail(video, error))  # noqa: B023 - called now
        finished = [v for v, _ in done] + [v for v, _ in failed]
        for video in finished:
            if video.fetched is not None:
                video.fetched.cleanup()
        self.held.remove(v.key for v in finished)

    def _patiently(self, write: Callable[[], Any]) -> Any:
        """Run a write (safe to repeat: the queue guards each by who holds the row),
        waiting out database outages of any length unless give_up() says stop."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return write()
            except DatabaseUnavailableError as exc:
                if self.circuit is not None:
                    self.circuit.trip(f"database: {exc}")
                if self.give_up is not None and self.give_up(waited):
                    raise
                log.warning("finished transcripts wait in the worker until the database "
                            "is back (trying again in %.0f s): %s", delay, exc)
            self.pause(delay)
            self.waited_s += delay
            waited += delay
            delay = min(30.0, delay * 2)

    def _fail(self, video, error: BaseException) -> None:
        if self.fault_of is not None and self.fault_of(error) == "node":
            self.queue.release(self.name, [video.key])  # not the video's fault: uncharged
            self.released += 1
            log.warning("released %s (node fault, not charged): %s", video.key, error)
            return
        status = self.queue.fail(self.name, video.key, error)
        self.failed += 1
        kind = getattr(error, "kind", type(error).__name__)
        if self.metrics is not None:
            self.metrics.failure(kind)
        if self.progress is not None:
            self.progress.video_failed(kind)
        log.warning("%s %s: %s: %s", "retry later" if status == "pending" else "error",
                    video.key, kind, error)

    def _result(self, video, t: Transcript, n_tokens: int):
        from ..core.models import Result

        info = getattr(video.fetched, "info", None) or {}
        extra = {k: getattr(t, k) for k in ("quality", "language_source")
                 if getattr(t, k, None) is not None and k in Result.__dataclass_fields__}
        if "license_source" in Result.__dataclass_fields__ and info.get("license_source"):
            extra["license_source"] = info["license_source"]
        for k in ("audio_bytes", "audio_format"):  # what the download cost (fetch.py)
            if getattr(video.fetched, k, None) is not None and k in Result.__dataclass_fields__:
                extra[k] = getattr(video.fetched, k)
        return Result(
            transcript=t.text, segments=t.segments, duration_seconds=round(t.duration, 3),
            processing_time_seconds=round(max(video.engine_s, 1e-4), 4),
            language=t.language, model=self.engine.model_name, tokens=n_tokens,
            title=info.get("title"), channel=info.get("channel"), license=info.get("license"),
            flags=t.flags, **extra)
