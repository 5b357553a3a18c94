"""Many real processes on one queue: every row claimed and completed exactly once,
also when processes are killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ytcorpus.models import Video
from ytcorpus.queue import open_queue

CLAIMER = str(Path(__file__).with_name("claimer.py"))


def _seed(db: str, n: int) -> list[str]:
    ids = [f"c{i:010d}" for i in range(n)]
    with open_queue(db) as q:
        q.add(Video(video_id=i, url=f"https://www.youtube.com/watch?v={i}") for i in ids)
    return ids


def _spawn(db, name, log, lease=30.0, work=0.0):
    return subprocess.Popen([sys.executable, CLAIMER, db, name, str(log), str(lease), str(work)],
                            stderr=subprocess.PIPE)


@pytest.mark.slow
def test_eight_processes_claim_every_row_exactly_once(db_url, tmp_path):
    ids = _seed(db_url, 4000)
    log = tmp_path / "done.log"
    procs = [_spawn(db_url, f"p{i}", log) for i in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    done = Counter(log.read_text().split())
    assert set(done) == set(ids)
    assert max(done.values()) == 1
    with open_queue(db_url) as q:
        s = q.stats()
        assert (s.completed, s.pending, s.processing) == (4000, 0, 0)


@pytest.mark.slow
def test_kill_9_loses_nothing_and_leases_come_back(db_url, tmp_path):
    ids = _seed(db_url, 600)
    log = tmp_path / "done.log"
    rng = random.Random(7)
    live = [_spawn(db_url, f"k{i}", log, lease=1.0, work=0.05) for i in range(4)]
    kills = 0
    deadline = time.time() + 120
    while kills < 12 and time.time() < deadline:
        time.sleep(rng.uniform(0.1, 0.4))
        victim = live.pop(rng.randrange(len(live)))
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            kills += 1
        victim.wait()
        live.append(_spawn(db_url, f"k{kills}", log, lease=1.0, work=0.05))
    for p in live:
        p.wait(timeout=240)
    assert kills >= 5
    time.sleep(1.1)  # let the last leases of killed processes run out
    final = _spawn(db_url, "final", log, lease=5.0)
    final.wait(timeout=240)
    with open_queue(db_url) as q:
        s = q.stats()
        assert (s.completed, s.pending, s.processing, s.error) == (600, 0, 0, 0)
        assert all(r["transcript"] == r["video_id"] for r in q.iter_completed())
    done = Counter(log.read_text().split())
    assert max(done.values()) == 1  # complete() succeeded once per row at most
    assert set(done) <= set(ids)
    if not db_url.startswith("postgresql://"):
        with sqlite3.connect(db_url) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
