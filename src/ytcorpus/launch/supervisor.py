"""One supervisor process per worker: keeps `ytcorpus work` running on one device.

A worker that exits non-zero (a crash, 70 = broken device, 75 = node blocked) starts again
after a delay that doubles from YTCORPUS_RESTART_DELAY up to YTCORPUS_RESTART_MAX and
resets after a run of 10 minutes. A worker that exits 0 (done), 2 (bad arguments:
restarting cannot help) or is being stopped (SIGTERM or SIGINT here, passed on to the
worker) is not. The launcher starts it as
`python -m ytcorpus.launch.supervisor LABEL DEVICE -- WORK_ARGS...`; its own output goes to
the worker's log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Sequence

from .files import Settings, exit_status, set_state


def worker_command(device: str, work_args: Sequence[str]) -> list[str]:
    """`ytcorpus work` with this interpreter (the same package the launcher runs)."""
    kind = "cpu" if device == "cpu" else "cuda"
    return [sys.executable, "-m", "ytcorpus", "work", "--device", kind, *work_args]


def worker_env(device: str) -> dict[str, str]:
    env = {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}  # GPU numbers as nvidia-smi's
    if device != "cpu":
        env["CUDA_VISIBLE_DEVICES"] = device
    return env


class Supervisor:
    def __init__(self, settings: Settings, label: str, device: str,
                 work_args: Sequence[str]) -> None:
        self.settings = settings
        self.label = label
        self.state = settings.state_file(label)
        self.command = worker_command(device, work_args)
        self.env = worker_env(device)
        self.child: subprocess.Popen | None = None
        self.stopping = False

    def on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.returncode is None:
            try:
                os.kill(self.child.pid, signal.SIGTERM)  # it finishes its batch and exits
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)
        set_state(self.state, supervisor=os.getpid())
        restarts, delay = 0, self.settings.restart_delay
        while not self.stopping:
            started = time.monotonic()
            rc = self._run_once(restarts)
            if self.stopping:
                set_state(self.state, state=f"stopped (exit {rc})", pid="")
                return 0
            if rc in (0, 2):
                set_state(self.state, state=f"exited {rc}", pid="")
                return 0
            if time.monotonic() - started >= self.settings.healthy_run:
                delay = self.settings.restart_delay
            restarts += 1
            set_state(self.state, state=f"restarting in {delay:g}s (exit {rc})",
                      restarts=restarts, pid="")
            self._note(f"worker exited {rc}; restart {restarts} in {delay:g}s")
            self._sleep(delay)
            if self.stopping:
                set_state(self.state, state=f"stopped (exit {rc})")
                return 0
            delay = min(delay * 2, self.settings.restart_max)
        set_state(self.state, state="stopped", pid="")
        return 0

    def _run_once(self, restarts: int) -> int:
        log = open(self.settings.log(self.label), "ab")  # noqa: SIM115 - the child holds it
        try:
            self.child = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        set_state(self.state, pid=self.child.pid, state="running", restarts=restarts)
        if self.stopping:  # a signal came while it started
            self.on_signal(signal.SIGTERM, None)
        rc = exit_status(self.child.wait())
        self.child = None
        return rc

    def _note(self, line: str) -> None:
        with open(self.settings.log(self.label), "a") as f:
            f.write(f"ytcorpus launch: {line}\n")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[2] != "--":
        print("usage: python -m ytcorpus.launch.supervisor LABEL DEVICE -- WORK_ARGS...",
              file=sys.stderr)
        return 2
    label, device, work_args = argv[0], argv[1], argv[3:]
    return Supervisor(Settings.from_env(), label, device, work_args).run()


if __name__ == "__main__":
    sys.exit(main())
