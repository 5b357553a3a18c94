"""Settings (environment variables) and the files of the log folder that the launcher, the
supervisors, `launch status` and `launch stop` share: one state file per worker (KEY=VALUE
lines: gpu, supervisor, pid, state, restarts) and the pid file (one "PID LABEL" line per
supervisor)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError

HEALTHY_RUN_S = 600.0  # a worker that ran this long starts again after the first delay


def _number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None
    if value < 0:
        raise ConfigError(f"{name}={text!r} must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    log_dir: Path
    ready_timeout: float  # seconds a worker may take to load its model
    stop_timeout: float  # seconds `stop` waits before it kills
    restart_delay: float  # the first delay before a restart; doubles each time
    restart_max: float  # the longest delay
    nvidia_smi: str
    prog: str  # how the user ran us, for hints: "ytcorpus launch" or "bash launch.sh"
    healthy_run: float = HEALTHY_RUN_S  # a run this long resets the restart delay

    @classmethod
    def from_env(cls) -> Settings:
        return cls(log_dir=Path(os.environ.get("YTCORPUS_LOG_DIR") or "logs"),
                   ready_timeout=_number("YTCORPUS_READY_TIMEOUT", 900),
                   stop_timeout=_number("YTCORPUS_STOP_TIMEOUT", 120),
                   restart_delay=_number("YTCORPUS_RESTART_DELAY", 5),
                   restart_max=_number("YTCORPUS_RESTART_MAX", 300),
                   nvidia_smi=os.environ.get("YTCORPUS_NVIDIA_SMI") or "nvidia-smi",
                   prog=os.environ.get("YTCORPUS_LAUNCH_PROG") or "ytcorpus launch")

    @property
    def pid_file(self) -> Path:
        return self.log_dir / "workers.pid"

    def log(self, label: str) -> Path:
        return self.log_dir / f"worker-{label}.log"

    def state_file(self, label: str) -> Path:
        return self.log_dir / f"worker-{label}.state"

    def state_files(self) -> list[Path]:
        return sorted(self.log_dir.glob("worker-*.state"))


def read_state(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def set_state(path: Path, **values: object) -> None:
    """Update some keys of a state file, keeping the others (one writer at a time: the
    launcher before its supervisor starts and after it ended, the supervisor between).
    Replaced whole, so a reader never sees half a file."""
    state = read_state(path)
    state.update({k: str(v) for k, v in values.items()})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in state.items()))
    os.replace(tmp, path)


def read_pids(path: Path) -> list[tuple[int, str]]:
    """(supervisor pid, label) of each line of the pid file; none when there is no file."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        pid, _, label = line.strip().partition(" ")
        if pid.isdigit():
            found.append((int(pid), label))
    return found


def alive(pid: int | str | None) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        pid = int(pid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def exit_status(returncode: int) -> int:
    """A shell's number for how a process ended: 128 + N when signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode
