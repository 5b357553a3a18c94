"""One worker process (one GPU, or the CPU): the stages and what holds them together.

    claim + download (threads) -> prepare (threads: decode, VAD, chunks, engine.prepare)
    -> chunk pool (bounded by audio seconds) -> engine loop (this thread)
    -> writer (thread: reassemble, quality, tokens, one transaction per group)

A heartbeat thread renews the leases of everything held. SIGTERM/SIGINT: stop claiming,
finish the batch on the engine, store what is finished, release the rest, exit 0.
Exit 75: --exit-when-empty stopped because the node is blocked (circuit open);
exit 70: the device is broken (the supervisor restarts the process).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from ..acquire.prefetch import Prefetcher
from ..core.errors import (DatabaseUnavailableError, DeviceBrokenError, YtcorpusError,
                           fault_of, redact)
from .batch import EngineLoop
from .circuit import Circuit
from .download import Claimer, Downloader, Held
from .pipeline import pool_seconds
from .pool import ChunkPool
from .prepare import PrepareStage, default_prepare_threads, one_blas_thread
from .write import QueueStore, Writer

log = logging.getLogger(__name__)

EXIT_BLOCKED = 75
EXIT_DEVICE_BROKEN = 70
STOP_CLAIM_WAIT_S = 60.0  # a claim blocked in the database at stop: wait this long for it


def _queue_timing(queue, config) -> None:
    """The queue's retry backoff and the wait of rows put behind for node faults, from
    the worker's settings (YTCORPUS_RETRY_BASE_S, YTCORPUS_NODE_BACKOFF_S)."""
    if hasattr(config, "retry_base_s"):
        queue.retry_base_s = config.retry_base_s
    if hasattr(config, "node_backoff_s"):
        queue.node_behind_s = config.node_backoff_s


def worker_name(prefix: str | None, device: str) -> str:
    """Unique per process life: a restarted worker never completes an old claim."""
    base = prefix or f"{socket.gethostname()}-{device.replace(':', '')}"
    return f"{base}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def _metrics(port: int | None) -> Any:
    """Prometheus gauges (ytcorpus.metrics); a port in use is a ConfigError."""
    if not port:
        return None
    from ..observe.metrics import WorkerMetrics

    return WorkerMetrics(port)


def _progress(queue, config) -> Any:
    """The live line / periodic summary; the queue's size is asked from the progress
    thread only, at most every progress.QUEUE_EVERY_S, from the queue's counters (a few
    rows at any size: the connection is held for microseconds, never for a count)."""
    from ..observe.progress import WorkProgress
    from ..queue.counts import status_counts

    def left() -> int:
        s = status_counts(queue, retry=False)
        return s.pending + s.processing

    return WorkProgress(queue_left=left, poll_interval=config.poll_interval,
                        interval=config.progress_interval)


class Worker:
    def __init__(self, queue, engine, fetcher, config, name: str,
                 max_duration: float | None = None, metrics: Any = None, staged: Any = None,
                 progress: Any = None):
        self.queue, self.engine, self.fetcher, self.config = queue, engine, fetcher, config
        self.name, self.max_duration, self.metrics = name, max_duration, metrics
        self.progress = progress  # ytcorpus.progress.WorkProgress, started by run()
        self.staged = staged  # ytcorpus.stage.StagedSource (work --stage DIR)
        self.stop_event = threading.Event()
        self.signalled = threading.Event()  # SIGTERM/SIGINT: stop waiting for anything
        self.held = Held()
        base = getattr(config, "node_backoff_s", 30.0)
        self.circuit = Circuit(base, max(base, getattr(config, "node_backoff_max_s", 1800.0)))
        _queue_timing(queue, config)
        if metrics is not None:
            self.circuit.on_change = metrics.circuit_state
        self.pool = ChunkPool(pool_seconds(engine, getattr(config, "max_audio_s", None)))
        if metrics is not None:
            self.pool.on_depth = metrics.pool_depth
        self.store = QueueStore(queue, name, engine, self.held, metrics=metrics,
                                fault_of=fault_of, progress=progress, circuit=self.circuit,
                                give_up=self._give_up_on_database,
                                pause=self.signalled.wait)
        self.loop: EngineLoop | None = None
        self._fatal: BaseException | None = None
        self._videos: dict[str, Any] = {}  # claimed, for temp-file cleanup on stop
        self._videos_lock = threading.Lock()
        self._downloading = 0  # downloads running now (progress line)

    # ---- counters the old Worker exposed ---------------------------------------------
    @property
    def completed(self) -> int:
        return self.store.completed

    @property
    def failed(self) -> int:
        return self.store.failed

    @property
    def audio_seconds(self) -> float:
        return self.store.audio_seconds

    # ---- the prepare stage's sink ------------------------------------------------------
    def fatal(self, error: BaseException) -> None:
        log.error("stopping: %s", error)
        if self._fatal is None:
            self._fatal = error
        self.stop_event.set()

    def _give_up_on_database(self, waited: float) -> bool:
        """Finished transcripts wait for the database: for as long as it takes (a pause),
        or with --exit-when-empty while half their lease is left (then exit 75: the rows
        come back when their leases end); never once a signal asked to stop."""
        if self.signalled.is_set():
            return True
        return bool(self.config.exit_when_empty) and waited >= self.config.lease / 2

    def _state(self) -> str:
        """What the monitor shows for this worker: running, or why the node is blocked."""
        return "running" if self.circuit.state == "closed" else (
            f"blocked: circuit {self.circuit.describe()}")

    def _heartbeat_loop(self) -> None:
        interval = max(0.5, self.config.lease / 3)
        while not self.stop_event.wait(interval):
            try:
                self.queue.heartbeat(self.name, self.held.ids(), self.config.lease,
                                     state=self._state())
                routes = getattr(self.fetcher, "routes", None)
                if routes is not None:  # per-proxy pacing counters, for the monitor
                    from ..queue.staging import save_routes

                    save_routes(self.queue, self.name, routes.snapshot())
            except YtcorpusError as exc:  # a slow database must not kill the worker
                log.warning("heartbeat failed (will retry): %s", exc)
            if self.metrics is not None:
                self.metrics.circuit_state(self.circuit.state)
                self.metrics.pool_depth(self.pool.ready())

    def _download(self, video):
        with self._videos_lock:
            if len(self._videos) > 4 * self.config.prefetch + 64:  # forget settled ones
                self._videos = {k: v for k, v in self._videos.items() if k in self.held}
            self._videos[video.key] = video
            self._downloading += 1
        try:
            return self.downloader.fetch(video)
        finally:
            with self._videos_lock:
                self._downloading -= 1

    def stages_now(self) -> dict:
        """What is in flight (cheap counters, never the database): the progress line
        reads it from its own thread before each line."""
        with self._videos_lock:
            downloading = self._downloading
        return {"downloading": downloading,
                "preparing": max(0, self.pool.producing() - downloading),
                "engine": self.pool.ready(), "pool_seconds": self.pool.in_flight}

    def run(self) -> int:
        with one_blas_thread():
            return self._run()

    def _run(self) -> int:
        self.queue.register_worker(self.name, host=socket.gethostname(), device=self.engine.device,
                                   model=self.engine.model_name, lease_s=self.config.lease)
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        claimer = Claimer(self.queue, self.name, self.config, self.held, self.pool,
                          self.stop_event, self.circuit, staged=self.staged,
                          progress=self.progress)
        self.downloader = Downloader(self.fetcher, self.circuit, self.metrics,
                                     staged=self.staged)
        downloads = Prefetcher(claimer, self._download,
                               threads=max(1, self.config.download_threads),
                               max_ahead=max(1, self.config.prefetch), name="download")
        writer = Writer(self.engine, self.store.deliver,
                        target_language=getattr(self.config, "language", None),
                        on_error=self.fatal, release=self.pool.release).start()
        self.writer = writer  # its backlog: tests and the bench read it
        threads = getattr(self.config, "prepare_threads", 0) or default_prepare_threads()
        stage = PrepareStage(downloads, self.pool, self.engine, _Sink(writer, self),
                             threads=threads, stop=self.stop_event,
                             max_duration=self.max_duration,
                             diarize=bool(getattr(self.config, "diarize", False))).start()
        self.loop = EngineLoop(self.engine, self.pool, writer.results, self.stop_event,
                               metrics=self.metrics, writer_releases=True)
        started = time.time()
        code = 0
        if self.progress is not None:
            if self.progress.sample is None:
                self.progress.sample = self.stages_now
            self.progress.start()
        try:
            self.loop.run()
        except DeviceBrokenError as exc:
            log.error("the device is broken, releasing everything: %s", exc)
            code = EXIT_DEVICE_BROKEN
        except YtcorpusError as exc:
            self.fatal(exc)
        finally:
            self.stop_event.set()
            self.pool.abort()
            close = getattr(self.fetcher, "close", None)
            if close is not None:  # downloads in flight stop and remove their own files
                close()
            for item in downloads.stop(timeout=5.0):
                downloads.done(item)
            stage.join(timeout=5.0)
            writer.finish(timeout=max(60.0, self.config.lease))  # a database may be down
            try:
                self._release_held()
                if not claimer.drain(timeout=STOP_CLAIM_WAIT_S):  # a claim in the database
                    log.warning("a claim is still waiting on the database; its rows come "
                                "back when their lease ends")
                self._release_held()
                if self.staged is not None:
                    self.staged.sweep()  # staged audio of the rows stored is deleted
            except DatabaseUnavailableError as exc:  # their leases end on their own
                self.fatal(exc)
            beat.join(timeout=2)
            if self.progress is not None:
                self.progress.stop()
            try:
                self.queue.unregister_worker(self.name)
            except DatabaseUnavailableError as exc:
                log.warning("could not unregister: %s", exc)
        wall = time.time() - started
        log.info("worker %s done: %d completed, %d failed, %.1f s audio in %.1f s "
                 "(%.1fx realtime)", self.name, self.completed, self.failed,
                 self.audio_seconds, wall, self.audio_seconds / wall if wall else 0)
        if isinstance(self._fatal, DatabaseUnavailableError):  # the node's: not exit 1
            log.warning("the database is unavailable (%s): exiting %d", self._fatal,
                        EXIT_BLOCKED)
            return EXIT_BLOCKED
        if self._fatal is not None:
            raise self._fatal
        if code == 0 and claimer.blocked:
            log.warning("the node is blocked (%s): exiting %d",
                        getattr(self.circuit, "reason", "circuit open"), EXIT_BLOCKED)
            return EXIT_BLOCKED
        return code

    def _release_held(self) -> None:
        held = self.held.ids()
        if not held:
            return
        released = self.queue.release(self.name, held)
        if released:
            log.info("released %d claimed rows back to pending", released)
        for video_id in held:  # downloads still running, or files never transcribed
            video = self._videos.get(video_id)
            if video is not None and video.fetched is not None:
                video.fetched.cleanup()
            self.fetcher.remove_partial(video_id)
        self.held.remove(held)


class _Sink:
    """What the prepare threads report: to the writer, or (source broken) to the worker."""

    def __init__(self, writer: Writer, worker: Worker):
        self.writer, self.worker = writer, worker

    def prepared(self, video, info) -> None:
        self.writer.prepared(video, info)

    def failed(self, video, error) -> None:
        self.writer.failed(video, error)

    def fatal(self, error) -> None:
        self.worker.fatal(error)


def build_worker(args) -> tuple[Worker, Any]:
    """The worker of `ytcorpus work` (or of a `cluster` actor) from flags, env and config
    (defaults < config file < env < flags), model loaded: (worker, queue)."""
    from ..acquire.ytdlp import Fetcher
    from ..core.config import FetchConfig, WorkerConfig, build
    from ..core.device import check_device
    from ..engines import load_engine
    from ..queue import open_queue

    flags = {k: getattr(args, k, None) for k in (
        "device", "engine", "model", "batch_size", "download_threads", "prefetch", "lease",
        "max_videos", "exit_when_empty", "name", "prepare_threads", "language", "metrics_port",
        "diarize", "second_decoding")}
    known = {f for f in WorkerConfig.__dataclass_fields__}
    config = build(WorkerConfig, **{k: v for k, v in flags.items() if k in known})
    check_device(config.device, config.engine)  # before any weights load: one line, at once
    if config.diarize:
        from ..speakers import require_diarize

        require_diarize()
    fetch_config = build(FetchConfig, work_dir=args.work_dir,
                         audio_format=getattr(args, "audio_format", None),
                         language=config.language)
    # as the command line: a missing database is an error, an older one is upgraded
    queue = open_queue(args.db, create=False)
    queue.outage_wait_s = config.db_outage_wait_s
    engine = load_engine(config.engine, config.model, config.device, batch_size=config.batch_size)
    if hasattr(engine, "second_decoding"):
        engine.second_decoding = config.second_decoding
    name = worker_name(config.name, engine.device)
    staged = None
    if getattr(args, "stage", None):
        from ..acquire.stage import StagedSource

        staged = StagedSource(args.stage, queue, name,
                              download_fallback=not getattr(args, "stage_only", False),
                              work_dir=fetch_config.work_dir)
    worker = Worker(queue, engine, Fetcher(fetch_config), config, name,
                    max_duration=fetch_config.max_duration,
                    metrics=_metrics(config.metrics_port), staged=staged,
                    progress=_progress(queue, config))
    log.info("worker %s ready: engine %s, model %s, device %s, batch %d, prepare threads %d, "
             "queue %s", name, engine.name, engine.model_name, engine.device, engine.batch_size,
             getattr(config, "prepare_threads", 0) or default_prepare_threads(),
             redact(queue.describe()))
    return worker, queue


def run_worker(args) -> int:
    """`ytcorpus work`: build the worker, run until stopped (or empty, with
    --exit-when-empty); SIGTERM/SIGINT stop it cleanly."""
    import signal

    worker, queue = build_worker(args)

    def on_signal(signum, _frame):
        log.info("signal %d: finishing the batch in flight, releasing the rest", signum)
        worker.signalled.set()
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return worker.run()
    finally:
        queue.close()
