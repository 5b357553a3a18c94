"""`ytcorpus launch` as an operator runs it, on CPU: real `ytcorpus work` processes,
supervised; one test goes through the thin `bash launch.sh` at the repository root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_cli

LAUNCH_SH = ["bash", str(ROOT / "launch.sh")]
LAUNCH = [sys.executable, "-m", "ytcorpus", "launch"]

MIG_LISTING = """\
GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 3g.40gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-0e2d9b2a-3c5e-1d8f-7a2b-9f1e2d3c4b5a)
"""


def _env(tmp_path, **extra):
    env = {**os.environ, "YTCORPUS_RESTART_DELAY": "1", "YTCORPUS_READY_TIMEOUT": "120",
           "YTCORPUS_STOP_TIMEOUT": "60", **extra}
    for name in ("YTCORPUS_LOG_DIR", "YTCORPUS_LAUNCH_PROG"):
        env.pop(name, None)
    return env


def _sh_env(tmp_path, **extra):
    """launch.sh runs the checkout's .venv/bin/ytcorpus, else `ytcorpus` on PATH: this
    interpreter's, for a checkout without a .venv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ytcorpus"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ytcorpus "$@"\n')
    wrapper.chmod(0o755)
    env = _env(tmp_path, **extra)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
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


def _status(tmp_path, env, command=LAUNCH) -> str:
    out = subprocess.run([*command, "status"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _restarted(tmp_path, old: int) -> int:
    return int(_until(lambda: (p := _state(tmp_path).get("pid")) and int(p) != old and p,
                      "a restarted worker"))


def test_launch_sh_restarts_a_killed_worker_with_a_growing_delay(tmp_path):
    """Through the thin launch.sh, from another directory: relative paths stay put."""
    assert run_cli("--db", "rel.db", "init", cwd=tmp_path).returncode == 0
    env = _sh_env(tmp_path, YTCORPUS_DB="rel.db")
    launch = subprocess.Popen([*LAUNCH_SH, "cpu"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    log = tmp_path / "logs" / "worker-cpu.log"
    try:
        first = int(_until(lambda: _state(tmp_path).get("pid"), "the first worker"))
        _until(lambda: " ready: " in log.read_text(), "the worker to be ready")
        assert "queue sqlite:rel.db" in log.read_text()
        assert not (ROOT / "rel.db").exists()  # the caller's directory, not the repository's
        os.kill(first, signal.SIGKILL)
        second = _restarted(tmp_path, first)
        _until(lambda: log.read_text().count(" ready: ") == 2, "the restarted worker")
        os.kill(second, signal.SIGKILL)
        third = _restarted(tmp_path, second)
        _until(lambda: log.read_text().count(" ready: ") == 3, "the second restart")
        status = _status(tmp_path, env, LAUNCH_SH)
        line = next(x for x in status.splitlines() if x.startswith("cpu"))
        assert str(third) in line and "running" in line and line.split()[5] == "2"
        text = log.read_text()
        assert "worker exited 137; restart 1 in 1s" in text  # the delay doubles
        assert "worker exited 137; restart 2 in 2s" in text
        assert "unknown environment variable" not in text  # YTCORPUS_LAUNCH_PROG is known
    finally:
        stop = subprocess.run([*LAUNCH_SH, "stop"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        out, _ = launch.communicate(timeout=60)
    assert stop.returncode == 0 and "all workers stopped" in stop.stdout
    assert launch.returncode == 0, out
    assert "'bash " in out and "launch.sh stop' stops them" in out  # hints name launch.sh
    assert "stopped" in _state(tmp_path)["state"] and not _state(tmp_path)["pid"]
    assert not (tmp_path / "logs" / "workers.pid").exists()
    again = subprocess.run([*LAUNCH, "stop"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "no workers running" in again.stdout


def test_worker_exiting_zero_is_not_restarted(tmp_path):
    assert run_cli("--db", "data.db", "init", cwd=tmp_path).returncode == 0
    env = _env(tmp_path)  # the default ./data.db of the caller's directory
    env.pop("YTCORPUS_DB", None)
    env.pop("DB_URL", None)
    out = subprocess.run([*LAUNCH, "cpu", "--", "--exit-when-empty"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    state = _state(tmp_path)
    assert state["state"] == "exited 0" and state["restarts"] == "0"
    assert "queue sqlite:./data.db" in (tmp_path / "logs" / "worker-cpu.log").read_text()
    assert "all workers have exited" in out.stdout
    assert not (tmp_path / "logs" / "workers.pid").exists()


def test_ctrl_c_stops_the_workers_and_ends_cleanly(tmp_path):
    assert run_cli("--db", "data.db", "init", cwd=tmp_path).returncode == 0
    env = _env(tmp_path, YTCORPUS_DB="data.db")
    launch = subprocess.Popen(LAUNCH, cwd=tmp_path, env={**env, "YTCORPUS_NVIDIA_SMI": "none"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    log = tmp_path / "logs" / "worker-cpu.log"
    try:
        _until(lambda: log.exists() and " ready: " in log.read_text(), "the worker")
        _until(lambda: "running" in _status(tmp_path, env), "the launcher to be waiting")
        os.killpg(launch.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        out, _ = launch.communicate(timeout=90)
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
    assert launch.returncode == 0, out
    assert "no GPU found: starting one CPU worker" in out
    assert "interrupted: stopping workers" in out and "all workers stopped" in out
    assert _state(tmp_path)["state"].startswith("stopped") and not _state(tmp_path)["pid"]
    assert "done:" in log.read_text()  # the worker shut down cleanly


def test_missing_database_fails_instead_of_running_on_nothing(tmp_path):
    out = subprocess.run([*LAUNCH, "--db", "typo.db", "cpu"], cwd=tmp_path, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "typo.db" in out.stderr and "no worker started" in out.stderr
    assert _state(tmp_path)["state"].startswith("gave up")
    assert _state(tmp_path)["restarts"] == "1"  # it failed once, then it was not retried
    assert not (tmp_path / "typo.db").exists()
    assert "gave up" in _status(tmp_path, _env(tmp_path))


def test_a_second_launch_is_refused_while_the_first_runs(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "workers.pid").write_text(f"{os.getpid()} cpu\n")  # a live process
    out = subprocess.run([*LAUNCH, "cpu"], cwd=tmp_path, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "still running" in out.stderr and "ytcorpus launch stop" in out.stderr
    assert (logs / "workers.pid").read_text() == f"{os.getpid()} cpu\n"


def test_usage_errors_exit_2(tmp_path):
    out = subprocess.run([*LAUNCH, "status", "--", "-x"], cwd=tmp_path, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "takes no arguments" in out.stderr
    out = subprocess.run([*LAUNCH, "cpu"], cwd=tmp_path, capture_output=True, text=True,
                         env=_env(tmp_path, YTCORPUS_RESTART_DELAY="soon"), timeout=60)
    assert out.returncode == 1 and "YTCORPUS_RESTART_DELAY" in out.stderr


def _fake_smi(tmp_path, body: str) -> str:
    path = tmp_path / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_failing_nvidia_smi_is_a_clear_error(tmp_path):
    smi = _fake_smi(tmp_path, 'echo "NVIDIA-SMI has failed because it couldn\'t communicate '
                              'with the NVIDIA driver."; exit 9')
    out = subprocess.run(LAUNCH, cwd=tmp_path, env=_env(tmp_path, YTCORPUS_NVIDIA_SMI=smi),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "couldn't communicate with the NVIDIA driver" in out.stderr
    assert 'ytcorpus launch "0 1"' in out.stderr
    assert not (tmp_path / "logs" / "workers.pid").exists()


def test_mig_instances_get_a_worker_each(tmp_path):
    listing = tmp_path / "listing.txt"
    listing.write_text(MIG_LISTING)
    smi = _fake_smi(tmp_path, f'[ "$1" = "-L" ] && cat {listing}')
    env = _env(tmp_path, YTCORPUS_NVIDIA_SMI=smi, YTCORPUS_DB="nothing-here.db")
    # no CUDA and no database here: every worker fails before it is ready, which is
    # enough to see which devices launch gave them
    out = subprocess.run(LAUNCH, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1
    states = {p.name: p.read_text() for p in (tmp_path / "logs").glob("worker-*.state")}
    devices = sorted(line.split("=", 1)[1] for text in states.values()
                     for line in text.splitlines() if line.startswith("gpu="))
    assert devices == ["1", "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
                       "MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb"]
    status = _status(tmp_path, env)
    assert "MIG-c6d4f1ef" in status and "gave up" in status
