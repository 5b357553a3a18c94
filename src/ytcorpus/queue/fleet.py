"""Queue side of `ytcorpus cluster`: rows of a worker lost with its machine.

A worker whose node died (a spot instance preempted) did nothing wrong and neither did
its rows: they go back to pending at once, uncharged (no attempt, no crash). A worker
process that died on a live machine is a crash: its rows stay leased until the lease
ends, and reaping counts the crash (Queue.reap_expired)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Queue


def release_worker(q: Queue, worker: str) -> int:
    """Every row leased to this worker (its exact name, or any name `worker-...` a process
    built from that prefix) back to pending, uncharged; returns how many."""
    like = worker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL, lease_until = NULL "
                     "WHERE status = 'processing' AND (worker = ? OR worker LIKE ? ESCAPE '\\')",
                (worker, like))
        released = cur.rowcount
        q._exec(cur, "DELETE FROM workers WHERE worker = ? OR worker LIKE ? ESCAPE '\\'",
                (worker, like))
    return released


def claimable_now(q: Queue) -> tuple[int, int]:
    """(rows claimable now, rows leased whose lease ended): is there work for a new wave."""
    with q._read_tx() as cur:
        now = q._now(cur)
        q._exec(cur, "SELECT COUNT(*) AS n FROM videos WHERE status = 'pending' "
                     "AND not_before <= ?", (now,))
        pending = int(cur.fetchone()["n"])
    return pending, q.expired_leases()
