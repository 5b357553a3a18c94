"""`ytcorpus cluster` on a real local Ray cluster (one head declaring 2 GPUs for the
session; a second node joins and is killed in one test), a real PostgreSQL queue, real
downloads from a local HTTP server, and plugin engines that cost nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from conftest import PLUGIN_ENV, run_cli, wait_for
from ytcorpus.queue import open_queue

pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def speech_server(tmp_path_factory):
    """4 s of real speech (a tone is dropped by VAD before any engine sees it): the
    slow engine then holds each row for its batch, so a kill lands mid-run."""
    import shutil

    from conftest import DEMO
    from media import MediaServer

    root = tmp_path_factory.mktemp("speech")
    shutil.copy(DEMO / "arctic_a0007.wav", root / "speech.wav")
    server = MediaServer(root)
    yield server
    server.close()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """One local Ray head (2 declared GPUs) for the whole session."""
    from raycluster import RayCluster

    cluster = RayCluster(tmp_path_factory.mktemp("ray"), env=PLUGIN_ENV)
    yield cluster
    cluster.close()


def _db(pg_server, server, n: int, tag: str = "c", sqlite: str | None = None,
        name: str = "tone3.webm") -> str:
    db = sqlite or pg_server.new_database()
    with open_queue(db) as q:
        q.add([server.url(name) + f"?{tag}={i}" for i in range(n)])
    return db


def _rows(db: str) -> list[dict]:
    with open_queue(db) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT video_id, status, attempts, crashes, worker, completed_seq "
                     "FROM videos ORDER BY id")
        return [dict(r) for r in cur.fetchall()]


def _cluster_args(ray_cluster, db, tmp_path, engine, *extra) -> list[str]:
    return ["--db", db, "cluster", "--address", ray_cluster.address, "--device", "cpu",
            "--engine", engine, "--prepare-threads", "1", "--download-threads", "1",
            "--prefetch", "2", "--batch-size", "1", "--exit-when-empty",
            "--poll-interval", "1", "--summary-interval", "5",
            "--work-dir", str(tmp_path / "work"), *extra]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ytcorpus", *args],
                            env={**os.environ, **PLUGIN_ENV}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_one_worker_per_gpu_completes_every_row_once(ray_cluster, media_server, tmp_path):
    """On SQLite (one machine: every actor opens the same file); the tests below run on
    PostgreSQL."""
    n = 12
    db = _db(None, media_server, n, tag="once", sqlite=str(tmp_path / "q.db"))
    stage = tmp_path / "stage"  # a fetcher actor stages audio; the GPU workers take
    # staged rows first and download the others themselves
    r = run_cli(*_cluster_args(ray_cluster, db, tmp_path, "free_engine:FreeEngine",
                               "--fetchers", "1", "--stage", str(stage)),
                env=PLUGIN_ENV, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    rows = _rows(db)
    assert [(x["status"], x["attempts"], x["crashes"]) for x in rows] == \
        [("completed", 0, 0)] * n
    assert len({x["completed_seq"] for x in rows}) == n  # each stored once
    # each downloaded once: every URL asked as often as one download asks (a second
    # download of any row would double its count)
    counts = [media_server.hits[f"/files/tone3.webm?once={i}"] for i in range(n)]
    assert len(set(counts)) == 1 and counts[0] <= 2, counts
    # one worker per declared GPU, each on its own CUDA_VISIBLE_DEVICES (in its name)
    gpus = {re.search(r"-cuda(\d+)-", x["worker"]).group(1) for x in rows}
    assert gpus <= {"0", "1"}
    log = r.stdout + r.stderr
    assert len(re.findall(r"worker ray-\S+ started \(slot gpu-", log)) == 2
    assert re.search(r"worker ray-any-fetch0-\S+ started \(slot fetch-0\)", log)
    assert not [p for p in stage.rglob("*") if p.is_file()]  # staged audio deleted
    assert "stopped with an error" not in log and "died" not in log
    assert "fleet: 1 nodes" in log


def test_a_worker_killed_on_a_live_node_is_replaced_and_counts_a_crash(
        ray_cluster, pg_server, speech_server, tmp_path):
    n = 10
    db = _db(pg_server, speech_server, n, tag="kill", name="speech.wav")
    proc = _start(_cluster_args(ray_cluster, db, tmp_path, "fault_engines:SlowEngine",
                                "--model", "0.6", "--lease", "4"))
    try:
        def victim():  # a worker holding rows, once the run is under way
            rows = _rows(db)
            names = [x["worker"] for x in rows if x["status"] == "processing"]
            started = any(x["status"] == "completed" for x in rows)
            return names[0] if names and started else None

        name = wait_for(victim, timeout=120, interval=0.2)
        pid = int(re.search(r"-(\d+)-[0-9a-f]{4}$", name).group(1))
        os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-4000:]
    rows = _rows(db)
    assert [x["status"] for x in rows] == ["completed"] * n
    assert sum(x["crashes"] for x in rows) >= 1  # the dead worker's rows: a crash each
    assert "died on a live node" in out and "replaces the last" in out


def test_a_node_killed_mid_run_gives_its_rows_back_uncharged(
        ray_cluster, pg_server, speech_server, tmp_path):
    n = 14
    db = _db(pg_server, speech_server, n, tag="node", name="speech.wav")
    node = ray_cluster.add_node(gpus=1, cpus=1)
    try:
        ray_cluster.wait_nodes(2)
        proc = _start(_cluster_args(ray_cluster, db, tmp_path, "fault_engines:SlowEngine",
                                    "--model", "0.6", "--lease", "60"))

        try:
            wait_for(lambda: len({x["worker"].split("-")[1] for x in _rows(db)
                                  if x["status"] == "processing"}) == 2, timeout=180,
                     interval=0.2)
            node.kill()
            out, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        node.stop()
    assert proc.returncode == 0, out[-4000:]
    rows = _rows(db)
    assert [(x["status"], x["attempts"], x["crashes"]) for x in rows] == \
        [("completed", 0, 0)] * n  # nothing charged: no attempt, no crash
    m = re.search(r"lost with node \S+: (\d+) rows back to pending, uncharged", out)
    assert m and int(m.group(1)) >= 1, out[-4000:]
    assert "crashes 0" in out


def test_every_worker_blocked_by_node_faults_exits_75(ray_cluster, pg_server, media_server,
                                                      tmp_path):
    """A server answering 429 (rate limited: the node's fault, not the videos'): each
    worker's circuit opens, every worker stops blocked, the fleet exits 75, nothing is
    charged."""
    db = pg_server.new_database()
    with open_queue(db) as q:
        q.add([media_server.url("tone3.webm", "flaky429") + f"?blocked={i}" for i in range(4)])
    r = run_cli(*_cluster_args(ray_cluster, db, tmp_path, "free_engine:FreeEngine"),
                env=PLUGIN_ENV, timeout=300)
    log = r.stdout + r.stderr
    assert r.returncode == 75, log[-4000:]
    assert all(x["status"] == "pending" and x["attempts"] == 0 for x in _rows(db))
    assert len(re.findall(r"worker ray-\S+ stopped: exit 75", log)) == 2
