"""The queue contract and its semantics, written once for both SQL backends.

A backend supplies a connection, a transaction that holds the write lock
(`_write_tx`), its dialect of INSERT-if-new and of the claim statement, and the
schema bootstrap. Everything else — leases, retries with backoff, completion only
by the lease holder — lives here, so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Sequence

from ..core.errors import (KINDS, NODE_KINDS, UNKNOWN_MAX_ATTEMPTS, DatabaseUnavailableError,
                           YtcorpusError, classify, fault_of, redact, video_error)
from ..core.ids import parse_source
from ..core.models import AddResult, Claim, InvalidSource, Result, Stats, Video
from .hooks import completion_hooks
from .counts import status_counts
from .schema import EXPORT_FIELDS

ADD_BATCH = 5000
log = logging.getLogger(__name__)


def _patient(method):
    """Repeat a write that is safe to repeat while the database is unavailable (each is
    guarded by who holds the row, so a second try after a lost commit changes nothing),
    up to the queue's outage_wait_s; then raise DatabaseUnavailableError. Claims are not
    repeated: a claim whose commit was lost would hold rows nobody works on."""

    @functools.wraps(method)
    def patient(self, *args, **kwargs):
        deadline = time.monotonic() + self.outage_wait_s
        delay = 0.25
        while True:
            try:
                return method(self, *args, **kwargs)
            except DatabaseUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: database unavailable, trying again in %.1f s: %s",
                            method.__name__, delay, exc)
            time.sleep(delay)
            delay = min(5.0, delay * 2)

    return patient


def utc_text(ts: float | None = None) -> str:
    """Timestamps as the original stored them: 'YYYY-MM-DD HH:MM:SS' in UTC."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_since(value: str) -> str:
    """Accept ISO dates/times or a unix timestamp; return the stored text form."""
    value = value.strip()
    try:
        return utc_text(float(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise YtcorpusError(f"--since: not a date/time: {value!r}") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Queue(ABC):
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

    @_patient
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

    @_patient
    def release(self, worker: str, video_ids: Sequence[str]) -> int:
        """Give rows back to pending without counting an attempt."""
        with self._write_tx() as cur:
            return self._update_held(cur, "status = 'pending', worker = NULL, lease_until = NULL",
                                     (), worker, video_ids)

    @_patient
    def release_worker(self, worker: str) -> int:
        """Every row of a worker lost with its machine back to pending, uncharged (no
        attempt, no crash): its exact name, or any name `worker-...` built from that prefix.
        A worker process that died on a live machine is a crash instead: its rows stay
        leased until the lease ends, and reaping counts the crash."""
        like = worker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
        with self._write_tx() as cur:
            self._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL, "
                            "lease_until = NULL WHERE status = 'processing' "
                            "AND (worker = ? OR worker LIKE ? ESCAPE '\\')", (worker, like))
            released = cur.rowcount
            self._exec(cur, "DELETE FROM workers WHERE worker = ? OR worker LIKE ? ESCAPE '\\'",
                       (worker, like))
        return released

    def _update_held(self, cur, assignments: str, values: tuple, worker: str,
                     video_ids: Sequence[str]) -> int:
        """UPDATE rows this worker holds (processing), in chunks; returns rows changed."""
        changed = 0
        for chunk in _chunks(list(video_ids), 500):
            marks = ",".join("?" * len(chunk))
            self._exec(cur, f"UPDATE videos SET {assignments} WHERE status = 'processing' "
                            f"AND worker = ? AND video_id IN ({marks})",
                       (*values, worker, *chunk))
            changed += cur.rowcount
        return changed

    max_crashes = 3

    @_patient
    def reap_expired(self) -> int:
        """Rows whose lease ran out (their worker died) go back to pending, counting a
        crash; the max_crashes-th crash ends the row as error kind 'worker_crash'."""
        with self._write_tx() as cur:
            now = self._now(cur)
            # two range probes of the partial index on leased rows (an OR would scan it)
            return (self._reap(cur, "lease_until < ?", (now,), indexed=True)
                    + self._reap(cur, "lease_until IS NULL", (), indexed=True))

    @_patient
    def reap_workers(self, workers: Sequence[str]) -> int:
        """The rows these (dead) workers hold go back now, as reap_expired does."""
        changed = 0
        with self._write_tx() as cur:
            for chunk in _chunks(list(workers), 200):
                changed += self._reap(cur, f"worker IN ({','.join('?' * len(chunk))})", chunk)
        return changed

    def _reap(self, cur, where: str, params: Sequence[Any], *, indexed: bool = False) -> int:
        dead = "crashes + 1 >= ?"
        table = f"videos{self._indexed('idx_videos_leases')}" if indexed else "videos"
        self._exec(
            cur,
            f"UPDATE {table} SET crashes = crashes + 1, lease_until = NULL, "
            f"status = CASE WHEN {dead} THEN 'error' ELSE 'pending' END, "
            f"worker = CASE WHEN {dead} THEN worker ELSE NULL END, "
            f"error_kind = CASE WHEN {dead} THEN 'worker_crash' ELSE error_kind END, "
            f"error = CASE WHEN {dead} THEN ? ELSE error END "
            f"WHERE status = 'processing' AND {where}",
            (self.max_crashes, self.max_crashes, self.max_crashes, self.max_crashes,
             f"its worker died while holding it {self.max_crashes} times "
             "(crash, OOM kill or lost node)", *params),
        )
        return cur.rowcount

    def leased_by_others(self, worker: str) -> dict[str, int]:
        """Rows in processing per worker other than `worker` (read-only)."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n FROM videos WHERE status = "
                            "'processing' AND (worker IS NULL OR worker <> ?) GROUP BY worker",
                       (worker,))
            return {r["worker"] or "": int(r["n"]) for r in cur.fetchall()}

    def waiting_for_node(self) -> bool:
        """Is a pending row put behind for a node, route or host fault, not yet due? Work
        that waits on the node, not on the video (--exit-when-empty then exits 75). A
        LIMIT 1 probe, never a count."""
        kinds = sorted(NODE_KINDS)
        with self._read_tx() as cur:
            self._exec(cur, "SELECT 1 AS x FROM videos WHERE status = 'pending' AND "
                            f"not_before > ? AND error_kind IN ({','.join('?' * len(kinds))}) "
                            "LIMIT 1", (self._now(cur), *kinds))
            return cur.fetchone() is not None

    def reap_stale(self) -> int:
        """`requeue --stale`: rows whose lease ran out, and at once the rows of workers
        that are dead (heartbeat stopped, process gone) or stopped. Counts a crash."""
        reaped = self.reap_expired()
        holders = self.leased_by_others("")
        dead = [w for w in self.dead_workers() if w in holders]
        return reaped + (self.reap_workers(dead) if dead else 0)

    def stale_leases(self) -> int:
        """How many rows reap_stale() would return now (read-only)."""
        dead = set(self.dead_workers())
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n, SUM(CASE WHEN lease_until IS NULL "
                            "OR lease_until < ? THEN 1 ELSE 0 END) AS e FROM videos "
                            "WHERE status = 'processing' GROUP BY worker", (self._now(cur),))
            rows = cur.fetchall()
        return sum(int(r["n"] if r["worker"] in dead else r["e"] or 0) for r in rows)

    def dead_workers(self) -> list[str]:
        """Registered workers whose heartbeat stopped or whose process is gone, and
        those stopped: none of them should hold a row (queue/liveness.py)."""
        return [w["worker"] for w in self.workers() if not w["alive"]]

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

    @_patient
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

    @_patient
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

    def errors(self, kind: str | None = None, limit: int | None = None, *,
               waiting: bool = False) -> list[dict]:
        """Failed rows, newest id first: video_id, url, error_kind, attempts, error, status,
        not_before. Rows in error (all, or one kind; a kind also lists its rows waiting
        to retry); waiting=True: only rows that failed and wait to retry (pending, with
        their next try in not_before). Read-only (`ytcorpus errors`, `requeue --dry-run`)."""
        sql = ("SELECT video_id, url, error_kind, attempts, error, status, not_before "
               "FROM videos WHERE ")
        retrying = "(status = 'pending' AND error_kind IS NOT NULL)"
        sql += retrying if waiting else f"(status = 'error' OR {retrying})" if kind \
            else "status = 'error'"
        params: tuple = ()
        if kind:
            sql += " AND error_kind = ?"
            params = (kind,)
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._read_tx() as cur:
            self._exec(cur, sql, params)
            return [dict(r) for r in cur.fetchall()]

    def expired_leases(self) -> int:
        """How many rows reap_expired() would return to pending now (read-only)."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT COUNT(*) AS n FROM videos WHERE status = 'processing' "
                            "AND (lease_until IS NULL OR lease_until < ?)", (self._now(cur),))
            return int(cur.fetchone()["n"])

    # ---- workers -------------------------------------------------------------------
    @_patient
    def register_worker(self, worker: str, *, host: str = "", device: str = "",
                        model: str = "", lease_s: float = 600.0) -> None:
        with self._write_tx() as cur:
            now = self._now(cur)
            self._exec(cur, "DELETE FROM workers WHERE worker = ?", (worker,))
            self._exec(cur, "INSERT INTO workers (worker, host, device, model, started_at, "
                            "last_seen, lease_s, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                       (worker, host, device, model, now, now, lease_s))

    @_patient
    def unregister_worker(self, worker: str) -> None:
        with self._write_tx() as cur:
            self._exec(cur, "UPDATE workers SET state = 'stopped', last_seen = ? "
                            "WHERE worker = ?", (self._now(cur), worker))

    def workers(self) -> list[dict]:
        """Every registered worker with `alive` and `dead` (its heartbeat stopped or its
        process on this host is gone: queue/liveness.py); stopped ones are neither."""
        from .liveness import is_dead

        with self._read_tx() as cur:
            now = self._now(cur)
            self._exec(cur, "SELECT worker, host, device, model, started_at, last_seen, "
                            "lease_s, state FROM workers ORDER BY started_at")
            rows = [dict(r) for r in cur.fetchall()]
        for r in rows:
            r["dead"] = is_dead(r, now)
            r["alive"] = r["state"] != "stopped" and not r["dead"]
        return rows

    # ---- reading -------------------------------------------------------------------
    def stats(self) -> Stats:
        """Counts by status, completed audio and tokens, errors by kind (from the
        counters: constant time at any size), rows waiting to retry, live workers."""
        s = status_counts(self)
        s.active_workers = sum(1 for w in self.workers() if w["alive"])
        return s

    def completions_by_worker(self, since_ts: float) -> dict[str, tuple[int, float, int]]:
        """Per worker since a time: (videos, audio seconds, tokens). Index-only."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n, COALESCE(SUM(duration_seconds), 0) "
                            "AS a, COALESCE(SUM(tokens), 0) AS t FROM videos"
                            f"{self._indexed('idx_videos_completed_at')} "
                            "WHERE status = 'completed' AND completed_at >= ? GROUP BY worker",
                       (utc_text(since_ts),))
            return {r["worker"] or "?": (int(r["n"]), float(r["a"]), int(r["t"]))
                    for r in cur.fetchall()}

    def completions_by_minute(self, since_ts: float) -> dict[str, float]:
        """Audio seconds completed per minute ('YYYY-MM-DD HH:MM') since a time."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT substr(completed_at, 1, 16) AS m, "
                            "COALESCE(SUM(duration_seconds), 0) AS a FROM videos"
                            f"{self._indexed('idx_videos_completed_at')} "
                            "WHERE status = 'completed' AND completed_at >= ? "
                            "GROUP BY substr(completed_at, 1, 16)", (utc_text(since_ts),))
            return {r["m"]: float(r["a"]) for r in cur.fetchall()}

    def known(self, video_ids: Sequence[str]) -> set[str]:
        """Which of these ids are already queued (any status)."""
        found: set[str] = set()
        with self._read_tx() as cur:
            for chunk in _chunks(list(video_ids), 500):
                marks = ",".join("?" * len(chunk))
                self._exec(cur, f"SELECT video_id FROM videos WHERE video_id IN ({marks})",
                           chunk)
                found.update(r["video_id"] for r in cur.fetchall())
        return found

    def get(self, video_id: str) -> dict | None:
        with self._read_tx() as cur:
            self._exec(cur, "SELECT * FROM videos WHERE video_id = ?", (video_id,))
            row = cur.fetchone()
        return dict(row) if row is not None else None

    def iter_completed(self, since: str | None = None, *, min_tokens: int | None = None,
                       language: str | None = None, page: int = 1000,
                       after_seq: int | None = None) -> Iterator[dict]:
        """Stream completed rows in id order, one page at a time (flat memory).
        after_seq: only rows completed after that completion number, in completion order
        (export --incremental; numbers are handed out in commit order, see schema.py)."""
        key = "id" if after_seq is None else "completed_seq"
        where = ["status = 'completed'", f"{key} > ?"]
        extra: list[Any] = []
        settled = self._settled_seq() if after_seq is not None else None
        if settled is not None:  # numbers still held by open transactions wait for later
            where.append("completed_seq <= ?")
            extra.append(settled)
        if since:
            where.append("completed_at > ?")
            extra.append(parse_since(since))
        if min_tokens is not None:
            where.append("tokens >= ?")
            extra.append(min_tokens)
        if language:
            where.append("language = ?")
            extra.append(language)
        sql = (f"SELECT {', '.join(EXPORT_FIELDS)} FROM videos WHERE {' AND '.join(where)} "
               f"ORDER BY {key} LIMIT {int(page)}")
        last = after_seq or 0
        while True:
            with self._read_tx() as cur:
                self._exec(cur, sql, (last, *extra))
                rows = cur.fetchall()
            if not rows:
                return
            for row in rows:
                record = dict(row)
                record["segments"] = json.loads(record["segments"] or "[]")
                record["flags"] = json.loads(record["flags"] or "[]")
                record["quality"] = json.loads(record["quality"] or "null")
                yield record
            last = rows[-1][key]


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]

