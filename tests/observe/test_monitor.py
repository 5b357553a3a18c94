"""stats --json and monitor --once on a database with known contents."""

from __future__ import annotations

import json
import time

from conftest import ROOT, run_cli
from ytcorpus.core.errors import PermanentError
from ytcorpus.models import Result, Video
from ytcorpus.observe.monitor import collect, sparkline
from ytcorpus.queue import open_queue


def _known_db(path: str) -> None:
    with open_queue(path) as q:
        q.add(Video(video_id=f"k{i:010d}", url="u") for i in range(1500))
        q.register_worker("gpu-node-1", device="cuda:0", model="distil-large-v3", lease_s=600)
        q.register_worker("gpu-node-2", device="cuda:1", model="distil-large-v3", lease_s=0.01)
        claims = q.claim("gpu-node-1", 1203)
        q.complete_many("gpu-node-1", [(c.video_id, Result("text", duration_seconds=3.6,
                                                           processing_time_seconds=0.1,
                                                           tokens=12)) for c in claims[:1200]])
        q.fail("gpu-node-1", claims[1200].video_id, PermanentError("p", kind="private"))
        q.fail("gpu-node-1", claims[1201].video_id, PermanentError("p", kind="private"))
        q.fail("gpu-node-1", claims[1202].video_id, PermanentError("x", kind="corrupt"))
        q.claim("gpu-node-2", 7)  # the dead worker's rows stay in processing
        with q._write_tx() as cur:  # the fleet has run for two hours
            cur.execute("UPDATE workers SET started_at = started_at - 7200")
    time.sleep(0.05)


def test_stats_json_numbers(tmp_path):
    db = str(tmp_path / "data.db")
    _known_db(db)
    data = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert (data["total"], data["pending"], data["processing"], data["completed"],
            data["error"]) == (1500, 290, 7, 1200, 3)
    assert data["audio_seconds_completed"] == 4320.0 and data["audio_hours_completed"] == 1.2
    assert data["tokens_completed"] == 14_400
    assert data["errors_by_kind"] == {"private": 2, "corrupt": 1}
    assert data["active_workers"] == 1
    assert data["last_5m"]["videos"] == 1200
    assert data["x_realtime_5m"] == round(4320 / 300, 3)
    assert data["eta_seconds"] > 0 and data["tokenizer"]
    alive = {w["worker"]: w["alive"] for w in data["workers"]}
    assert alive == {"gpu-node-1": True, "gpu-node-2": False}


def test_monitor_once_prints_exact_counts(tmp_path):
    db = str(tmp_path / "data.db")
    _known_db(db)
    out = run_cli("--db", db, "monitor", "--once", "--target", "1000000",
                  env={"COLUMNS": "160"})
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for expected in ("1,500 total", "290 pending", "7 processing", "1,200 completed", "3 error",
                     "1.20 hours", "14,400 of 1,000,000", "private: 2", "corrupt: 1",
                     "gpu-node-1", "gpu-node-2", "active", "gone", "1 active"):
        assert expected in text, expected
    assert "K " not in text and "1.5K" not in text  # exact counts, no abbreviations


def test_top_level_monitor_py_shim(tmp_path):
    import subprocess
    import sys

    db = str(tmp_path / "data.db")
    _known_db(db)
    out = subprocess.run([sys.executable, str(ROOT / "monitor.py"), "--once", "--db", db],
                         capture_output=True, text=True, cwd=tmp_path,  # any directory
                         env={"COLUMNS": "160", "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert "1,200 completed" in out.stdout


def test_monitor_is_read_only(tmp_path):
    db = str(tmp_path / "data.db")
    _known_db(db)
    time.sleep(0.05)
    with open_queue(db) as q:
        before = q.stats()
        collect(q)
        assert q.stats() == before  # the dead worker's rows were not reaped by watching


def test_sparkline():
    assert sparkline([0, 0]) == "  "
    assert sparkline([0, 4, 8]) == " ▄█"


def test_a_young_fleet_is_measured_over_its_own_lifetime(tmp_path):
    with open_queue(str(tmp_path / "data.db")) as q:
        q.add(["aaaaaaaaaa1"])
        q.register_worker("w1", lease_s=600)
        [c] = q.claim("w1", 1)
        q.complete("w1", c.video_id, Result("t", duration_seconds=600.0))
        with q._write_tx() as cur:
            cur.execute("UPDATE workers SET started_at = ?", (time.time() - 60,))
        data = collect(q)
    assert 9.0 < data["x_realtime_5m"] < 10.5  # 600 s of audio in its 60 s of life
    assert data["x_realtime_5m"] == data["x_realtime_1h"]
    assert 9.0 < data["workers"][0]["x_realtime_5m"] < 10.5


def test_target_accepts_short_forms():
    import pytest

    from ytcorpus.core.errors import ConfigError
    from ytcorpus.observe.monitor import parse_count

    assert parse_count("100B") == 100e9 and parse_count("10M") == 10e6
    assert parse_count("1.5K") == 1500 and parse_count("1000000") == 1e6
    assert parse_count("2e9") == 2e9 and parse_count("1,000") == 1000
    for bad in ("lots", "0", "-5M", "M"):
        with pytest.raises(ConfigError, match="--target"):
            parse_count(bad)


def test_queue_eta_and_a_window_that_ignores_workers_gone_before_it(tmp_path):
    with open_queue(str(tmp_path / "data.db")) as q:
        q.add([f"aaaaaaaaa{i:02d}" for i in range(30)])
        q.register_worker("old", lease_s=600)
        q.register_worker("w1", lease_s=600)
        claims = q.claim("w1", 10)
        q.complete_many("w1", [(c.video_id, Result("t", duration_seconds=60.0))
                               for c in claims])
        with q._write_tx() as cur:  # "old" ran yesterday; w1 started 100 s ago
            cur.execute("UPDATE workers SET started_at = ?, last_seen = ?, state = 'stopped' "
                        "WHERE worker = 'old'", (time.time() - 86400, time.time() - 80000))
            cur.execute("UPDATE workers SET started_at = ? WHERE worker = 'w1'",
                        (time.time() - 100,))
        data = collect(q)
    assert 5.5 < data["x_realtime_5m"] < 6.1  # 600 s of audio in w1's 100 s, not in 300 s
    assert data["pending"] == 20
    assert 180 < data["queue_eta_seconds"] < 220  # 20 left at 0.1 video/s


def test_monitor_prints_a_line_per_interval_when_piped(tmp_path):
    import subprocess
    import sys

    db = str(tmp_path / "data.db")
    _known_db(db)
    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "--db", db, "monitor",
                             "--interval", "0.2", "--target", "10M"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for line in lines:
        assert "1,500 total" in line and "1,200 completed" in line and "queue ETA" in line


def test_extra_rows_show_downloads_and_staging_when_stats_has_them():
    from ytcorpus.observe.monitor import extra_rows

    assert extra_rows({"audio_bytes_downloaded": 0, "staged_videos": 0}) == []
    rows = dict(extra_rows({"audio_bytes_downloaded": 1_500_000_000, "audio_gb_downloaded": 1.5,
                            "mb_per_audio_hour": 30.0, "staged_videos": 1234,
                            "staged_hours": 12.5, "circuit": {"node-1": "open"}}))
    assert rows["downloaded"] == "1.500 GB (30.0 MB per audio hour)"
    assert rows["staged"] == "1,234 videos, 12.50 h ready for GPU workers"
    assert rows["circuit"] == "node-1: open"


def test_a_blocked_worker_shows_its_circuit_and_why(db_url):
    """The worker's heartbeat carries its circuit state; stats and the monitor show it."""
    with open_queue(db_url) as q:
        q.register_worker("node-a", device="cuda:0", model="m", lease_s=600)
        q.register_worker("node-b", device="cuda:0", model="m", lease_s=600)
        q.heartbeat("node-a", [], 600, state="blocked: circuit open for 60 s more "
                                              "(rate_limited: HTTP Error 429)")
        q.heartbeat("node-b", [], 600, state="running")
        q.heartbeat("node-b", [], 600)  # no state: the last one stays
        data = collect(q)
    assert data["active_workers"] == 2
    assert data["circuits"] == {"node-a": "blocked: circuit open for 60 s more "
                                          "(rate_limited: HTTP Error 429)"}
    out = run_cli("--db", db_url, "monitor", "--once", env={"COLUMNS": "240"})
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "circuits" in line)
    assert "node-a" in row and "rate_limited: HTTP Error 429" in row and "node-b" not in row
    assert "blocked" in next(line for line in out.stdout.splitlines()
                             if "node-a" in line and "cuda:0" in line)
    with open_queue(db_url) as q:
        q.heartbeat("node-a", [], 600, state="running")
        assert collect(q)["circuits"] == {}
