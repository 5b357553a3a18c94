"""Queue side of `ytcorpus cluster`: is there work for another wave of workers?

A worker whose node died did nothing wrong and neither did its rows: Queue.release_worker
returns them uncharged. Here, only the supervisor's question, asked once a poll."""

from __future__ import annotations

from typing import Any


def claimable_now(q: Any) -> tuple[bool, bool]:
    """(a row is claimable now, a leased row's lease has ended): existence checks on the
    partial indexes, never a count over the table."""
    with q._read_tx() as cur:
        now = q._now(cur)
        q._exec(cur, "SELECT 1 AS x FROM videos WHERE status = 'pending' AND not_before <= ? "
                     "LIMIT 1", (now,))
        pending = cur.fetchone() is not None
        q._exec(cur, "SELECT 1 AS x FROM videos WHERE status = 'processing' "
                     "AND (lease_until IS NULL OR lease_until < ?) LIMIT 1", (now,))
        expired = cur.fetchone() is not None
    return pending, expired


def leased(q: Any) -> bool:
    """Is any row leased now (a worker elsewhere still holds it)?"""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT 1 AS x FROM videos WHERE status = 'processing' LIMIT 1")
        return cur.fetchone() is not None
