"""`ytcorpus migrate --from data.db --to postgresql://...`: copy a queue, losing and
duplicating nothing. Re-running is safe: rows already there are skipped. Rows that were
processing in the source (its workers are not on the new database) arrive as pending."""

from __future__ import annotations

import logging

from . import Queue
from .quality import copy_side_tables
from .schema import COLUMNS

log = logging.getLogger(__name__)

COPY_COLUMNS = ["video_id"] + [name for name, _, _ in COLUMNS]
PAGE = 5000


def _insert_sql(dst: Queue) -> str:
    cols = ", ".join(COPY_COLUMNS)
    if dst.backend == "postgres":
        marks = ", ".join(["%s"] * len(COPY_COLUMNS))
        return f"INSERT INTO videos ({cols}) VALUES ({marks}) ON CONFLICT (video_id) DO NOTHING"
    marks = ", ".join(["?"] * len(COPY_COLUMNS))
    return f"INSERT OR IGNORE INTO videos ({cols}) VALUES ({marks})"


def _number_completions(dst: Queue) -> None:
    """Give copied completed rows completion numbers above dst's counter, so that an
    `export --incremental` of dst takes them (see schema.COMPLETION_SEQ)."""
    if dst.backend == "postgres":  # the sequence; the transaction's id before its numbers
        with dst._write_tx() as cur:
            dst._exec(cur, "SELECT pg_current_xact_id()")
            dst._exec(cur, "UPDATE videos SET completed_seq = nextval('completion_numbers') "
                           "WHERE status = 'completed' AND completed_seq IS NULL")
        return
    with dst._write_tx() as cur:
        dst._exec(cur, "UPDATE completion_seq SET v = v")  # hold the counter's lock
        dst._exec(cur, "SELECT v FROM completion_seq")
        base = int(cur.fetchone()["v"])
        dst._exec(cur, "UPDATE videos SET completed_seq = id + ? WHERE status = 'completed' "
                       "AND completed_seq IS NULL", (base,))
        dst._exec(cur, "SELECT COALESCE(MAX(completed_seq), 0) AS m FROM videos")
        top = max(base, int(cur.fetchone()["m"]))
        dst._exec(cur, "UPDATE completion_seq SET v = ?", (top,))


def _count(q: Queue) -> int:
    return q.stats().total


def migrate(src: Queue, dst: Queue, progress=None) -> dict:
    """Copy every row of src into dst in id order; returns counts and a check."""
    sql = _insert_sql(dst)
    status_at = COPY_COLUMNS.index("status")
    reset = {COPY_COLUMNS.index(c) for c in ("worker", "lease_until")}
    seq_at = COPY_COLUMNS.index("completed_seq")  # renumbered in dst's order, below
    before = _count(dst)
    last, copied_pages, seen = 0, 0, 0
    select = (f"SELECT id, {', '.join(COPY_COLUMNS)} FROM videos WHERE id > ? "
              f"ORDER BY id LIMIT {PAGE}")
    while True:
        with src._read_tx() as cur:
            src._exec(cur, select, (last,))
            rows = cur.fetchall()
        if not rows:
            break
        batch = []
        for row in rows:
            values = [row[c] for c in COPY_COLUMNS]
            if values[status_at] == "processing":
                values[status_at] = "pending"
                for i in reset:
                    values[i] = None
            values[seq_at] = None
            batch.append(tuple(values))
        with dst._write_tx() as cur:
            cur.executemany(sql, batch)
        last = rows[-1]["id"]
        seen += len(rows)
        copied_pages += 1
        if progress:
            progress(seen)
    _number_completions(dst)
    after = _count(dst)
    copy_side_tables(src, dst)  # near-duplicate signatures and flags, under the new ids
    # the check: every source id is in the destination
    missing = 0
    last = 0
    while True:
        with src._read_tx() as cur:
            src._exec(cur, f"SELECT id, video_id FROM videos WHERE id > ? ORDER BY id LIMIT {PAGE}",
                      (last,))
            rows = cur.fetchall()
        if not rows:
            break
        ids = [r["video_id"] for r in rows]
        missing += len(ids) - len(dst.known(ids))
        last = rows[-1]["id"]
    return {"source_rows": seen, "copied": after - before, "already_there": seen - (after - before),
            "destination_rows": after, "missing": missing}
