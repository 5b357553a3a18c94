"""The download stage: claims from the queue (under the lease), then the audio file, in
`--download-threads` threads (a Prefetcher: at most `--prefetch` files ahead).

`Claimer` is the source the download threads pull from: it claims rows, reaps dead
workers' leases now and then, stops while the node's circuit is open, and processes a row
that crashed a worker before alone. `Downloader.fetch` is the per-video work.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator

from ..acquire.blame import Evidence
from ..core.errors import DatabaseUnavailableError, fault_of
from .chunks import Video
from .pool import ChunkPool

log = logging.getLogger(__name__)

REAP_EVERY_S = 60.0


class Held:
    """The row ids this worker holds (heartbeat renews them, stop releases them)."""

    def __init__(self):
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, ids) -> None:
        with self._lock:
            self._ids.update(ids)

    def remove(self, ids) -> None:
        with self._lock:
            self._ids.difference_update(ids)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def __contains__(self, video_id: str) -> bool:
        with self._lock:
            return video_id in self._ids


class Claimer:
    """Iterate to claim: yields Videos. Ends when stopped, at --max-videos, or (with
    exit_when_empty) when nothing is claimable or the node is blocked (`blocked`)."""

    def __init__(self, queue, name: str, config, held: Held, pool: ChunkPool,
                 stop: threading.Event, circuit: Any = None, staged: Any = None,
                 progress: Any = None):
        self.queue, self.name, self.config = queue, name, config
        self.progress = progress  # ytcorpus.progress.WorkProgress: idle or not
        self.held, self.pool, self.stop, self.circuit = held, pool, stop, circuit
        self.staged = staged  # ytcorpus.stage.StagedSource with --stage: staged rows first
        self.claimed = 0
        self.blocked = False
        self._last_reap = 0.0
        self._claiming = threading.Lock()  # held while a claim is in the database
        self._waited_others = False
        self._reaped = False  # _empty() just took back a dead worker's rows
        self._waited_behind = False  # said once: waiting for rows put behind elsewhere
        self._db_down = False  # the last claim met a database outage (a node fault)

    def __iter__(self) -> Iterator[Video]:
        while not self.stop.is_set():
            limit = self.config.max_videos
            if limit and self.claimed >= limit:
                return
            if self.circuit is not None and not self.circuit.allow_claim():
                self.pool.source_idle(True)
                if self.config.exit_when_empty:
                    self.blocked = True
                    return
                self.stop.wait(1.0)
                continue
            claims = self._claim(limit)
            if not claims:
                self.pool.source_idle(True)
                if self.progress is not None and not len(self.held):  # nothing in flight
                    self.progress.idle(True)
                if self.config.exit_when_empty and (self._db_down or self._empty()):
                    if not (self._db_down or self.blocked):  # rows put behind may have come
                        claims = self._claim(limit)  # due while it looked: one last claim
                    if not claims:
                        self.blocked = self.blocked or self._db_down  # exit 75, not "empty"
                        return
                if not claims:
                    if not self._reaped:  # a dead worker's rows came back: claim them now
                        self.stop.wait(self.config.poll_interval)
                    self._reaped = False
                    continue
            self.pool.source_idle(False)
            if self.progress is not None:
                self.progress.idle(False)
            self.claimed += len(claims)
            for k, claim in enumerate(claims):
                if getattr(claim, "crashes", 0) > 0:
                    yield from self._alone(claim, claims[k + 1:])
                    break
                self.pool.expect()
                yield Video(key=claim.video_id, source=claim)

    def _empty(self) -> bool:
        """--exit-when-empty found nothing to claim: True to end. Not while other live
        workers hold rows; those of dead ones (heartbeat stopped, process on this host
        gone, or stopped) come back at once; blocked (exit 75) while rows wait behind for
        a node fault.
        Its own rows in flight settle first, with no more claims (one may yet be put
        behind for a node fault)."""
        while len(self.held) and not self.stop.is_set():
            self.stop.wait(0.2)
        try:
            return self._nothing_left()
        except DatabaseUnavailableError as exc:  # a node fault: exit 75
            log.warning("cannot tell whether work is left, the database is unavailable: %s",
                        exc)
            self.blocked = True
            return True

    def _nothing_left(self) -> bool:
        others = self.queue.leased_by_others(self.name)
        if others:  # registered workers only: an unknown holder's lease is reaped as usual
            known = {w["worker"]: w["alive"] for w in self.queue.workers()
                     if w["worker"] in others}
            dead = [w for w, alive in known.items() if not alive]
            if dead and self.queue.reap_workers(dead):
                log.info("took back the rows of dead workers %s", ", ".join(dead))
                self._reaped = True
                return False
            if any(known.values()):
                if not self._waited_others:
                    log.info("queue empty, but %d rows are leased to other workers: "
                             "waiting for them", sum(others[w] for w in known))
                self._waited_others = True
                return False
        if self.queue.waiting_for_node():
            if self.queue.node_faults_released:  # this node met the faults itself
                log.warning("queue empty but for rows put behind after node faults: blocked")
                self.blocked = True
                return True
            if not self._waited_behind:  # another node's (or an earlier run's) faults:
                log.info("queue empty but for rows put behind after node faults elsewhere: "
                         "waiting until they are due")  # this node may well serve them
            self._waited_behind = True
            return False
        return True

    def _claim(self, limit: int) -> list:
        """Claims; a database outage trips the node's circuit (nothing claimed, nothing
        charged: the worker pauses, or exits 75 with --exit-when-empty)."""
        try:
            claims = self._claim_now(limit)
        except DatabaseUnavailableError as exc:
            if self.circuit is None:
                raise
            self._db_down = True
            log.warning("cannot claim, the database is unavailable: %s", exc)
            self.circuit.trip(f"database: {exc}")
            return []
        if self._db_down and self.circuit is not None:
            self._db_down = False
            log.info("the database is back")
            self.circuit.success()
        return claims

    def _claim_now(self, limit: int) -> list:
        if time.time() - self._last_reap > REAP_EVERY_S:
            self._last_reap = time.time()
            reaped = self.queue.reap_expired()
            if reaped:
                log.info("returned %d rows of dead workers to pending", reaped)
            checkpoint = getattr(self.queue, "checkpoint", None)
            if checkpoint:  # SQLite: a bounded WAL; PostgreSQL: counter rows folded
                checkpoint()
        probing = self.circuit is not None and self.circuit.state == "probing"
        want = 1 if probing else max(1, self.config.download_threads)
        if limit:
            want = min(want, limit - self.claimed)
        claims = self._claim_held(want)
        if not claims and not self.stop.is_set() and self.queue.reap_expired():
            claims = self._claim_held(want)  # dead workers' rows first
        if not claims and probing:
            self.circuit.abort_probe()  # nothing to probe with: another probe later
        return claims

    def _claim_held(self, want: int) -> list:
        """Claim under the claim lock; a stop that came while the claim was in the
        database gives back what it got (the worker's final release may be over)."""
        with self._claiming:
            claims = self._claim_some(want)
            if claims and self.stop.is_set():
                self.queue.release(self.name, [c.video_id for c in claims])
                log.info("stopping: gave back %d rows claimed as the stop came",
                         len(claims))
                return []
            self.held.add(c.video_id for c in claims)
            return claims

    def drain(self, timeout: float) -> bool:
        """Wait (up to timeout) for a claim still in the database to end; it gives back
        what it got. True when no claim is in flight."""
        if self._claiming.acquire(timeout=timeout):
            self._claiming.release()
            return True
        return False

    def _claim_some(self, want: int) -> list:
        if self.staged is not None:
            return self.staged.claim(want, self.config.lease)
        return self.queue.claim(self.name, want, self.config.lease)

    def _alone(self, claim, rest: list) -> Iterator[Video]:
        """A row that crashed a worker: give back the rest of the group, wait until
        nothing else is held, process it, and claim nothing until it is done."""
        if rest:
            self.queue.release(self.name, [c.video_id for c in rest])
            self.held.remove(c.video_id for c in rest)
            self.claimed -= len(rest)
        log.info("%s crashed a worker before (%d times): processing it alone",
                 claim.video_id, claim.crashes)
        self.pool.source_idle(True)
        while len(self.held) > 1 and not self.stop.is_set():
            self.stop.wait(0.2)
        self.pool.expect()
        yield Video(key=claim.video_id, source=claim, solo=True)
        while claim.video_id in self.held and not self.stop.is_set():
            self.stop.wait(0.2)


class Downloader:
    """The download threads' work: the audio file of a claimed video."""

    def __init__(self, fetcher, circuit: Any = None, metrics: Any = None, staged: Any = None):
        self.fetcher, self.circuit, self.metrics = fetcher, circuit, metrics
        self.staged = staged
        self.evidence = Evidence()

    def fetch(self, video: Video) -> Video:
        fetched = self.staged.fetch(video.source) if self.staged is not None else None
        if fetched is not None:  # audio staged by `ytcorpus fetch`: no download
            video.fetched = fetched
            video.path = str(fetched.path)
            return video
        try:
            fetched = self.fetcher.fetch(video.key, video.source.url)
        except Exception as exc:
            if self.circuit is not None and fault_of(exc) == "node":
                # a route's or host's fault rests only it; the node's circuit opens when
                # such faults meet different videos with no success between
                scoped = getattr(exc, "scope", None) in ("route", "host")
                if not scoped or self.evidence.failed("node", video.key):
                    self.circuit.trip(f"{getattr(exc, 'kind', type(exc).__name__)}: {exc}")
            raise
        self.evidence.succeeded("node")
        if self.circuit is not None:
            self.circuit.success()
        if self.metrics is not None and getattr(fetched, "audio_bytes", None):
            self.metrics.download_bytes(fetched.audio_bytes)
        video.fetched = fetched
        video.path = str(fetched.path)
        return video
