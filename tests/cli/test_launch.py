"""launch.sh as an operator runs it, on CPU: real `ytcorpus work` processes, supervised."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

LAUNCH = str(ROOT / "launch.sh")

MIG_LISTING = """\
GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 3g.40gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-0e2d9b2a-3c5e-1d8f-7a2b-9f1e2d3c4b5a)
"""


def _env(tmp_path, **extra):
    env = {**os.environ, "YTCORPUS_RESTART_DELAY": "1", "YTCORPUS_READY_TIMEOUT": "120",
           "YTCORPUS_STOP_TIMEOUT": "60", **extra}
    env.pop("YTCORPUS_LOG_DIR", None)
    return env


def _state(tmp_path, label="cpu") -> dict:
    path = tmp_path / "logs" / f"worker-{label}.state"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _until(predicate, what: str, limit: float = 120.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def _status(tmp_path, env) -> str:
    out = subprocess.run(["bash", LAUNCH, "status"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_killed_worker_is_restarted_and_relative_paths_stay_put(tmp_path):
    assert run_cli("--db", "rel.db", "init", cwd=tmp_path).returncode == 0
    env = _env(tmp_path, YTCORPUS_DB="rel.db")
    launch = subprocess.Popen(["bash", LAUNCH, "cpu"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        first = int(_until(lambda: _state(tmp_path).get("pid"), "the first worker"))
        log = tmp_path / "logs" / "worker-cpu.log"
        _until(lambda: " ready: " in log.read_text(), "the worker to be ready")
        assert "queue sqlite:rel.db" in log.read_text()
        assert not (ROOT / "rel.db").exists()  # the caller's directory, not the repository's
        os.kill(first, signal.SIGKILL)
        second = int(_until(lambda: (p := _state(tmp_path).get("pid")) and int(p) != first
                            and p, "a restarted worker"))
        assert second != first
        _until(lambda: log.read_text().count(" ready: ") == 2, "the restarted worker")
        status = _status(tmp_path, env)
        line = next(x for x in status.splitlines() if x.startswith("cpu"))
        assert str(second) in line and "running" in line and line.split()[5] == "1"
        assert "exited 137" in log.read_text() or "exit 137" in log.read_text()
    finally:
        stop = subprocess.run(["bash", LAUNCH, "stop"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        out, _ = launch.communicate(timeout=60)
    assert stop.returncode == 0 and "all workers stopped" in stop.stdout
    assert launch.returncode == 0, out
    assert "stopped" in _state(tmp_path)["state"]
    assert not _state(tmp_path)["pid"]


def test_worker_exiting_zero_is_not_restarted(tmp_path):
    assert run_cli("--db", "data.db", "init", cwd=tmp_path).returncode == 0
    env = _env(tmp_path)  # the default ./data.db of the caller's directory
    env.pop("YTCORPUS_DB", None)
    env.pop("DB_URL", None)
    out = subprocess.run(["bash", LAUNCH, "cpu", "--", "--exit-when-empty"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    state = _state(tmp_path)
    assert state["state"] == "exited 0" and state["restarts"] == "0"
    assert "queue sqlite:./data.db" in (tmp_path / "logs" / "worker-cpu.log").read_text()


def test_missing_database_fails_instead_of_running_on_nothing(tmp_path):
    env = _env(tmp_path, YTCORPUS_DB="typo.db")
    out = subprocess.run(["bash", LAUNCH, "cpu"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "typo.db" in out.stderr and "no worker started" in out.stderr
    assert _state(tmp_path)["state"].startswith("gave up")
    assert not (tmp_path / "typo.db").exists()


def _fake_smi(tmp_path, body: str) -> str:
    path = tmp_path / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_failing_nvidia_smi_is_a_clear_error(tmp_path):
    smi = _fake_smi(tmp_path, 'echo "NVIDIA-SMI has failed because it couldn\'t communicate '
                              'with the NVIDIA driver."; exit 9')
    out = subprocess.run(["bash", LAUNCH], cwd=tmp_path, env=_env(tmp_path,
                         YTCORPUS_NVIDIA_SMI=smi), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "couldn't communicate with the NVIDIA driver" in out.stderr
    assert 'bash launch.sh "0 1"' in out.stderr
    assert not (tmp_path / "logs" / "workers.pid").exists() or \
        not (tmp_path / "logs" / "workers.pid").read_text().strip()


def test_mig_instances_get_a_worker_each(tmp_path):
    listing = tmp_path / "listing.txt"
    listing.write_text(MIG_LISTING)
    smi = _fake_smi(tmp_path, f'[ "$1" = "-L" ] && cat {listing}')
    env = _env(tmp_path, YTCORPUS_NVIDIA_SMI=smi, YTCORPUS_DB="nothing-here.db")
    # no CUDA and no database here: every worker fails before it is ready, which is
    # enough to see which devices launch.sh gave them
    out = subprocess.run(["bash", LAUNCH], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 1
    states = {p.name: p.read_text() for p in (tmp_path / "logs").glob("worker-*.state")}
    devices = sorted(line.split("=", 1)[1] for text in states.values()
                     for line in text.splitlines() if line.startswith("gpu="))
    assert devices == ["1", "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
                       "MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb"]
    status = _status(tmp_path, env)
    assert "MIG-c6d4f1ef" in status and "gave up" in status


@pytest.mark.skipif(not Path("/usr/bin/nvidia-smi").exists(), reason="no nvidia-smi here")
def test_real_nvidia_smi_listing_parses(tmp_path):  # pragma: no cover - GPU machines
    out = subprocess.run(["bash", "-c", f"source <(sed -n '/^list_gpus()/,/^}}/p' {LAUNCH}); "
                          "NVIDIA_SMI=nvidia-smi list_gpus"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip()
