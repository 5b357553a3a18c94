"""The counters behind stats (queue/counts.py) stay exact through every transition,
on both backends, also with several processes changing rows at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ytcorpus.core.errors import video_error
from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue
from ytcorpus.queue.counts import status_counts
from ytcorpus.queue.migrate import migrate

CHURNER = str(Path(__file__).with_name("churner.py"))


def counted(q) -> dict:
    """What the counters should say, by counting every row (the slow way)."""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT status, COUNT(*) AS n FROM videos GROUP BY status")
        by_status = {r["status"]: int(r["n"]) for r in cur.fetchall()}
        q._exec(cur, "SELECT COALESCE(SUM(duration_seconds), 0) AS a, "
                     "COALESCE(SUM(tokens), 0) AS t FROM videos WHERE status = 'completed'")
        r = cur.fetchone()
        audio, tokens = float(r["a"]), int(r["t"])
        q._exec(cur, "SELECT COALESCE(error_kind, 'unknown') AS k, COUNT(*) AS n FROM videos "
                     "WHERE status = 'error' GROUP BY error_kind")
        kinds = {r["k"]: int(r["n"]) for r in cur.fetchall()}
    return {"total": sum(by_status.values()),
            **{k: by_status.get(k, 0) for k in ("pending", "processing", "completed", "error")},
            "audio": pytest.approx(audio), "tokens": tokens, "kinds": kinds}


def from_counters(q) -> dict:
    s = q.stats()
    return {"total": s.total, "pending": s.pending, "processing": s.processing,
            "completed": s.completed, "error": s.error, "audio": s.audio_seconds_completed,
            "tokens": s.tokens_completed, "kinds": s.errors_by_kind}


def exact(q) -> dict:
    now = from_counters(q)
    assert now == counted(q)
    return now


def _videos(n: int, prefix: str = "v") -> list[Video]:
    return [Video(video_id=f"{prefix}{i:09d}", url=f"https://example.org/{prefix}{i}",
                  duration_seconds=10.0 + i) for i in range(n)]


def test_counters_follow_every_transition(db_url):
    q = open_queue(db_url, retry_base_s=0.0, retry_max_s=0.0)
    q.add(_videos(12))
    q.add(_videos(12))  # duplicates change nothing
    assert exact(q)["pending"] == 12
    claims = q.claim("w1", 10)
    assert exact(q)["processing"] == 10
    ids = [c.video_id for c in claims]
    q.complete("w1", ids[0], Result(transcript="a b c", duration_seconds=61.5, tokens=7))
    q.complete_many("w1", [(ids[1], Result(transcript="d", duration_seconds=3.25, tokens=2)),
                           (ids[0], Result(transcript="again", tokens=1))])  # not held: no-op
    assert exact(q)["completed"] == 2 and from_counters(q)["tokens"] == 9
    assert q.fail("w1", ids[2], video_error("private", "private", ids[2])) == "error"
    assert q.fail("w1", ids[3], video_error("network", "reset", ids[3])) == "pending"
    q.fail("w1", ids[4], video_error("disk_full", "full", ids[4]))  # the node's: uncharged
    q.release("w1", [ids[5]])
    q.heartbeat("w1", ids[6:8], lease_s=120)
    assert exact(q)["kinds"] == {"private": 1}
    q.claim("w2", 5, lease_s=-1)  # leases already over
    q.reap_expired()
    exact(q)
    q.requeue_errors("private")
    assert exact(q)["error"] == 0
    for _ in range(4):  # crashes until worker_crash
        q.claim("w3", 20, lease_s=-1)
        q.reap_expired()
    assert exact(q)["kinds"].get("worker_crash", 0) > 0
    q.requeue_errors()
    exact(q)
    held = exact(q)["processing"]
    q.claim("lost-node-1", 3)  # a machine lost: its rows back uncharged
    assert exact(q)["processing"] == held + 3
    q.release_worker("lost-node")
    assert exact(q)["processing"] == held
    q.close()


def test_counters_of_staged_rows_and_reclaimed_completions(db_url):
    from ytcorpus.queue.staging import mark_staged

    q = open_queue(db_url)
    q.add(_videos(3, "s"))
    fetched = q.claim("fetcher", 3)
    assert mark_staged(q, "fetcher", fetched[0].video_id, staged_path="a.opus", seconds=42.0,
                       size=1000)
    assert exact(q)["pending"] == 1
    claim = q.claim("gpu", 1, staged=True)[0]
    q.complete("gpu", claim.video_id, Result(transcript="x", duration_seconds=40.0, tokens=3))
    # completed twice (at-least-once): the counters count the row once, at its new values
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET status = 'processing', worker = 'gpu' "
                     "WHERE video_id = ?", (claim.video_id,))
    q.complete("gpu", claim.video_id, Result(transcript="y", duration_seconds=41.0, tokens=5))
    assert exact(q)["completed"] == 1 and from_counters(q)["tokens"] == 5
    q.close()


def churn(db_url: str, rows: int, per_process: int, processes: int = 4) -> None:
    """`processes` churners (tests/queue/churner.py) at once over `rows` fresh rows."""
    with open_queue(db_url) as q:
        q.add(_videos(rows, "c"))
    procs = [subprocess.Popen([sys.executable, CHURNER, db_url, f"p{i}", str(i),
                               str(per_process)], stderr=subprocess.PIPE)
             for i in range(processes)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]


def test_counters_stay_exact_with_processes_working_at_once(db_url):
    churn(db_url, 400, 40)
    with open_queue(db_url) as q:
        now = exact(q)
    assert now["completed"] > 0 and now["error"] > 0 and now["total"] == 400


def test_migrate_carries_the_counters(tmp_path, pg_server):
    src = str(tmp_path / "src.db")
    with open_queue(src) as q:
        q.add(_videos(20, "m"))
        for c in q.claim("w", 6):
            q.complete("w", c.video_id, Result(transcript="t", duration_seconds=5, tokens=4))
        q.fail("w", q.claim("w", 1)[0].video_id, "private")
        q.claim("w", 2)  # processing: arrives as pending
    dst_url = pg_server.new_database()
    with open_queue(src) as s, open_queue(dst_url) as d:
        migrate(s, d)
        assert exact(d) == {**exact(s), "pending": 13, "processing": 0}


def test_upgrade_builds_the_counters_of_an_existing_database(db_url):
    with open_queue(db_url) as q:
        q.add(_videos(30, "u"))
        for c in q.claim("w", 10):
            q.complete("w", c.video_id, Result(transcript="t", duration_seconds=2.5, tokens=3))
        q.fail("w", q.claim("w", 1)[0].video_id, "removed")
        before = exact(q)
        # as a version-5 database: no counters, no triggers
        with q._write_tx() as cur:
            for event in ("insert", "update", "delete"):
                q._exec(cur, f"DROP TRIGGER IF EXISTS videos_counts_{event}"
                             + (" ON videos" if q.backend == "postgres" else ""))
            q._exec(cur, "DROP TABLE queue_counts")
            q._exec(cur, "UPDATE schema_version SET version = 5")
            q._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL "
                         "WHERE status = 'processing'")  # a change the counters never saw
    with open_queue(db_url) as q:
        after = exact(q)
        assert after == {**before, "pending": before["pending"] + before["processing"],
                         "processing": 0}
        q.add(_videos(35, "u"))
        assert exact(q)["total"] == 35


def test_sqlite_counters_live_in_the_file(tmp_path):
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add(_videos(5))
    rows = sqlite3.connect(db).execute(
        "SELECT status, kind, SUM(n) FROM queue_counts GROUP BY status, kind").fetchall()
    assert rows == [("pending", "", 5)]
    assert status_counts(open_queue(db, read_only=True)).pending == 5


def _shared_shard_pair(url: str) -> tuple:
    """Two connections whose backends the old trigger put on one shard (pid % 32): among
    33 connections two always are."""
    import psycopg

    seen: dict[int, psycopg.Connection] = {}
    spare = []
    for _ in range(33):
        conn = psycopg.connect(url)
        pid = conn.info.backend_pid
        if pid % 32 in seen:
            first = seen[pid % 32]
            for c in spare:
                if c is not first:
                    c.close()
            return first, conn
        seen[pid % 32] = conn
        spare.append(conn)
    raise AssertionError("pigeonhole")  # pragma: no cover


def test_postgres_transactions_never_wait_on_each_others_counters(pg_server):
    """Two backends changing rows of the same statuses at once: neither waits for the
    other's counter rows (shards pid % 32 let two backends share one, and a claim that
    reaped first could deadlock with a neighbour; seen with eight claimers)."""
    url = pg_server.new_database()
    with open_queue(url) as q:
        q.add(_videos(10, "k"))
        q.claim("w", 4)
    a, b = _shared_shard_pair(url)
    try:
        b.execute("SET lock_timeout = '2s'")
        # a: processing -> pending, then pending -> processing (a reap, then a claim)
        a.execute("UPDATE videos SET status = 'pending' WHERE video_id = 'k000000000'")
        a.execute("UPDATE videos SET status = 'processing' WHERE video_id = 'k000000009'")
        # b, while a is open: the same statuses, other rows, other order
        b.execute("UPDATE videos SET status = 'processing' WHERE video_id = 'k000000008'")
        b.execute("UPDATE videos SET status = 'pending' WHERE video_id = 'k000000001'")
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    with open_queue(url) as q:
        assert exact(q)["processing"] == 4


def test_postgres_checkpoint_folds_the_counters_of_ended_connections(pg_server):
    import psycopg

    url = pg_server.new_database()
    with open_queue(url) as q:
        q.add(_videos(6, "f"))
    for i in range(5):  # five connections that end, each leaving its own counter rows
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE videos SET status = 'error', error_kind = 'private' "
                         "WHERE video_id = %s", (f"f00000000{i}",))
    with open_queue(url) as q:
        before = exact(q)
        with q._read_tx() as cur:
            cur.execute("SELECT COUNT(DISTINCT shard) AS n FROM queue_counts")
            assert cur.fetchone()["n"] >= 5
        q.checkpoint()
        assert exact(q) == before == {**before, "pending": 1, "error": 5}
        with q._read_tx() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM queue_counts WHERE shard <> 0 AND shard "
                        "NOT IN (SELECT pid FROM pg_stat_activity)")
            assert cur.fetchone()["n"] == 0


def test_postgres_queue_with_shared_shards_gets_the_new_trigger(pg_server):
    from ytcorpus.queue import counts

    url = pg_server.new_database()
    with open_queue(url) as q:
        q.add(_videos(3, "o"))
        with q._write_tx() as cur:  # the functions as version 6 made them
            for sql in counts.pg_functions():
                cur.execute(sql.replace("pg_backend_pid()", counts.OLD_SHARD))
            cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ytcorpus_counts_update'")
            assert counts.OLD_SHARD in cur.fetchone()["prosrc"]
    with open_queue(url, read_only=True) as q:  # a reader changes nothing
        with q._read_tx() as cur:
            cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ytcorpus_counts_insert'")
            assert counts.OLD_SHARD in cur.fetchone()["prosrc"]
    with open_queue(url) as q:
        with q._read_tx() as cur:
            cur.execute("SELECT prosrc FROM pg_proc WHERE proname LIKE 'ytcorpus_counts_%'")
            assert all(counts.OLD_SHARD not in r["prosrc"] for r in cur.fetchall())
        q.claim("w", 2)
        assert exact(q)["processing"] == 2
