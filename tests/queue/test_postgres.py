"""PostgreSQL specifics against a real server: migrate round trip, passwords never shown,
every command through a postgresql:// URL."""

from __future__ import annotations

import json

import pytest

from conftest import DEMO, run_cli
from ytcorpus.core.errors import PermanentError, QueueError
from ytcorpus.models import Result, Segment
from ytcorpus.queue import open_queue, redact


def test_migrate_round_trip_loses_and_duplicates_nothing(tmp_path, pg_server):
    src_db = str(tmp_path / "data.db")
    with open_queue(src_db) as q:
        q.add([f"m{i:010d}" for i in range(12_000)], source="seed", priority=2)
        claims = q.claim("w", 3)
        q.complete("w", claims[0].video_id, Result("hello", [Segment(0, 1, "hello")],
                                                   duration_seconds=1.0, tokens=1))
        q.fail("w", claims[1].video_id, PermanentError("gone", kind="private"))
        # claims[2] stays processing: it arrives as pending
    url = pg_server.new_database()
    out = run_cli("migrate", "--from", src_db, "--to", url)
    assert out.returncode == 0, out.stderr
    assert "12,000 copied" in out.stdout and "missing 0" in out.stdout
    again = run_cli("migrate", "--from", src_db, "--to", url)
    assert "0 copied, 12,000 already in" in again.stdout
    with open_queue(url) as pg:
        s = pg.stats()
        assert (s.total, s.completed, s.error, s.processing) == (12_000, 1, 1, 0)
        row = pg.get(claims[0].video_id)
        assert row["transcript"] == "hello" and json.loads(row["segments"])[0]["text"] == "hello"
        assert pg.get(claims[1].video_id)["error_kind"] == "private"
        assert pg.get(claims[2].video_id)["status"] == "pending"
        assert pg.get("m0000000099")["source"] == "seed"
        # completion numbers continue above the migrated rows: an incremental export of
        # the new queue takes the migrated row, then later ones, each once
        first = pg.get(claims[0].video_id)["completed_seq"]
        [c] = pg.claim("w2", 1)
        pg.complete("w2", c.video_id, Result("later"))
        assert pg.get(c.video_id)["completed_seq"] > first >= 1
        assert [r["video_id"] for r in pg.iter_completed(after_seq=first)] == [c.video_id]


def test_password_never_appears(pg_server):
    secret_url = pg_server.base_url.replace("ytcorpus@", "ytcorpus:hunter2@") + "/nosuchdb"
    assert "hunter2" not in redact(secret_url) and "***" in redact(secret_url)
    with pytest.raises(QueueError) as info:
        open_queue(secret_url)
    assert "hunter2" not in str(info.value)
    out = run_cli("--db", secret_url, "stats")
    assert out.returncode == 1 and "hunter2" not in out.stderr + out.stdout


def test_every_command_works_against_postgres(tmp_path, pg_server):
    url = pg_server.new_database()
    assert run_cli("--db", url, "init").returncode == 0
    assert run_cli("--db", url, "add", "dQw4w9WgXcQ", "aaaaaaaaaa1").returncode == 0
    with open_queue(url) as q:
        [c] = q.claim("w", 1)
        q.complete("w", c.video_id, Result("text here", duration_seconds=5.0, tokens=2))
    stats = json.loads(run_cli("--db", url, "stats", "--json").stdout)
    assert (stats["total"], stats["completed"], stats["pending"]) == (2, 1, 1)
    assert run_cli("--db", url, "monitor", "--once").returncode == 0
    out = tmp_path / "x.jsonl"
    assert run_cli("--db", url, "export", str(out)).returncode == 0
    assert json.loads(out.read_text())["transcript"] == "text here"
    assert run_cli("--db", url, "requeue", "--stale").returncode == 0
    clip = str(DEMO / "arctic_a0007.wav")
    assert run_cli("--db", url, "add", clip).returncode == 0
    with open_queue(url) as q:  # leave only the local clip claimable
        q.claim("elsewhere", 1)
    done = run_cli("work", "--exit-when-empty", "--device", "cpu", "--model", "tiny.en",
                   env={"YTCORPUS_DB": url})
    assert done.returncode == 0, done.stderr[-2000:]
    with open_queue(url) as q:
        assert q.stats().completed == 2
        assert "superlative" in [r for r in q.iter_completed()][-1]["transcript"]
