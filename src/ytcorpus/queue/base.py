"""The queue contract and its semantics, written once for both SQL backends.

A backend supplies a connection, a transaction that holds the write lock
(`_write_tx`), its dialect of INSERT-if-new and of the claim statement, and the
schema bootstrap. Everything else — leases, retries with backoff, completion only
by the lease holder — lives here, so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

import json
import logging
import random
import time
from abc import ABC, abstractmethod
from typing import Any, Iterable, Sequence

from ..core.errors import (KINDS, UNKNOWN_MAX_ATTEMPTS, YtcorpusError, classify, fault_of,
                           redact, video_error)
from ..core.ids import parse_source
from ..core.models import AddResult, Claim, InvalidSource, Result, Video
from .hooks import completion_hooks
from .patience import pages, parse_since, patient, utc_text  # noqa: F401  (public here too)
from .reading import QueueReads
from .workers import WorkerLeases

ADD_BATCH = 5000
log = logging.getLogger(__name__)


class Queue(WorkerLeases, QueueReads, ABC):
    """A deduplicated work queue of videos. See DESIGN.md, 'Queue semantics'."""

    backend = "abstract"

    def __init__(self, *, max_attempts: int = 5, retry_base_s: float = 60.0,
                 retry_max_s: float = 6 * 3600.0, outage_wait_s: float = 60.0):
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        # how long a write that is safe to repeat waits out DatabaseUnavailableError (a
        # server restart, a locked or full file) before passing it on; 0: never waits
        self.outage_wait_s = outage_wait_s

    # ---- backend hooks -------------------------------------------------------------
    @abstractmethod
    def _write_tx(self): ...  # context manager yielding a cursor under the write lock

    @abstractmethod
    def _read_tx(self): ...  # context manager yielding a cursor for reads

    @abstractmethod
    def _insert_new(self, cur, rows: list[tuple]) -> int:
        """Insert rows, skipping ids already present; return how many were new."""

    @abstractmethod
    def _claim_rows(self, cur, worker: str, n: int, lease_until: float, now: float) -> list:
        """Atomically move up to n claimable rows to processing and return them."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the queue lives, safe to print (no password)."""

    def _q(self, sql: str) -> str:
        return sql

    def _now(self, cur) -> float:
        """The one clock for leases, heartbeats and backoff. SQLite lives on one host, so
        its clock is this host's; PostgreSQL overrides this with the server's clock."""
        return time.time()

    def _indexed(self, index: str) -> str:
        """An index hint where the dialect has one (SQLite: INDEXED BY)."""
        return ""

    def _exec(self, cur, sql: str, params: Sequence[Any] = ()):
        cur.execute(self._q(sql), tuple(params))
        return cur

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- adding --------------------------------------------------------------------
    def add(self, videos: Iterable[Video | str], *, priority: int | None = None,
            source: str | None = None) -> AddResult:
        """Queue videos (Video rows or raw sources). Idempotent; invalid input is
        reported in the result and never inserted."""
        result = AddResult()
        batch: list[tuple] = []
        for item in videos:
            if isinstance(item, Video):
                video = item
            else:
                try:
                    video_id, url = parse_source(str(item))
                except YtcorpusError as exc:
                    result.invalid.append(InvalidSource(str(item), str(exc)))
                    continue
                video = Video(video_id=video_id, url=url)
            batch.append(self._row(video, priority, source))
            if len(batch) >= ADD_BATCH:
                self._flush(batch, result)
                batch = []
        if batch:
            self._flush(batch, result)
        return result

    @staticmethod
    def _row(video: Video, priority: int | None, source: str | None) -> tuple:
        return (
            video.video_id, video.url, video.title, video.course, video.university,
            video.duration_seconds, priority if priority is not None else video.priority,
            source if source is not None else video.source, video.channel, video.license,
            video.license_source if video.license else None,
        )

    def _flush(self, batch: list[tuple], result: AddResult) -> None:
        with self._write_tx() as cur:
            added = self._insert_new(cur, batch)
        result.added += added
        result.duplicates += len(batch) - added

    # ---- claiming and leases -------------------------------------------------------
    def claim(self, worker: str, n: int = 1, lease_s: float = 600.0, *,
              lease: float | None = None, staged: bool | None = None) -> list[Claim]:
        """Atomically take up to n pending rows (highest priority, then oldest).
        `lease` is accepted as another name for `lease_s` (DESIGN.md spells it so).
        staged=True: only rows whose audio `ytcorpus fetch` staged; False: only the others."""
        lease_s = lease if lease is not None else lease_s
        if n <= 0:
            return []
        with self._write_tx() as cur:
            now = self._now(cur)
            rows = (self._claim_rows(cur, worker, n, now + lease_s, now) if staged is None
                    else self._claim_rows(cur, worker, n, now + lease_s, now, staged=staged))
        rows = sorted(rows, key=lambda r: (-(r["priority"] or 0), r["id"]))
        return [
            Claim(video_id=r["video_id"], url=r["url"], title=r["title"],
                  duration_seconds=r["duration_seconds"], attempts=r["attempts"] or 0,
                  priority=r["priority"] or 0, crashes=r["crashes"] or 0,
                  staged_path=r["staged_path"])
            for r in rows
        ]

    @patient
    def heartbeat(self, worker: str, video_ids: Sequence[str], lease_s: float = 600.0, *,
                  lease: float | None = None, state: str | None = None) -> int:
        """Renew the leases this worker holds; returns how many it still holds. `state`
        (e.g. "running", or "blocked: rate_limited ...") is shown by the monitor."""
        lease_s = lease if lease is not None else lease_s
        with self._write_tx() as cur:
            now = self._now(cur)
            self._exec(cur, "UPDATE workers SET last_seen = ?, lease_s = ?, "
                            "state = COALESCE(?, state) WHERE worker = ?",
                       (now, lease_s, state[:300] if state else None, worker))
            renewed = self._update_held(cur, "lease_until = ?", (now + lease_s,), worker,
                                        video_ids)
        return renewed

    @patient
    def release(self, worker: str, video_ids: Sequence[str]) -> int:
        """Give rows back to pending without counting an attempt."""
        with self._write_tx() as cur:
            return self._update_held(cur, "status = 'pending', worker = NULL, lease_until = NULL",
                                     (), worker, video_ids)

    def _update_held(self, cur, assignments: str, values: tuple, worker: str,
                     video_ids: Sequence[str]) -> int:
        """UPDATE rows this worker holds (processing), in chunks; returns rows changed."""
        changed = 0
        for chunk in pages(list(video_ids), 500):
            marks = ",".join("?" * len(chunk))
            self._exec(cur, f"UPDATE videos SET {assignments} WHERE status = 'processing' "
                            f"AND worker = ? AND video_id IN ({marks})",
                       (*values, worker, *chunk))
            changed += cur.rowcount
        return changed

    # ---- results -------------------------------------------------------------------
    _COMPLETE_SQL = (
        "UPDATE videos SET status = 'completed', transcript = ?, segments = ?, "
        "duration_seconds = ?, processing_time_seconds = ?, speed_ratio = ?, language = ?, "
        "model = ?, tokens = ?, title = COALESCE(?, title), channel = COALESCE(?, channel), "
        "license = COALESCE(?, license), flags = ?, completed_at = ?, completed_seq = ?, "
        "speakers = ?, lease_until = NULL, "
        "error_kind = NULL, error = NULL "
        "WHERE video_id = ? AND status = 'processing' AND worker = ?"
    )

    def complete(self, worker: str, video_id: str, result: Result) -> bool:
        """Store a transcript; only while `worker` holds the row. False otherwise."""
        return self.complete_many(worker, [(video_id, result)])[0]

    @patient
    def complete_many(self, worker: str, items: Sequence[tuple[str, Result]]) -> list[bool]:
        """Store several results in one transaction (one per engine batch)."""
        if not items:
            return []
        stamp = utc_text()
        done: list[bool] = []
        hooks = completion_hooks()
        prepared = [[h.prepare(r) for h in hooks] for _, r in items]  # CPU, outside the lock
        with self._write_tx() as cur:
            numbers = self._completion_numbers(cur, len(items))
            for i, (seq, (video_id, result)) in enumerate(zip(numbers, items)):
                if not isinstance(result, Result):
                    raise TypeError("complete() takes a ytcorpus.models.Result")
                segments = json.dumps([s.to_dict() for s in result.segments], ensure_ascii=False)
                self._exec(cur, self._COMPLETE_SQL, (
                    result.transcript, segments, result.duration_seconds,
                    result.processing_time_seconds, result.speed_ratio, result.language,
                    result.model, result.tokens, result.title, result.channel, result.license,
                    json.dumps(result.flags) if result.flags else None, stamp, seq,
                    result.speakers, video_id, worker,
                ))
                done.append(cur.rowcount == 1)
                if done[-1]:
                    for hook, ready in zip(hooks, prepared[i]):
                        hook.store(self, cur, video_id, result, ready)
        for k, hook in enumerate(hooks):  # after commit, outside any lock (dedup links)
            if hook.after is not None:
                hook.after(self, [(v, prepared[j][k]) for j, (v, _) in enumerate(items)
                                  if done[j]])
        return done

    def _completion_numbers(self, cur, n: int) -> list[int]:
        """n completion numbers (SQLite: a counter row; its single writer commits in number
        order. PostgreSQL overrides this with a SEQUENCE)."""
        self._exec(cur, "UPDATE completion_seq SET v = v + ? RETURNING v", (n,))
        top = int(cur.fetchone()["v"])
        return list(range(top - n + 1, top + 1))

    def _settled_seq(self) -> int | None:
        """The completion number at or below which every completion is visible now (None:
        every visible number is; SQLite's writer commits in number order)."""
        return None

    def backoff_s(self, attempts: int) -> float:
        """Exponential backoff with +-25% jitter, capped."""
        base = min(self.retry_max_s, self.retry_base_s * (2 ** max(0, attempts - 1)))
        return base * random.uniform(0.75, 1.25)

    @patient
    def fail(self, worker: str, video_id: str, error: BaseException | str) -> str | None:
        """Record a failure, by whose fault it is (errors.fault_of). The node's: the row goes
        back to pending uncharged (no attempt; the reason is kept in `error`), behind the
        others (not_before: node_behind_s, or until its route or host is back).
        The video's: permanent -> 'error'; retryable -> 'pending' with backoff, 'error'
        after max_attempts. Unknown: the same, but 'error' after UNKNOWN_MAX_ATTEMPTS.
        Returns the new status, or None if not held."""
        fault = fault_of(error)
        if isinstance(error, str) and error in KINDS:  # fail(w, id, "network")
            error = video_error(error, error, video_id)
        elif not isinstance(error, YtcorpusError) or error.kind not in KINDS:
            error = classify(error, video_id)
        kind = error.kind
        message = redact(str(error))[:2000]
        if fault == "node":  # uncharged, and behind the others: the next probe is another
            self.node_faults_released += 1
            behind = getattr(error, "behind", None)  # blame.RouteFault: 0 = another route
            if behind is None:
                behind = 0.0 if kind == "interrupted" else max(
                    self.node_behind_s, (getattr(error, "until", 0.0) or 0.0) - time.time())
            with self._write_tx() as cur:
                changed = self._update_held(
                    cur, "status = 'pending', worker = NULL, lease_until = NULL, "
                         "not_before = ?, error_kind = ?, error = ?",
                    (self._now(cur) + min(behind, self.retry_max_s), kind, message), worker,
                    [video_id])
            return "pending" if changed else None
        limit = UNKNOWN_MAX_ATTEMPTS if fault == "unknown" else self.max_attempts
        with self._write_tx() as cur:
            self._exec(cur, "SELECT attempts FROM videos WHERE video_id = ? AND "
                            "status = 'processing' AND worker = ?" + self._for_update,
                       (video_id, worker))
            row = cur.fetchone()
            if row is None:
                return None
            attempts = (row["attempts"] or 0) + 1
            if KINDS.get(kind, False) and attempts < min(limit, self.max_attempts):
                status, not_before = "pending", self._now(cur) + self.backoff_s(attempts)
            else:
                status, not_before = "error", 0.0
            self._exec(
                cur,
                "UPDATE videos SET status = ?, attempts = ?, not_before = ?, error_kind = ?, "
                "error = ?, worker = CASE WHEN ? = 'error' THEN worker ELSE NULL END, "
                "lease_until = NULL WHERE video_id = ? AND worker = ?",
                (status, attempts, not_before, kind, message, status, video_id, worker),
            )
        return status

    _for_update = ""
    # a row released for a node fault waits this long (or until its route or host is
    # back), so the next claim, the circuit's probe included, takes another video
    node_behind_s = 60.0
    node_faults_released = 0  # rows this process released for node faults (Downloader)

    def requeue_errors(self, kind: str | None = None) -> int:
        """Put errored rows (all, or one kind) back to pending with a fresh attempt count."""
        sql = ("UPDATE videos SET status = 'pending', attempts = 0, crashes = 0, "
               "not_before = 0, worker = NULL, error_kind = NULL, error = NULL "
               "WHERE status = 'error'")
        params: tuple = ()
        if kind:
            sql += " AND error_kind = ?"
            params = (kind,)
        with self._write_tx() as cur:
            self._exec(cur, sql, params)
            return cur.rowcount

