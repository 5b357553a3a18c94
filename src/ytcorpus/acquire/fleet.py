"""`ytcorpus fetch --stage DIR`: a download-only worker. Its threads claim unstaged rows
under the same leases as `work`, download the audio (paced per route), check that it
decodes and how long it is, stage it (ytcorpus.stage) and give the row back to pending,
staged and uncharged, for a GPU worker. It pauses while the staged backlog is over
--max-staged, and sweeps the staged files of rows already stored.

Exit: 0 when done or stopped; 75 with --exit-when-empty when it stops because every
route is resting (the node is blocked), as `work` does.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from ..core.errors import VideoError, YtcorpusError, classify
from .pacing import AllRoutesResting
from ..queue.staging import mark_staged, save_routes
from ..work.circuit import Circuit
from .blame import Evidence
from .stage import Backlog, StageStore, audio_seconds, sweep_store

log = logging.getLogger(__name__)

EXIT_BLOCKED = 75
REPORT_EVERY_S = 15.0


def _fault_of(exc: BaseException) -> str:
    try:
        from ..core.errors import fault_of
    except ImportError:  # before the resilience helper's classification exists
        kind = getattr(exc, "kind", "")
        return "node" if kind in ("rate_limited", "bot_check", "disk_full") else "video"
    return fault_of(exc)


class FetchFleetWorker:
    """One `ytcorpus fetch` process: `threads` download threads and one housekeeping
    thread (heartbeat, route counters, sweep)."""

    def __init__(self, queue, fetcher, store: StageStore, *, name: str, threads: int = 2,
                 lease: float = 600.0, max_videos: int = 0, exit_when_empty: bool = False,
                 poll_s: float = 10.0, max_staged: str | None = None,
                 node_backoff_s: float = 30.0, node_backoff_max_s: float = 1800.0):
        self.queue, self.fetcher, self.store, self.name = queue, fetcher, store, name
        self.threads, self.lease, self.max_videos = threads, lease, max_videos
        self.exit_when_empty, self.poll_s = exit_when_empty, poll_s
        self.backlog = Backlog(queue, max_staged)
        self.stop = threading.Event()
        self.held: set[str] = set()
        self.claimed = self.staged = self.failed = self.released = 0
        self.paused = False
        self.blocked = False
        self._lock = threading.Lock()
        self.circuit = Circuit(node_backoff_s, max(node_backoff_s, node_backoff_max_s))
        self.evidence = Evidence()  # route/host faults on different videos: the node's

    # ---- the download threads ---------------------------------------------------------
    def _next_claim(self):
        """A claim, or None when this thread should end."""
        while not self.stop.is_set():
            resting = self.fetcher.routes.wait_s()
            if resting > 0 or not self.circuit.allow_claim():  # every route rests, or
                if self.exit_when_empty:                       # the node is blocked
                    self.blocked = True
                    return None
                self.stop.wait(min(resting or 1.0, self.poll_s))
                continue
            with self._lock:
                if self.max_videos and self.claimed >= self.max_videos:
                    return None
                claims = self.queue.claim(self.name, 1, self.lease, staged=False)
                if not claims and self.queue.reap_expired():  # rows of dead fetchers
                    claims = self.queue.claim(self.name, 1, self.lease, staged=False)
                if claims and self.stop.is_set():  # the stop came while claiming
                    self.queue.release(self.name, [claims[0].video_id])
                    return None
                if claims:
                    self.claimed += 1
                    self.held.add(claims[0].video_id)
                elif self.circuit.state == "probing":
                    self.circuit.abort_probe()
                if not claims and self.exit_when_empty and not self.held:
                    behind = self.queue.waiting_for_node()  # rows put behind: node faults
                    if not behind or self.queue.node_faults_released:  # met here: blocked
                        self.blocked = behind
                        return None  # else another node's faults: wait until they are due
            if claims and not self._over_backlog(claims[0]):
                return claims[0]
            self.stop.wait(self.poll_s if not self.exit_when_empty else 0.5)
        return None

    def _over_backlog(self, claim) -> bool:
        """Hold the claim, or (backlog over --max-staged) give it back and pause. Checked
        after a claim, so --exit-when-empty still ends once nothing is left to stage."""
        if self.backlog.full():
            self.queue.release(self.name, [claim.video_id])
            with self._lock:
                self.claimed -= 1
                self.held.discard(claim.video_id)
            if not self.paused:
                log.info("staged backlog is over --max-staged: pausing downloads")
            self.paused = True
            return True
        if self.paused:
            log.info("staged backlog is under --max-staged: downloading again")
            self.paused = False
        return False

    def _thread(self) -> None:
        while (claim := self._next_claim()) is not None:
            try:
                self._stage_one(claim)
            finally:
                with self._lock:
                    self.held.discard(claim.video_id)
        if self.blocked:
            self.stop.set()

    def _stage_one(self, claim) -> None:
        video_id = claim.video_id
        got = None
        try:
            got = self.fetcher.fetch(video_id, claim.url)
            seconds = audio_seconds(got.path)
            rel, size = self.store.put(got.path, video_id)
        except Exception as exc:  # noqa: BLE001 - one video's failure never ends the thread
            if got is not None:
                got.cleanup()
            self._failed(video_id, exc if isinstance(exc, YtcorpusError)
                         else classify(exc, video_id))
            return
        self.evidence.succeeded("node")
        self.circuit.success()
        try:
            ok = mark_staged(self.queue, self.name, video_id, staged_path=rel, seconds=seconds,
                             size=size, audio_format=got.audio_format, metadata=got.info)
        except YtcorpusError as exc:  # the database is away: the lease will run out
            log.warning("could not record %s as staged: %s", video_id, exc)
            ok = False
        if ok:
            self.staged += 1
            log.info("staged %s: %.1f s audio, %d bytes", video_id, seconds, size)
        else:  # the lease was lost meanwhile: another worker has the row
            self.store.remove(rel)  # a name of this staging's own: never another's copy
            log.warning("lost the lease of %s while staging it: removed its own copy",
                        video_id)

    def _failed(self, video_id: str, exc: YtcorpusError) -> None:
        if getattr(exc, "kind", "") == "interrupted":  # stopping: back as it was
            self.queue.release(self.name, [video_id])
            self.released += 1
            return
        if isinstance(exc, AllRoutesResting) or _fault_of(exc) == "node":
            # not the video's: uncharged, reason kept, behind the others; a route's or
            # host's fault opens the node's circuit only on different videos in a row
            scoped = getattr(exc, "scope", None) in ("route", "host")
            if not scoped or self.evidence.failed("node", video_id):
                self.circuit.trip(f"{exc.kind}: {exc}")
            self.queue.fail(self.name, video_id, exc)
            self.released += 1
            log.warning("released %s (not its fault): %s", video_id, exc)
            return
        if not isinstance(exc, VideoError):
            exc = VideoError(str(exc), kind=getattr(exc, "kind", "unknown"), video_id=video_id)
        status = self.queue.fail(self.name, video_id, exc)
        self.failed += 1
        log.warning("%s %s: %s: %s", "retry later" if status == "pending" else "error",
                    video_id, exc.kind, exc)

    # ---- housekeeping -----------------------------------------------------------------
    def _housekeeping(self) -> None:
        last_report = 0.0
        while not self.stop.wait(min(self.lease / 3, REPORT_EVERY_S)):
            try:
                with self._lock:
                    held = list(self.held)
                state = "running" if self.circuit.state == "closed" else \
                    f"blocked: circuit {self.circuit.describe()}"
                self.queue.heartbeat(self.name, held, self.lease, state=state)
                if time.monotonic() - last_report >= REPORT_EVERY_S:
                    last_report = time.monotonic()
                    save_routes(self.queue, self.name, self.fetcher.routes.snapshot())
                    sweep_store(self.queue, self.store)
            except Exception as exc:  # noqa: BLE001 - a database blip must not end it
                log.warning("housekeeping: %s", exc)

    def run(self) -> int:
        self.queue.register_worker(self.name, host=socket.gethostname(), device="fetch",
                                   model="", lease_s=self.lease)
        keeper = threading.Thread(target=self._housekeeping, name="fetch-housekeeping",
                                  daemon=True)
        keeper.start()
        workers = [threading.Thread(target=self._thread, name=f"fetch-{i}", daemon=True)
                   for i in range(self.threads)]
        for t in workers:
            t.start()
        try:
            while any(t.is_alive() for t in workers):
                for t in workers:
                    t.join(0.5)
        finally:
            self.close(workers)
        log.info("fetch %s done: %d staged, %d failed, %d released", self.name, self.staged,
                 self.failed, self.released)
        return EXIT_BLOCKED if self.blocked else 0

    def close(self, workers: list[threading.Thread]) -> None:
        """Stop downloads in flight (they remove their own files), release held rows."""
        self.stop.set()
        self.fetcher.close()
        for t in workers:
            t.join(30)
        with self._lock:
            held = list(self.held)
        if held:
            self.queue.release(self.name, held)
            for video_id in held:
                self.fetcher.remove_partial(video_id)
        try:
            save_routes(self.queue, self.name, self.fetcher.routes.snapshot())
            self.queue.unregister_worker(self.name)
        except YtcorpusError as exc:
            log.warning("could not record the stop: %s", exc)
