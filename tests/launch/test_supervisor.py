"""The launch package without models: nvidia-smi listings, each worker's device, and the
supervisor's restart policy around a shell command that plays the worker (real processes,
fast)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ytcorpus.launch.files import Settings, read_state
from ytcorpus.launch.gpus import list_devices, parse_listing
from ytcorpus.launch.launcher import labels_for
from ytcorpus.launch.supervisor import Supervisor, worker_command, worker_env

MIG_LISTING = """\
GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 3g.40gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-0e2d9b2a-3c5e-1d8f-7a2b-9f1e2d3c4b5a)
"""


def test_listing_parser_and_labels():
    assert parse_listing(MIG_LISTING) == ["MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
                                          "MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb", "1"]
    assert parse_listing("GPU 0: A (UUID: GPU-1)\nGPU 1: B (UUID: GPU-2)\n") == ["0", "1"]
    assert parse_listing("") == []
    assert labels_for(["cpu", "0", "cpu", "cpu"]) == ["cpu", "0", "cpu-1", "cpu-2"]


def test_each_worker_sees_only_its_device():
    env = worker_env("MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f")
    assert env["CUDA_VISIBLE_DEVICES"] == "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert worker_command("1", ["--batch-size", "8"])[-5:] == [
        "work", "--device", "cuda", "--batch-size", "8"]
    assert worker_command("cpu", [])[-3:] == ["work", "--device", "cpu"]
    assert "CUDA_VISIBLE_DEVICES" not in worker_env("cpu") or \
        worker_env("cpu")["CUDA_VISIBLE_DEVICES"] == os.environ.get("CUDA_VISIBLE_DEVICES")


@pytest.mark.skipif(not Path("/usr/bin/nvidia-smi").exists(), reason="no nvidia-smi here")
def test_real_nvidia_smi_listing_parses():  # pragma: no cover - GPU machines
    assert list_devices("nvidia-smi", "ytcorpus launch")


# The restart policy, fast: the supervisor loop around a shell command that plays the worker.
FAIL_THEN_DONE = ('n=$(cat runs 2>/dev/null || echo 0); echo $((n + 1)) > runs; '
                  '[ "$n" -ge {fails} ] && exit 0; exit 75')


def _supervise(tmp_path, script: str, stop_after: float | None = None, **settings):
    values = dict(log_dir=tmp_path, ready_timeout=1, stop_timeout=1, restart_delay=0.1,
                  restart_max=0.3, nvidia_smi="none", prog="ytcorpus launch")
    sup = Supervisor(Settings(**{**values, **settings}), "cpu", "cpu", [])
    sup.command = ["sh", "-c", f"cd {tmp_path} && {script}"]
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(stop_after, sup.on_signal, (signal.SIGTERM, None)) \
        if stop_after else None
    try:
        if timer:
            timer.start()
        assert sup.run() == 0
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return read_state(tmp_path / "worker-cpu.state"), (tmp_path / "worker-cpu.log").read_text()


def _delays(log: str) -> list[str]:
    return [line.rsplit(" ", 1)[1] for line in log.splitlines() if "restart " in line]


def test_restart_delay_doubles_up_to_the_maximum(tmp_path):
    state, log = _supervise(tmp_path, FAIL_THEN_DONE.format(fails=4))
    assert _delays(log) == ["0.1s", "0.2s", "0.3s", "0.3s"]
    assert "worker exited 75; restart 1 in 0.1s" in log
    assert state["state"] == "exited 0" and state["restarts"] == "4" and state["pid"] == ""
    assert state["supervisor"] == str(os.getpid())


def test_a_healthy_run_resets_the_delay(tmp_path):
    _, log = _supervise(tmp_path, FAIL_THEN_DONE.format(fails=3), healthy_run=0)
    assert _delays(log) == ["0.1s", "0.1s", "0.1s"]


def test_bad_arguments_and_signals(tmp_path):
    state, log = _supervise(tmp_path, "exit 2")  # restarting cannot help
    assert state["state"] == "exited 2" and state["restarts"] == "0" and not _delays(log)
    state, log = _supervise(tmp_path, 'kill -9 $$', restart_max=0.1,
                            stop_after=0.5)  # killed: restarted until stopped
    assert "worker exited 137; restart 1 in 0.1s" in log
    assert state["state"] == "stopped (exit 137)" and int(state["restarts"]) >= 2


def test_stop_during_a_restart_delay_ends_at_once(tmp_path):
    started = time.monotonic()
    state, _ = _supervise(tmp_path, "exit 1", restart_delay=60, stop_after=0.5)
    assert state["state"] == "stopped (exit 1)" and state["restarts"] == "1"
    assert time.monotonic() - started < 30  # not the 60 s delay
