"""The command line as users and scripts call it: real subprocesses, real databases."""

from __future__ import annotations

import json

from conftest import run_cli


def test_help_explains_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("init", "add", "discover", "work", "stats", "monitor", "export",
                    "requeue", "transcribe", "download"):
        assert command in out.stdout
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "usage:" in sub.stdout


def test_init_add_stats_json(tmp_path):
    db = str(tmp_path / "data.db")
    assert run_cli("--db", db, "init").returncode == 0
    sources = tmp_path / "list.txt"
    sources.write_text("# a comment\nhttps://youtu.be/dQw4w9WgXcQ\n\nyoutube.com/shorts/"
                       "aaaaaaaaaa1\n")
    out = run_cli("--db", db, "add", "dQw4w9WgXcQ", "--from-file", str(sources),
                  "--priority", "3", "--source", "manual")
    assert out.returncode == 0, out.stderr
    assert "added 2, already queued 1, invalid 0" in out.stdout
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    for key in ("total", "pending", "processing", "completed", "error",
                "audio_seconds_completed", "tokens_completed", "errors_by_kind"):
        assert key in stats
    assert (stats["total"], stats["pending"], stats["completed"]) == (2, 2, 0)
    assert stats["errors_by_kind"] == {}


def test_add_exits_2_and_names_each_invalid_source(tmp_path):
    db = str(tmp_path / "data.db")
    out = run_cli("--db", db, "add", "dQw4w9WgXcQ", "nonsense", "https://youtu.be/bad")
    assert out.returncode == 2
    assert "nonsense" in out.stderr and "https://youtu.be/bad" in out.stderr
    assert "added 1" in out.stdout
    assert json.loads(run_cli("--db", db, "stats", "--json").stdout)["total"] == 1


def test_db_from_environment_and_db_url(tmp_path):
    db = str(tmp_path / "env.db")
    assert run_cli("add", "dQw4w9WgXcQ", env={"YTCORPUS_DB": db}).returncode == 0
    out = run_cli("stats", "--json", env={"DB_URL": db})
    assert json.loads(out.stdout)["total"] == 1


def test_requeue_needs_a_target_and_requeues(tmp_path):
    from ytcorpus.core.errors import PermanentError
    from ytcorpus.queue import open_queue

    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
        a, b = q.claim("w", 2, lease_s=0.01)
        q.fail("w", a.video_id, PermanentError("boom", kind="corrupt"))
    assert run_cli("--db", db, "requeue").returncode == 2  # a usage error
    out = run_cli("--db", db, "requeue", "--errors", "corrupt", "--stale")
    assert out.returncode == 0, out.stderr
    assert "stale leases returned to pending: 1" in out.stdout
    assert "errors requeued (corrupt): 1" in out.stdout
    assert json.loads(run_cli("--db", db, "stats", "--json").stdout)["pending"] == 2


def test_unusable_database_is_a_clear_error(tmp_path):
    out = run_cli("--db", str(tmp_path / "nope" / "x.db"), "stats")
    assert out.returncode == 1
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_worker_numbers_are_validated(tmp_path):
    for flag, value in (("--batch-size", "0"), ("--download-threads", "-1"),
                        ("--prefetch", "x"), ("--lease", "0")):
        out = run_cli("--db", str(tmp_path / "d.db"), "work", flag, value)
        assert out.returncode == 2 and flag in out.stderr and "Traceback" not in out.stderr
