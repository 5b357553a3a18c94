"""A fleet that survives its own faults, end to end through `ytcorpus work`: a node that
is rate limited, a dead device, a poison video that kills its worker."""

from __future__ import annotations

import os
import threading
import time
import wave
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import PLUGIN_ENV, DEMO, run_cli
from ytcorpus.core.audio import decode_to_mono16k
from ytcorpus.queue import open_queue

pytestmark = pytest.mark.slow
SR = 16000
# node faults put rows behind for 1 s instead of 30 s, a 429 host rests 1 s, not 60
ENV = {**PLUGIN_ENV, "YTCORPUS_NODE_BACKOFF_S": "1", "YTCORPUS_HOST_REST_S": "1"}


def _wav(path: Path, samples: np.ndarray) -> str:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.astype(np.int16).tobytes())
    return str(path)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    audio = decode_to_mono16k(DEMO / "arctic_a0007.wav")
    return (np.clip(audio, -1, 1) * 32000).astype(np.int16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, clip) -> list[str]:
    folder = tmp_path_factory.mktemp("clips")
    silence = np.zeros(SR // 2, np.int16)
    return [_wav(folder / f"clip{i}.wav", np.concatenate([silence] * (i % 2 + 1) + [clip]))
            for i in range(6)]


def _work(db: str, engine: str, *extra: str, timeout: float = 300):
    return run_cli("--db", db, "work", "--device", "cpu", "--engine", engine,
                   "--prepare-threads", "1", "--exit-when-empty", *extra,
                   env={**os.environ, **ENV}, timeout=timeout)


def _rows(db: str) -> list[dict]:
    with open_queue(db) as q:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT video_id, url, status, attempts, crashes, error_kind, "
                         "not_before FROM videos ORDER BY id")
            return [dict(r) for r in cur.fetchall()]


class _Switch(SimpleHTTPRequestHandler):
    blocked = True  # class attribute, flipped by the test

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if type(self).blocked:
            self.send_error(429, "Too Many Requests")
        else:
            super().do_GET()

    do_HEAD = do_GET


@pytest.fixture
def rate_limited_server(clips):
    handler = type("Handler", (_Switch,), {"blocked": True})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(handler, directory=str(Path(clips[0]).parent)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_rate_limited_node_charges_nothing_and_exits_75(tmp_path, clips, rate_limited_server):
    handler, base = rate_limited_server
    db = str(tmp_path / "q.db")
    urls = [f"{base}/{Path(c).name}" for c in clips[:4]]
    assert run_cli("--db", db, "add", *urls).returncode == 0
    blocked = _work(db, "free_engine:FreeEngine", "--work-dir", str(tmp_path / "w"))
    assert blocked.returncode == 75, blocked.stderr[-3000:]
    rows = _rows(db)
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows), rows
    assert {r["error_kind"] for r in rows} <= {"rate_limited", None}  # the reason is kept
    handler.blocked = False  # the block is lifted
    time.sleep(max(r["not_before"] for r in rows) - time.time() + 0.1)  # rows put behind
    served = _work(db, "free_engine:FreeEngine", "--work-dir", str(tmp_path / "w"))
    assert served.returncode == 0, served.stderr[-3000:]
    assert [r["status"] for r in _rows(db)] == ["completed"] * 4


def test_a_dead_device_exits_70_and_charges_nobody(tmp_path, clips):
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "add", *clips).returncode == 0
    dead = _work(db, "fault_engines:DeadCudaEngine", "--batch-size", "4",
                 "--work-dir", str(tmp_path / "w"))
    assert dead.returncode == 70, dead.stderr[-3000:]
    assert "Traceback" not in dead.stderr
    rows = _rows(db)
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows), rows
    healthy = _work(db, "free_engine:FreeEngine", "--batch-size", "4",
                    "--work-dir", str(tmp_path / "w"))
    assert healthy.returncode == 0, healthy.stderr[-3000:]
    assert [r["status"] for r in _rows(db)] == ["completed"] * len(clips)


def test_inputs_the_engine_rejects_are_charged_to_their_videos(tmp_path, clips, clip):
    """Four clipped inputs queued first, batches of 2: before, the third rejected video
    made the device 'broken' (exit 70 after 2 s, every row pending, forever under
    launch.sh); now a known-good input proves the device and each is engine_rejected."""
    folder = tmp_path / "clipped"
    folder.mkdir()
    loud = (np.clip(clip.astype(np.float32) * 3, -32767, 32767)).astype(np.int16)
    clipped = [_wav(folder / f"clipped{i}.wav", loud) for i in range(4)]
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "add", *clipped, *clips).returncode == 0
    done = _work(db, "fault_engines:RejectClippedEngine", "--batch-size", "2",
                 "--work-dir", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(db)
    assert [(r["status"], r["error_kind"]) for r in rows[:4]] == \
        [("error", "engine_rejected")] * 4, rows
    assert [r["status"] for r in rows[4:]] == ["completed"] * len(clips)
    with open_queue(db) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT error FROM videos WHERE error_kind = 'engine_rejected'")
        assert all("input is clipped" in r["error"] for r in cur.fetchall())


def test_a_plugin_failing_everything_exits_70_and_charges_nobody(tmp_path, clips):
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "add", *clips).returncode == 0
    dead = _work(db, "fault_engines:FailEverythingEngine", "--batch-size", "2",
                 "--work-dir", str(tmp_path / "w"))
    assert dead.returncode == 70, dead.stderr[-3000:]
    assert "ValueError: this plugin cannot transcribe anything" in dead.stderr
    assert "Traceback" not in dead.stderr
    rows = _rows(db)
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows), rows


def test_a_video_that_kills_its_worker_ends_as_worker_crash(tmp_path, clips, clip):
    db = str(tmp_path / "q.db")
    loud = clip.astype(np.float32) / np.abs(clip).max() * 32767
    poison = _wav(tmp_path / "poison.wav", loud)
    assert run_cli("--db", db, "add", clips[0], poison, *clips[1:4]).returncode == 0
    lease = 3
    runs = []
    for _ in range(8):  # one worker after another, as a supervisor would restart them
        done = _work(db, "fault_engines:KillerEngine", "--batch-size", "8", "--lease",
                     str(lease), "--work-dir", str(tmp_path / "w"))
        runs.append(done.returncode)
        rows = _rows(db)
        if not any(r["status"] in ("pending", "processing") for r in rows):
            break
        time.sleep(lease + 1)  # the dead worker's leases run out; the next one reaps them
    by_url = {r["url"]: r for r in rows}
    bad = by_url[Path(poison).resolve().as_uri()]
    assert (bad["status"], bad["error_kind"], bad["crashes"]) == ("error", "worker_crash", 3)
    others = [r for r in rows if r is not bad]
    assert all(r["status"] == "completed" for r in others), others
    assert all(r["crashes"] <= 1 for r in others)  # charged for the first crash at most
    assert runs.count(-9) == 3, runs


def test_two_workers_on_postgres_survive_server_restarts(tmp_path, clips, pg_server):
    url = pg_server.new_database()
    sources = [c for c in clips for _ in range(1)]
    copies = []
    for k in range(24):  # 24 distinct files: 24 rows
        target = tmp_path / f"copy{k}.wav"
        target.write_bytes(Path(sources[k % len(sources)]).read_bytes())
        copies.append(str(target))
    assert run_cli("--db", url, "add", *copies).returncode == 0
    env = {**os.environ, **ENV}
    import subprocess
    import sys

    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    workers = [subprocess.Popen(
        [sys.executable, "-m", "ytcorpus", "-v", "--db", url, "work", "--device", "cpu",
         "--engine", "fault_engines:SlowEngine", "--model", "0.5", "--batch-size", "1",
         "--prepare-threads", "1", "--exit-when-empty", "--lease", "30",
         "--work-dir", str(tmp_path / f"w{i}")], stdout=open(log, "w"),
        stderr=subprocess.STDOUT, env=env) for i, log in enumerate(logs)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the run is under way (on a busy
            if any("completed " in log.read_text() for log in logs):  # machine one worker
                break  # may still be loading: restarts then hit its start-up too)
            time.sleep(0.2)
        pg_server.restart()
        time.sleep(1.0)
        pg_server.restart()
        with open_queue(url) as q:  # the restarts came mid-run (else this proves nothing)
            left = q.stats()
        assert left.pending + left.processing > 0
        codes = [w.wait(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0], [t[-3000:] for t in texts]
    with open_queue(url) as q:
        s = q.stats()
    assert (s.completed, s.pending, s.processing, s.error) == (24, 0, 0, 0)
    import re
    from collections import Counter

    stored = Counter(v for t in texts for v in re.findall(r"completed (\S+):", t))
    assert len(stored) == 24 and max(stored.values()) == 1, stored


def test_a_full_work_dir_charges_nothing_and_the_node_backs_off(tmp_path, clips, pg_server,
                                                                rate_limited_server):
    """Downloads cannot be written (a file-size limit: the disk is full as far as the
    worker can tell): no row charged, exit 75; with room again every row completes. The
    queue is on PostgreSQL so that only the work dir meets the limit."""
    import resource
    import subprocess
    import sys

    handler, base = rate_limited_server
    handler.blocked = False
    url = pg_server.new_database()
    urls = [f"{base}/{Path(c).name}" for c in clips[:3]]
    assert min(Path(c).stat().st_size for c in clips[:3]) > 64 * 1024
    assert run_cli("--db", url, "add", *urls).returncode == 0
    cmd = [sys.executable, "-m", "ytcorpus", "--db", url, "work", "--device", "cpu",
           "--engine", "free_engine:FreeEngine", "--prepare-threads", "1",
           "--exit-when-empty", "--work-dir", str(tmp_path / "w")]

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    full = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **ENV}, preexec_fn=small_disk)
    assert full.returncode == 75, full.stderr[-3000:]
    with open_queue(url) as q:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT status, attempts, error_kind FROM videos")
            rows = [dict(r) for r in cur.fetchall()]
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows), rows
    assert {r["error_kind"] for r in rows} <= {"disk_full", None}
    roomy = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                           env={**os.environ, **ENV})
    assert roomy.returncode == 0, roomy.stderr[-3000:]
    with open_queue(url) as q:
        assert q.stats().completed == 3, roomy.stderr[-3000:]
