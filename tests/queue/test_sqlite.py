"""SQLite specifics: WAL, the original schema upgraded in place, plain sqlite3 access."""

from __future__ import annotations

import sqlite3

import pytest

from ytcorpus.core.errors import ConfigError, QueueError
from ytcorpus.models import Result
from ytcorpus.queue import open_queue
from ytcorpus.queue.sqlite import CLAIMABLE

ORIGINAL_SCHEMA = """
CREATE TABLE videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id TEXT UNIQUE NOT NULL,
    title TEXT, course TEXT, university TEXT, url TEXT,
    duration_seconds INTEGER,
    status TEXT DEFAULT 'pending',
    transcript TEXT,
    processing_time_seconds REAL, speed_ratio REAL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP,
    priority INTEGER DEFAULT 0
)"""


def test_original_database_is_upgraded_in_place(sqlite_db):
    with sqlite3.connect(sqlite_db) as conn:
        conn.execute(ORIGINAL_SCHEMA)
        conn.execute("INSERT INTO videos (video_id, title, url, status) VALUES "
                     "('aaaaaaaaaa1', 'Old', 'https://www.youtube.com/watch?v=aaaaaaaaaa1', "
                     "'pending')")
        conn.execute("INSERT INTO videos (video_id, url, status, transcript) VALUES "
                     "('aaaaaaaaaa2', 'u', 'completed', 'kept')")
    with open_queue(sqlite_db) as q:
        assert q.stats().pending == 1
        [c] = q.claim("w", 1)
        assert (c.video_id, c.title) == ("aaaaaaaaaa1", "Old")
        assert q.complete("w", c.video_id, Result("new text", duration_seconds=5))
        assert [r["transcript"] for r in q.iter_completed()] == ["new text", "kept"]


def test_plain_sqlite3_query_keeps_working(sqlite_db):
    with open_queue(sqlite_db) as q:
        q.add(["aaaaaaaaaa1"])
        [c] = q.claim("w", 1)
        q.complete("w", c.video_id, Result("the transcript"))
    with sqlite3.connect(sqlite_db) as conn:
        rows = conn.execute("SELECT video_id, transcript FROM videos "
                            "WHERE status='completed'").fetchall()
        assert rows == [("aaaaaaaaaa1", "the transcript")]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_claim_uses_the_partial_pending_index(sqlite_db):
    with open_queue(sqlite_db):
        pass
    with sqlite3.connect(sqlite_db) as conn:
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + CLAIMABLE, (0, 5)))
    assert "idx_videos_pending" in plan
    assert "TEMP B-TREE" not in plan  # no sort of every pending row


def test_bad_database_paths_give_typed_errors(tmp_path):
    with pytest.raises(QueueError, match="does not exist"):
        open_queue(str(tmp_path / "missing" / "q.db"))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(QueueError, match="cannot open"):
        open_queue(str(junk))
    with pytest.raises(ConfigError):
        open_queue("mysql://localhost/x")


def test_stats_and_monitor_queries_never_read_rows(sqlite_db):
    """Transcripts are inline: a stats query that reads rows reads every transcript."""
    traced: list[str] = []
    with open_queue(sqlite_db) as q:
        q._conn.set_trace_callback(traced.append)
        q.stats()
        q.completions_by_worker(0)
        q.completions_by_minute(0)
        q._conn.set_trace_callback(None)
        plans = {}
        for sql in traced:
            if sql.startswith("SELECT") and "status = 'completed'" in sql:
                plan = " ".join(r[-1] for r in q._conn.execute("EXPLAIN QUERY PLAN " + sql))
                plans[sql] = plan
    assert len(plans) == 2  # stats reads the counters (queue/counts.py), not the rows
    for sql, plan in plans.items():
        assert "COVERING INDEX" in plan, (sql, plan)
    on_videos = [sql for sql in traced if "FROM videos" in sql and "completed" not in sql]
    assert len(on_videos) == 1 and "idx_videos_retry" in on_videos[0]  # waiting_retry
