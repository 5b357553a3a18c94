"""Database outages of any length are node faults, through `ytcorpus work` on a real
PostgreSQL server that goes down for longer than the worker's retry window
(YTCORPUS_DB_OUTAGE_WAIT_S, 2 s here; before, a fixed 60 s, then exit 1 and finished
transcripts redone): without --exit-when-empty the worker pauses and stores the
transcripts it finished when the server is back; with it, the worker stops claiming,
stores what it finished once the server is back, releases the rest uncharged and exits
75."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEMO, PLUGIN_ENV, run_cli, wait_for
from ytcorpus.queue import open_queue

pytestmark = pytest.mark.slow
ENV = {**PLUGIN_ENV, "YTCORPUS_DB_OUTAGE_WAIT_S": "2"}


@pytest.fixture
def rows_of(tmp_path):
    def add(url: str, n: int) -> None:
        copies = []
        for k in range(n):
            target = tmp_path / f"clip{k}.wav"
            target.write_bytes((DEMO / "arctic_a0007.wav").read_bytes() + b"")
            copies.append(str(target))
        assert run_cli("--db", url, "add", *copies).returncode == 0
    return add


def _rows(url: str) -> list[dict]:
    with open_queue(url) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT video_id, status, attempts, crashes, error_kind FROM videos")
        return [dict(r) for r in cur.fetchall()]


def _worker(url: str, tmp_path: Path, *extra: str,
            seconds_per_batch: float = 0.5) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"worker-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ytcorpus", "--db", url, "work", "--device", "cpu",
         "--engine", "fault_engines:SlowEngine", "--model", str(seconds_per_batch),
         "--batch-size", "1", "--prepare-threads", "1", "--lease", "120",
         "--work-dir", str(tmp_path / "w"),
         *extra], stdout=open(log, "w"), stderr=subprocess.STDOUT,
        env={**os.environ, **ENV})
    return proc, log


def _completed_lines(log: Path) -> list[str]:
    return re.findall(r"completed (\S+):", log.read_text())


def test_an_outage_longer_than_the_window_pauses_and_redoes_nothing(tmp_path, pg_server,
                                                                    rows_of):
    url = pg_server.new_database()
    rows_of(url, 6)
    proc, log = _worker(url, tmp_path)
    try:
        wait_for(lambda: len(_completed_lines(log)) >= 1, timeout=120)
        pg_server.down()
        try:
            time.sleep(8)  # four times the retry window
            assert proc.poll() is None, log.read_text()[-3000:]  # paused, not ended
        finally:
            pg_server.up()
        wait_for(lambda: all(r["status"] == "completed" for r in _rows(url)), timeout=240)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    done = _completed_lines(log)
    assert sorted(done) == sorted(set(done)) and len(done) == 6  # each stored once
    assert all(r["attempts"] == 0 and r["crashes"] == 0 for r in _rows(url))
    assert "lease of" not in log.read_text()  # no finished transcript was lost


def test_with_exit_when_empty_finished_transcripts_wait_for_the_database(tmp_path,
                                                                        pg_server, rows_of):
    """An outage past the retry window, shorter than the rows' leases: what the worker
    finished is stored when the server is back, nothing is charged or redone. Exit 0 when
    every row was claimed before the outage; 75 (the node was blocked) when a claim met
    it, the rows it did not finish released uncharged."""
    url = pg_server.new_database()
    rows_of(url, 12)
    proc, log = _worker(url, tmp_path, "--exit-when-empty")
    try:
        wait_for(lambda: len(_completed_lines(log)) >= 1, timeout=120)
        pg_server.down()
        try:
            time.sleep(8)  # four times the retry window
        finally:
            pg_server.up()
        code = proc.wait(180)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code in (0, 75), text[-3000:]
    assert "Traceback" not in text and "lease of" not in text
    rows = _rows(url)
    assert all(r["attempts"] == 0 and r["crashes"] == 0 and r["error_kind"] is None
               and r["status"] in ("completed", "pending") for r in rows), rows
    assert (code == 0) == all(r["status"] == "completed" for r in rows)
    assert len(_completed_lines(log)) == sum(r["status"] == "completed" for r in rows)


def test_with_exit_when_empty_an_outage_past_the_leases_exits_75(tmp_path, pg_server,
                                                                 rows_of):
    """Down for longer than the worker waits (half the lease): exit 75 (before: exit 1),
    no attempt charged; the rows come back when their leases end."""
    url = pg_server.new_database()
    rows_of(url, 8)
    proc, log = _worker(url, tmp_path, "--exit-when-empty", "--lease", "6",
                        seconds_per_batch=2.0)
    try:
        wait_for(lambda: len(_completed_lines(log)) >= 1, timeout=120)
        pg_server.down()
        try:
            code = proc.wait(120)
        finally:
            pg_server.up()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 75, text[-3000:]
    assert "Traceback" not in text
    assert all(r["attempts"] == 0 and r["error_kind"] is None for r in _rows(url))
