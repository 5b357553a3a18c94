"""One worker process (one GPU, or the CPU): claim -> prefetch (download + decode, in
threads) -> engine batches across videos -> one transaction per batch of results.

A heartbeat thread renews the leases of everything held. SIGTERM/SIGINT: stop
claiming, finish the batch in flight, release the rest, exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .audio import SAMPLE_RATE, decode_to_mono16k
from .config import FetchConfig, WorkerConfig, build
from .errors import EngineError, VideoError, YtcorpusError
from .fetch import FetchedAudio, Fetcher
from .models import Claim, Result
from .prefetch import Prefetched, Prefetcher
from .queue import Queue, open_queue
from .tokens import count_tokens_batch

log = logging.getLogger(__name__)

CHUNK_S = 30.0
REAP_EVERY_S = 60.0


@dataclass
class Ready:
    """A claimed video, downloaded and decoded, waiting for the engine."""

    claim: Claim
    audio: np.ndarray
    fetched: FetchedAudio

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def worker_name(prefix: str | None, device: str) -> str:
    """Unique per process life: a restarted worker never completes an old claim."""
    base = prefix or f"{socket.gethostname()}-{device.replace(':', '')}"
    return f"{base}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


class Worker:
    def __init__(self, queue: Queue, engine, fetcher: Fetcher, config: WorkerConfig,
                 name: str, max_duration: float | None = None):
        self.queue, self.engine, self.fetcher, self.config = queue, engine, fetcher, config
        self.name = name
        self.max_duration = max_duration
        self.stop_event = threading.Event()
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._claimed_total = 0
        self.completed = 0
        self.failed = 0
        self.audio_seconds = 0.0
        self.engine_seconds = 0.0

    # ---- leases --------------------------------------------------------------------
    def _hold(self, ids, held: bool) -> None:
        with self._held_lock:
            (self._held.update if held else self._held.difference_update)(ids)

    def held(self) -> list[str]:
        with self._held_lock:
            return list(self._held)

    def _heartbeat_loop(self) -> None:
        interval = max(0.5, self.config.lease / 3)
        while not self.stop_event.wait(interval):
            try:
                self.queue.heartbeat(self.name, self.held(), self.config.lease)
            except YtcorpusError as exc:  # a slow database must not kill the worker
                log.warning("heartbeat failed (will retry): %s", exc)

    # ---- claiming (runs inside prefetch threads, under the prefetcher's pull lock) -
    def _claims(self) -> Iterator[Claim]:
        last_reap = 0.0
        while not self.stop_event.is_set():
            limit = self.config.max_videos
            if limit and self._claimed_total >= limit:
                return
            if time.time() - last_reap > REAP_EVERY_S:
                last_reap = time.time()
                reaped = self.queue.reap_expired()
                if reaped:
                    log.info("returned %d rows of dead workers to pending", reaped)
                checkpoint = getattr(self.queue, "checkpoint", None)
                if checkpoint:  # SQLite: keep the WAL from growing without bound
                    checkpoint()
            want = max(1, self.config.download_threads)
            if limit:
                want = min(want, limit - self._claimed_total)
            claims = self.queue.claim(self.name, want, self.config.lease)
            if not claims and self.queue.reap_expired():  # dead workers' rows first
                claims = self.queue.claim(self.name, want, self.config.lease)
            if not claims:
                if self.config.exit_when_empty:
                    return
                self.stop_event.wait(self.config.poll_interval)
                continue
            self._claimed_total += len(claims)
            self._hold([c.video_id for c in claims], True)
            yield from claims

    def _prepare(self, claim: Claim) -> Ready:
        fetched = self.fetcher.fetch(claim.video_id, claim.url)
        try:
            audio = decode_to_mono16k(fetched.path, max_duration=self.max_duration)
        except BaseException:
            fetched.cleanup()
            raise
        return Ready(claim, audio, fetched)

    # ---- the engine loop -----------------------------------------------------------
    def _next_batch(self, prefetcher: Prefetcher) -> list[Prefetched] | None:
        """Block for one ready item, then take whatever else is ready, up to a batch."""
        while True:
            first = prefetcher.get(timeout=0.5)
            if first is not None:
                break
            if self.stop_event.is_set():
                return []
        batch = [first]
        budget = self.engine.batch_size * CHUNK_S
        total = first.value.seconds if first.ok else 0.0
        while total < budget and len(batch) < self.engine.batch_size * 4:
            if prefetcher.ready() == 0:
                break
            try:
                item = prefetcher.get(timeout=0)
            except StopIteration:  # the end marker stays queued for the next call
                break
            if item is None:
                break
            batch.append(item)
            total += item.value.seconds if item.ok else 0.0
        return batch

    def _fail(self, claim: Claim, error: BaseException) -> None:
        status = self.queue.fail(self.name, claim.video_id, error)
        self._hold([claim.video_id], False)
        self.failed += 1
        kind = getattr(error, "kind", type(error).__name__)
        log.warning("%s %s: %s: %s", "retry later" if status == "pending" else "error",
                    claim.video_id, kind, error)

    def _transcribe(self, ready: list[Ready]):
        """engine.transcribe with CUDA out-of-memory handling: halve the batch, retry."""
        while True:
            try:
                return self.engine.transcribe([r.audio for r in ready])
            except Exception as exc:
                oom = "out of memory" in str(exc).lower()
                if not oom or self.engine.batch_size <= 1:
                    raise
                self.engine.batch_size = max(1, self.engine.batch_size // 2)
                log.warning("CUDA out of memory: batch size now %d", self.engine.batch_size)
                _empty_cuda_cache()

    def _process(self, batch: list[Prefetched]) -> None:
        ready: list[Ready] = []
        for item in batch:
            if item.ok:
                ready.append(item.value)
            elif item.item is not None:
                self._fail(item.item, item.error)
            else:
                raise item.error  # the claim source itself broke (database down)
        if not ready:
            return
        started = time.time()
        try:
            transcripts = self._transcribe(ready)
        except Exception as exc:
            error = exc if isinstance(exc, VideoError) else EngineError(str(exc))
            for r in ready:
                self._fail(r.claim, error)
            return
        elapsed = max(1e-6, time.time() - started)
        self.engine_seconds += elapsed
        total_audio = sum(r.seconds for r in ready) or 1.0
        tokens = count_tokens_batch([t.text for t in transcripts])
        results = []
        for r, t, n in zip(ready, transcripts, tokens):
            share = elapsed * (r.seconds / total_audio)  # batch time split by audio length
            results.append((r.claim.video_id, Result(
                transcript=t.text, segments=t.segments, duration_seconds=round(r.seconds, 3),
                processing_time_seconds=round(share, 4), language=t.language,
                model=self.engine.model_name, tokens=n, title=r.fetched.info.get("title"),
                channel=r.fetched.info.get("channel"), license=r.fetched.info.get("license"),
                flags=t.flags)))
        stored = self.queue.complete_many(self.name, results)
        self._hold([r.claim.video_id for r in ready], False)
        for (video_id, result), ok in zip(results, stored):
            if ok:
                self.completed += 1
                self.audio_seconds += result.duration_seconds
                log.info("completed %s: %.1f s audio, %.1fx realtime, %d tokens%s", video_id,
                         result.duration_seconds, result.speed_ratio or 0, result.tokens or 0,
                         " (no speech)" if "no_speech" in result.flags else "")
            else:
                log.warning("lease of %s was lost before it was stored; another worker "
                            "has it now", video_id)

    def run(self) -> int:
        self.queue.register_worker(self.name, host=socket.gethostname(), device=self.engine.device,
                                   model=self.engine.model_name, lease_s=self.config.lease)
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        prefetcher = Prefetcher(self._claims(), self._prepare,
                                threads=max(1, self.config.download_threads),
                                max_ahead=max(1, self.config.prefetch),
                                cleanup=lambda r: r.fetched.cleanup(), name="download")
        started = time.time()
        try:
            while not self.stop_event.is_set():
                try:
                    batch = self._next_batch(prefetcher)
                except StopIteration:
                    break  # nothing claimable and nothing in flight
                try:
                    self._process(batch)
                finally:
                    for item in batch:
                        prefetcher.done(item)
        finally:
            self.stop_event.set()
            leftovers = prefetcher.stop(timeout=5.0)
            for item in leftovers:
                prefetcher.done(item)
            held = self.held()
            released = self.queue.release(self.name, held)
            if released:
                log.info("released %d claimed rows back to pending", released)
            for video_id in held:  # downloads still running when we gave up waiting
                self.fetcher.remove_partial(video_id)
            self._hold(held, False)
            beat.join(timeout=2)
            self.queue.unregister_worker(self.name)
        wall = time.time() - started
        log.info("worker %s done: %d completed, %d failed, %.1f s audio in %.1f s "
                 "(%.1fx realtime)", self.name, self.completed, self.failed, self.audio_seconds,
                 wall, self.audio_seconds / wall if wall else 0)
        return 0


def _empty_cuda_cache() -> None:
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass


def run_worker(args) -> int:
    """`ytcorpus work`: build config (defaults < env < flags), load the model, run."""
    from .engines import load_engine

    config = build(WorkerConfig, device=args.device, engine=args.engine, model=args.model,
                   batch_size=args.batch_size, download_threads=args.download_threads,
                   prefetch=args.prefetch, lease=args.lease, max_videos=args.max_videos,
                   exit_when_empty=args.exit_when_empty, name=args.name)
    fetch_config = build(FetchConfig, work_dir=args.work_dir)
    queue = open_queue(args.db)
    engine = load_engine(config.engine, config.model, config.device, batch_size=config.batch_size)
    name = worker_name(config.name, engine.device)
    worker = Worker(queue, engine, Fetcher(fetch_config), config, name,
                    max_duration=fetch_config.max_duration)

    def on_signal(signum, _frame):
        log.info("signal %d: finishing the batch in flight, releasing the rest", signum)
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("worker %s ready: engine %s, model %s, device %s, batch %d, queue %s", name,
             engine.name, engine.model_name, engine.device, engine.batch_size, queue.describe())
    try:
        return worker.run()
    finally:
        queue.close()
