"""The whole pipeline as users run it: real HTTP server, real yt-dlp, real model,
`ytcorpus work` as a real subprocess; signals, kill -9, two workers on one file."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import DEMO, run_cli, wait_for, wer
from ytcorpus.queue import open_queue

pytestmark = pytest.mark.slow
WORK = [sys.executable, "-m", "ytcorpus"]


@pytest.fixture(scope="module")
def served(media_dir, media_server):
    for name in ("photosynthesis.webm", "derivatives.m4a", "arctic_a0007.wav"):
        shutil.copy(DEMO / name, media_dir / name)
    (media_dir / "corrupt.mp3").write_bytes(b"\xff\xfb" + os.urandom(5000))
    return media_server


def _completed_ids(*logs: Path) -> Counter:
    ids: Counter = Counter()
    for log in logs:
        ids.update(re.findall(r"completed (\S+):", log.read_text()))
    return ids


def _worker(db: str, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*WORK, "--db", db, "work", "--device", "cpu", "--model", "tiny.en",
                             *extra], stdout=open(log, "w"), stderr=subprocess.STDOUT)


def test_end_to_end_add_then_work_until_empty(tmp_path, served, media_dir):
    refs = json.loads((DEMO / "transcripts.json").read_text())
    db, work_dir = str(tmp_path / "data.db"), tmp_path / "work"
    local = tmp_path / "local.wav"
    shutil.copy(DEMO / "arctic_a0007.wav", local)
    sources = [served.url("photosynthesis.webm"), served.url("derivatives.m4a"), str(local),
               served.url("missing.mp3", "404"), served.url("corrupt.mp3")]
    assert run_cli("--db", db, "add", *sources, "--source", "e2e").returncode == 0
    done = run_cli("--db", db, "work", "--device", "cpu", "--model", "tiny.en",
                   "--exit-when-empty", "--work-dir", str(work_dir), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open_queue(db) as q:
        rows = {r["url"]: r for r in (q.get(v) for v in _all_ids(q))}
    expected = {sources[0]: "photosynthesis.webm", sources[1]: "derivatives.m4a",
                local.as_uri(): "arctic_a0007.wav"}
    for url, name in expected.items():
        row = rows[url]
        assert row["status"] == "completed", row
        assert wer(refs[name], row["transcript"]) <= 0.25
        segments = json.loads(row["segments"])
        assert segments and all(s["end"] >= s["start"] for s in segments)
        assert row["speed_ratio"] > 0 and row["processing_time_seconds"] > 0
        assert row["tokens"] > 5 and row["model"] == "tiny.en" and row["language"] == "en"
        assert row["source"] == "e2e"
    assert rows[sources[0]]["title"] == "photosynthesis"
    assert (rows[sources[3]]["status"], rows[sources[3]]["error_kind"]) == ("error", "not_found")
    assert (rows[sources[4]]["status"], rows[sources[4]]["error_kind"]) == ("error", "corrupt")
    assert local.exists()  # the user's own file is never deleted
    assert not work_dir.exists() or not list(work_dir.iterdir())  # temp audio deleted


def _all_ids(q) -> list[str]:
    with q._read_tx() as cur:
        q._exec(cur, "SELECT video_id FROM videos ORDER BY id")
        return [r["video_id"] for r in cur.fetchall()]


def _queue_copies(db: str, served, n: int, name: str = "arctic_a0007.wav") -> None:
    urls = [served.url(name) + f"?copy={i}" for i in range(n)]
    assert run_cli("--db", db, "add", *urls).returncode == 0


def _first_worker_running(tmp_path, served, copies: int, lease: str):
    """A queue of copies and one worker, once it has completed its first row."""
    db = str(tmp_path / "data.db")
    _queue_copies(db, served, copies)
    first, second = tmp_path / "w1.log", tmp_path / "w2.log"
    proc = _worker(db, first, "--batch-size", "1", "--lease", lease, "--work-dir",
                   str(tmp_path / "work"))
    wait_for(lambda: "completed" in first.read_text(), timeout=120)
    return db, proc, first, second


def test_sigterm_finishes_in_flight_releases_the_rest_and_exits_0(tmp_path, served):
    db, proc, first, second = _first_worker_running(tmp_path, served, 12, lease="30")
    started = time.time()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert time.time() - started < 30  # within the lease
    with open_queue(db) as q:
        s = q.stats()
        assert s.processing == 0 and s.completed >= 1 and s.completed + s.pending == 12
    again = _worker(db, second, "--exit-when-empty", "--work-dir", str(tmp_path / "work"))
    assert again.wait(timeout=300) == 0
    done = _completed_ids(first, second)
    assert len(done) == 12 and max(done.values()) == 1
    with open_queue(db) as q:
        assert q.stats().completed == 12


def test_kill_9_then_a_second_worker_completes_every_row_once(tmp_path, served):
    db, proc, first, second = _first_worker_running(tmp_path, served, 10, lease="3")
    proc.kill()
    proc.wait()
    with open_queue(db) as q:
        assert q.stats().processing > 0  # the dead worker's claims are still leased
    time.sleep(3.5)  # its leases run out
    again = _worker(db, second, "--exit-when-empty", "--lease", "30",
                    "--work-dir", str(tmp_path / "work"))
    assert again.wait(timeout=300) == 0
    done = _completed_ids(first, second)
    assert len(done) == 10 and max(done.values()) == 1
    with open_queue(db) as q:
        s = q.stats()
        assert (s.completed, s.processing, s.pending) == (10, 0, 0)


def test_two_workers_on_one_sqlite_file_never_share_a_row(tmp_path, served):
    db = str(tmp_path / "data.db")
    _queue_copies(db, served, 10)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_worker(db, log, "--exit-when-empty", "--batch-size", "2",
                     "--work-dir", str(tmp_path / f"work{i}")) for i, log in enumerate(logs)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    done = _completed_ids(*logs)
    assert len(done) == 10 and max(done.values()) == 1


def test_launch_starts_one_cpu_worker_and_stop_stops_it(tmp_path, served):
    db = str(tmp_path / "data.db")
    _queue_copies(db, served, 2)
    env = {**os.environ, "YTCORPUS_DB": db, "YTCORPUS_LOG_DIR": str(tmp_path / "logs"),
           "PATH": "/usr/bin:/bin"}  # no nvidia-smi: the CPU path
    launch = subprocess.Popen([sys.executable, "-m", "ytcorpus", "launch", "--", "--model",
                               "tiny.en", "--work-dir", str(tmp_path / "work")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid_file = tmp_path / "logs" / "workers.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60)
    wait_for(lambda: " ready: " in (tmp_path / "logs" / "worker-cpu.log").read_text(),
             timeout=120)
    worker_pid = int(pid_file.read_text().split()[0])
    assert pid_file.read_text().split()[1] == "cpu"
    wait_for(lambda: _done(db) == 2, timeout=120)
    stop = subprocess.run([sys.executable, "-m", "ytcorpus", "launch", "stop"], env=env,
                          capture_output=True, text=True, timeout=150)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "all workers stopped" in stop.stdout
    out, _ = launch.communicate(timeout=60)
    assert launch.returncode == 0
    assert "no GPU found: starting one CPU worker" in out
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
    log = (tmp_path / "logs" / "worker-cpu.log").read_text()
    assert "worker" in log and "done:" in log  # it shut down cleanly


def _done(db: str) -> int:
    with open_queue(db) as q:
        return q.stats().completed


def test_cuda_out_of_memory_halves_the_batch_and_goes_on(tmp_path, served):
    """No GPU here: the real engine is wrapped so any batch of more than 2 chunks raises
    the error torch raises on CUDA OOM; the worker must halve the batch, split the failed
    one and store everything."""
    from ytcorpus.core.config import FetchConfig, WorkerConfig
    from ytcorpus.engines import load_engine
    from ytcorpus.acquire.ytdlp import Fetcher
    from ytcorpus.work.worker import Worker

    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    real = engine.transcribe_chunks
    seen = []

    def transcribe_chunks(items, languages=None):
        seen.append(len(items))
        if len(items) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(items)

    engine.transcribe_chunks = transcribe_chunks
    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add([served.url("arctic_a0007.wav") + f"?oom={i}" for i in range(4)])
        config = WorkerConfig(download_threads=2, prefetch=4, lease=60, exit_when_empty=True)
        worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp_path / "w"))), config,
                        name="oom-test")
        assert worker.run() == 0
        assert q.stats().completed == 4 and q.stats().error == 0
    assert seen[0] > 2 and all(n <= 2 for n in seen[1:])
    assert worker.loop.guard.batch_size <= 2
