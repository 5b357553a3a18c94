"""Databases made by the original tool and by the previous ytcorpus release (schema 2,
commit 05c3a78), created here with raw sqlite3: the read-only commands (stats, monitor,
export, errors) read them without changing a byte; init, add and work upgrade them."""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3

import pytest
from conftest import run_cli

from ytcorpus.core.errors import QueueError
from ytcorpus.queue.schema import COLUMNS, SCHEMA_VERSION

ORIGINAL = """CREATE TABLE videos (id INTEGER PRIMARY KEY AUTOINCREMENT, video_id TEXT UNIQUE,
    title TEXT, course TEXT, university TEXT, url TEXT, duration_seconds REAL, status TEXT,
    transcript TEXT, processing_time_seconds REAL, speed_ratio REAL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP, priority INTEGER)"""

# src/ytcorpus/queue/schema.py at 05c3a78 (SCHEMA_VERSION 2), as its upgrade left a file
RELEASE_05C3A78 = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE videos (id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id TEXT UNIQUE NOT NULL, title TEXT, course TEXT, university TEXT, url TEXT,
    duration_seconds REAL, status TEXT NOT NULL DEFAULT 'pending', transcript TEXT,
    processing_time_seconds REAL, speed_ratio REAL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP,
    priority INTEGER NOT NULL DEFAULT 0, source TEXT, channel TEXT, license TEXT,
    language TEXT, segments TEXT, tokens INTEGER, model TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0, worker TEXT,
    lease_until REAL, error_kind TEXT, error TEXT, flags TEXT)""",
    "CREATE INDEX idx_videos_pending ON videos (priority DESC, id) WHERE status = 'pending'",
    "CREATE INDEX idx_videos_leases ON videos (lease_until) WHERE status = 'processing'",
    "CREATE INDEX idx_videos_status ON videos (status)",
    "CREATE INDEX idx_videos_completed_at ON videos "
    "(completed_at, status, worker, duration_seconds, tokens) WHERE status = 'completed'",
    "CREATE INDEX idx_videos_completed_totals ON videos "
    "(status, duration_seconds, tokens) WHERE status = 'completed'",
    "CREATE TABLE workers (worker TEXT PRIMARY KEY, host TEXT, device TEXT, model TEXT, "
    "started_at REAL, last_seen REAL, lease_s REAL, state TEXT)",
    "INSERT INTO schema_version (version) VALUES (2)",
]

ROWS = [("aaaaaaaaaaa", "pending", None), ("bbbbbbbbbbb", "pending", None),
        ("ccccccccccc", "completed", "hello from the old tool"), ("ddddddddddd", "error", None)]

STATS_KEYS = {"total", "pending", "processing", "completed", "error",
              "audio_seconds_completed", "tokens_completed", "errors_by_kind"}


def make_old(path, shape: str) -> None:
    conn = sqlite3.connect(path)
    for sql in [ORIGINAL] if shape == "original" else RELEASE_05C3A78:
        conn.execute(sql)
    for video_id, status, text in ROWS:
        conn.execute("INSERT INTO videos (video_id, title, url, duration_seconds, status, "
                     "transcript, completed_at, priority) VALUES (?, ?, ?, 90.0, ?, ?, ?, 0)",
                     (video_id, f"lecture {video_id}",
                      f"https://www.youtube.com/watch?v={video_id}", status, text,
                      "2024-01-02 03:04:05" if text else None))
    if shape != "original":
        conn.execute("UPDATE videos SET tokens = 5, segments = '[]', error_kind = 'private', "
                     "error = 'private video' WHERE status IN ('completed', 'error')")
    conn.commit()
    conn.close()


def table_info(path) -> list:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA table_info(videos)").fetchall()
    finally:
        conn.close()


def ok(*args: str) -> str:
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc.stdout


@pytest.fixture(params=["original", "release_05c3a78"])
def old_db(request, tmp_path):
    path = tmp_path / f"{request.param}.db"
    make_old(path, request.param)
    return path


def test_read_only_commands_read_an_old_database_and_leave_it_unchanged(old_db, tmp_path):
    before, digest = table_info(old_db), hashlib.sha256(old_db.read_bytes()).hexdigest()
    db = ["--db", str(old_db)]

    assert "completed" in ok(*db, "stats")
    stats = json.loads(ok(*db, "stats", "--json"))
    assert (stats["total"], stats["pending"], stats["processing"], stats["completed"],
            stats["error"]) == (4, 2, 0, 1, 1)
    assert stats["audio_seconds_completed"] == 90.0
    # every key a current database reports is there
    fresh = tmp_path / "fresh.db"
    ok("--db", str(fresh), "init")
    assert STATS_KEYS <= set(stats) and set(stats) == set(json.loads(
        ok("--db", str(fresh), "stats", "--json")))
    ok(*db, "monitor", "--once")

    out = tmp_path / "out.jsonl"
    ok(*db, "export", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["video_id"] for r in records] == ["ccccccccccc"]
    assert records[0]["transcript"] == "hello from the old tool"

    errors = json.loads(ok(*db, "errors", "--json"))
    assert [e["video_id"] for e in errors] == ["ddddddddddd"]

    pytest.importorskip("pyarrow")
    ok(*db, "export", str(tmp_path / "parquet") + "/", "--format", "parquet")
    assert list((tmp_path / "parquet").glob("*.parquet"))

    assert table_info(old_db) == before  # never upgraded
    assert hashlib.sha256(old_db.read_bytes()).hexdigest() == digest


def test_init_and_add_upgrade_an_old_database_in_place(old_db, tmp_path):
    current = {name for name, _, _ in COLUMNS} | {"id", "video_id"}
    copy = tmp_path / "copy.db"
    copy.write_bytes(old_db.read_bytes())
    ok("--db", str(copy), "init")
    assert {r[1] for r in table_info(copy)} == current

    ok("--db", str(old_db), "add", "https://www.youtube.com/watch?v=zzzzzzzzzzz")
    assert {r[1] for r in table_info(old_db)} == current
    conn = sqlite3.connect(old_db)
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    stats = json.loads(ok("--db", str(old_db), "stats", "--json"))
    assert (stats["total"], stats["pending"], stats["completed"]) == (5, 3, 1)
    assert [r["video_id"] for r in json.loads(ok("--db", str(old_db), "errors", "--json"))] \
        == ["ddddddddddd"]


def test_work_upgrades_an_old_database_and_runs(old_db, tmp_path):
    conn = sqlite3.connect(old_db)
    conn.execute("UPDATE videos SET status = 'error' WHERE status = 'pending'")  # no network
    conn.commit()
    conn.close()
    ok("--db", str(old_db), "work", "--device", "cpu", "--model", "tiny.en",
       "--exit-when-empty", "--work-dir", str(tmp_path / "work"))
    assert {r[1] for r in table_info(old_db)} >= {name for name, _, _ in COLUMNS}


def test_work_refuses_a_missing_database_on_both_routes(tmp_path):
    from ytcorpus.work.worker import run_worker

    missing = tmp_path / "typo.db"
    proc = run_cli("--db", str(missing), "work", "--device", "cpu")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert str(missing) in proc.stderr and not missing.exists()
    with pytest.raises(QueueError, match="does not exist"):  # the Python API route
        run_worker(argparse.Namespace(db=str(missing), device="cpu",
                                      work_dir=str(tmp_path / "work")))
    assert not missing.exists()


def _pg_columns(url: str) -> list:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT table_name, column_name, data_type FROM "
                            "information_schema.columns WHERE table_schema = 'public' "
                            "ORDER BY table_name, ordinal_position").fetchall()


def test_postgres_queue_of_the_previous_release_reads_without_upgrade(pg_server, tmp_path):
    import psycopg

    url = pg_server.new_database()
    pg_types = [(" INTEGER PRIMARY KEY AUTOINCREMENT", " BIGSERIAL PRIMARY KEY"),
                (" REAL", " DOUBLE PRECISION"), (" TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
                                                 " TEXT DEFAULT now()::text"),
                (" TIMESTAMP", " TEXT"), ("tokens INTEGER", "tokens BIGINT")]
    with psycopg.connect(url) as conn:
        for sql in RELEASE_05C3A78:
            for old, new in pg_types:
                sql = sql.replace(old, new)
            conn.execute(sql)
        for video_id, status, text in ROWS:
            conn.execute("INSERT INTO videos (video_id, url, duration_seconds, status, "
                         "transcript, completed_at, tokens, error_kind) "
                         "VALUES (%s, %s, 90.0, %s, %s, %s, %s, %s)",
                         (video_id, f"https://www.youtube.com/watch?v={video_id}", status,
                          text, "2024-01-02 03:04:05" if text else None, 5 if text else None,
                          "private" if status == "error" else None))
    before = _pg_columns(url)
    stats = json.loads(ok("--db", url, "stats", "--json"))
    assert (stats["total"], stats["pending"], stats["completed"], stats["error"],
            stats["tokens_completed"]) == (4, 2, 1, 1, 5)
    ok("--db", url, "monitor", "--once")
    out = tmp_path / "out.jsonl"
    ok("--db", url, "export", str(out))
    assert [json.loads(line)["video_id"] for line in out.read_text().splitlines()] \
        == ["ccccccccccc"]
    assert [e["kind"] for e in json.loads(ok("--db", url, "errors", "--json"))] == ["private"]
    assert _pg_columns(url) == before  # never upgraded

    ok("--db", url, "init")
    assert {c for t, c, _ in _pg_columns(url) if t == "videos"} \
        >= {name for name, _, _ in COLUMNS}
    assert json.loads(ok("--db", url, "stats", "--json"))["total"] == 4
