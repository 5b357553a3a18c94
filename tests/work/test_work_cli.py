"""`ytcorpus work` end to end: the device check comes before any model loads, settings
from the config file reach the worker (metrics port, progress interval), and off a
terminal the progress summary is logged, also while idle."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import PLUGIN_ENV, DEMO, run_cli, wait_for
from ytcorpus.core.device import check_device
from ytcorpus.core.errors import ConfigError
from ytcorpus.cli.oneline import EXIT_ERROR
from ytcorpus.queue import open_queue

ENV = dict(PLUGIN_ENV)


def _has_cuda() -> bool:
    try:
        check_device("cuda", None)
    except ConfigError:
        return False
    return True


@pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu_is_one_line_before_the_model_loads(tmp_path):
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "init").returncode == 0
    # a model that does not exist: had the engine been loaded first, the error would
    # name the model, not the device
    done = run_cli("--db", db, "work", "--device", "cuda", "--model",
                   str(tmp_path / "no-such-model"), "--exit-when-empty")
    assert done.returncode == EXIT_ERROR
    lines = done.stderr.strip().splitlines()
    assert lines == ["ytcorpus: error: --device cuda: no CUDA GPU is visible on this "
                     "machine (use --device cpu, or auto)"], done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_idle_then_busy_worker_logs_summaries_and_serves_metrics(tmp_path):
    db = str(tmp_path / "q.db")
    assert run_cli("--db", db, "init").returncode == 0
    port = _free_port()
    config = tmp_path / "ytcorpus.toml"
    config.write_text(f"[work]\nmetrics_port = {port}\nprogress_interval = 0.3\n"
                      "poll_interval = 0.3\n")
    log_path = tmp_path / "worker.log"
    env = {**os.environ, **ENV, "YTCORPUS_CONFIG": str(config)}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ytcorpus", "--db", db, "work", "--device", "cpu",
             "--engine", "free_engine:FreeEngine", "--prepare-threads", "1",
             "--work-dir", str(tmp_path / "w"), "--max-videos", "2"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: "idle, queue empty, polling every 0.3s" in log_path.read_text(),
                 timeout=120)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        assert b'ytcorpus_worker_circuit{ytcorpus_worker_circuit="closed"} 1.0' in page
        clips = [str(DEMO / "arctic_a0007.wav"), str(DEMO / "history.mp3")]
        assert run_cli("--db", db, "add", *clips).returncode == 0
        assert proc.wait(timeout=300) == 0, log_path.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    assert "Traceback" not in text
    summaries = [line for line in text.splitlines()
                 if "2 videos done, 0 failed" in line and "realtime" in line]
    assert summaries, text[-3000:]
    with open_queue(db) as q:
        assert q.stats().completed == 2


def test_metrics_port_and_progress_interval_from_the_environment(monkeypatch):
    from ytcorpus.core.config import WorkerConfig, build

    monkeypatch.setenv("YTCORPUS_METRICS_PORT", "9311")
    monkeypatch.setenv("YTCORPUS_PROGRESS_INTERVAL", "5")
    config = build(WorkerConfig)
    assert (config.metrics_port, config.progress_interval) == (9311, 5.0)
    assert build(WorkerConfig, metrics_port=9400).metrics_port == 9400  # the flag wins
    monkeypatch.setenv("YTCORPUS_PROGRESS_INTERVAL", "0")
    with pytest.raises(ConfigError, match="PROGRESS_INTERVAL"):
        build(WorkerConfig)
