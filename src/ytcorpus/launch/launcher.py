"""Start one supervised worker per device, one after another (each waits until the one
before has loaded its model, so host RAM is not exhausted by parallel loads), then stay in
the foreground until they have all ended; `stop` and `status` from any other shell."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Sequence

from ..core.errors import ConfigError
from .files import Settings, alive, read_pids, read_state, set_state
from .gpus import list_devices

log = logging.getLogger(__name__)

READY_MARK = b" ready: "  # the worker's log line once its model is loaded
_GONE_OK = ("exited", "stopped", "gave")  # states in which a dead supervisor is expected


class _Interrupted(Exception):
    pass


def _interrupt(signum: int, frame: object) -> None:
    raise _Interrupted


def devices_to_use(gpus: str | None, settings: Settings) -> list[str]:
    """The named devices ("0 1", "0,1", MIG-<uuid>, cpu), else what nvidia-smi lists,
    else one CPU worker."""
    if gpus and gpus.strip():
        devices = gpus.replace(",", " ").split()
    else:
        devices = list_devices(settings.nvidia_smi, settings.prog) or []
    if not devices:
        print("no GPU found: starting one CPU worker", flush=True)
        devices = ["cpu"]
    return devices


def labels_for(devices: Sequence[str]) -> list[str]:
    """A device is its own label; CPU workers are cpu, cpu-1, cpu-2..."""
    labels, cpus = [], 0
    for device in devices:
        if device == "cpu":
            labels.append("cpu" if cpus == 0 else f"cpu-{cpus}")
            cpus += 1
        else:
            labels.append(device)
    return labels


def launch(gpus: str | None, work_args: Sequence[str], settings: Settings) -> int:
    devices = devices_to_use(gpus, settings)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    if any(alive(pid) for pid, _ in read_pids(settings.pid_file)):
        raise ConfigError(f"workers from an earlier launch are still running (see "
                          f"{settings.pid_file}); run '{settings.prog} stop' first")
    settings.pid_file.write_text("")
    for path in settings.state_files():
        path.unlink(missing_ok=True)
    old = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(devices, work_args, settings)
    except _Interrupted:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        print("\ninterrupted: stopping workers", flush=True)
        stop(settings)
        return 0
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _run(devices: list[str], work_args: Sequence[str], settings: Settings) -> int:
    supervisors = []
    for label, device in zip(labels_for(devices), devices):
        sup = _start(label, device, work_args, settings)
        if sup is not None:
            supervisors.append(sup)
    if not supervisors:
        print(f"ytcorpus launch: no worker started; see the logs in {settings.log_dir}",
              file=sys.stderr, flush=True)
        stop(settings, quiet=True)
        return 1
    print(f"workers running; '{settings.prog} status' shows them; Ctrl-C or "
          f"'{settings.prog} stop' stops them. Progress: ytcorpus monitor", flush=True)
    while any(sup.poll() is None for sup in supervisors):  # until each has finished
        time.sleep(1)
    settings.pid_file.unlink(missing_ok=True)
    print(status_table(settings))
    print("all workers have exited", flush=True)
    return 0


def _start(label: str, device: str, work_args: Sequence[str],
           settings: Settings) -> subprocess.Popen | None:
    """Start a worker's supervisor and wait until the worker is ready. None when it failed
    before (it would only fail again: no restarts)."""
    log_path, state = settings.log(label), settings.state_file(label)
    log_path.write_bytes(b"")
    set_state(state, gpu=device, state="starting", restarts=0)
    with open(log_path, "ab") as out:
        sup = subprocess.Popen(
            [sys.executable, "-m", "ytcorpus.launch.supervisor", label, device, "--",
             *work_args], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
    with open(settings.pid_file, "a") as f:
        f.write(f"{sup.pid} {label}\n")
    print(f"worker {label}: log {log_path}; waiting for its model to load", flush=True)
    started, seen, tail = time.monotonic(), 0, b""
    while True:
        with open(log_path, "rb") as f:
            f.seek(seen)
            new = f.read()
        seen += len(new)
        if READY_MARK in tail + new:
            print(f"worker {label} ready", flush=True)
            return sup
        tail = (tail + new)[-len(READY_MARK):]
        if sup.poll() is not None or read_state(state).get("restarts", "0") != "0":
            _give_up(sup, label, settings)
            return None
        if time.monotonic() - started >= settings.ready_timeout:
            print(f"worker {label} not ready after {settings.ready_timeout:g}s; starting the "
                  "next anyway", file=sys.stderr, flush=True)
            return sup
        time.sleep(0.5)


def _give_up(sup: subprocess.Popen, label: str, settings: Settings) -> None:
    _end(sup, read_state(settings.state_file(label)).get("pid"), settings.stop_timeout)
    set_state(settings.state_file(label), state="gave up: exited before ready", pid="")
    lines = settings.log(label).read_text(errors="replace").splitlines()[-15:]
    print(f"worker {label} exited before it was ready; last lines of {settings.log(label)}:",
          *lines, sep="\n", file=sys.stderr, flush=True)


def _end(sup: subprocess.Popen, worker_pid: str | None, timeout: float) -> None:
    sup.terminate()  # it stops its worker
    try:
        sup.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(worker_pid)
        sup.kill()
        sup.wait()


def _kill(pid: int | str | None) -> None:
    if alive(pid):
        try:
            os.kill(int(pid), signal.SIGKILL)  # type: ignore[arg-type]
        except ProcessLookupError:
            pass


def stop(settings: Settings, quiet: bool = False) -> int:
    """SIGTERM every supervisor started here (each passes it on to its worker, which
    finishes its batch and releases what it holds); kill what is left after stop_timeout."""
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    if not settings.pid_file.exists():
        say(f"no workers running (no {settings.pid_file})")
        return 0
    sups = [pid for pid, _ in read_pids(settings.pid_file) if alive(pid)]
    if not sups:
        say("no workers running")
        settings.pid_file.unlink(missing_ok=True)
        return 0
    say(f"stopping {len(sups)} worker(s)")
    for pid in sups:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + settings.stop_timeout
    while any(alive(pid) for pid in sups) and time.monotonic() < deadline:
        time.sleep(0.2)
    for path in settings.state_files():
        pid = read_state(path).get("pid")
        if alive(pid):
            say(f"worker {pid} did not stop in {settings.stop_timeout:g}s; killing it (its "
                "leases will expire)")
            _kill(pid)
    for pid in sups:
        _kill(pid)
    settings.pid_file.unlink(missing_ok=True)
    say("all workers stopped")
    return 0


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def status_table(settings: Settings) -> str:
    """Workers, their GPU, worker and supervisor pids, state, restarts, log."""
    files = settings.state_files()
    if not files:
        return f"no workers (no state files in {settings.log_dir})"
    row = "{:<14} {:<14} {:<8} {:<8} {:<28} {:<9} {}"
    lines = [row.format("WORKER", "GPU", "PID", "SUPER", "STATE", "RESTARTS", "LOG")]
    for path in files:
        label = path.name[len("worker-"):-len(".state")]
        st = read_state(path)
        sup, state = st.get("supervisor", ""), st.get("state", "")
        if sup and not alive(sup) and state.split(" ")[0] not in _GONE_OK:
            state = "gone (supervisor died)"
        lines.append(row.format(label, st.get("gpu", ""), st.get("pid", ""), sup, state,
                                st.get("restarts", ""), settings.log(label)))
    return "\n".join(lines)
