"""Is a registered worker alive? Its heartbeat (every lease/3 s) says so; on this host
its process id says so at once (a worker's name ends in its pid: work.worker.worker_name,
fetch's default name).

dead: not stopped, and either its heartbeat missed two beats (15 s of grace, never longer
than its lease), or it ran on this host and its process is gone (kill -9, OOM kill).
A stopped worker holds nothing on purpose."""

from __future__ import annotations

import os
import re
import socket

_PID = re.compile(r"-(\d+)-[0-9a-f]{4}$|-fetch-(\d+)$")


def pid_of(worker: str) -> int | None:
    """The process id in a worker's name, or None (a name given with --name to fetch)."""
    m = _PID.search(worker or "")
    return int(m.group(1) or m.group(2)) if m else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def heartbeat_interval(lease_s: float) -> float:
    return max(0.5, lease_s / 3)  # work.worker and fetchfleet beat this often


def gone_here(row: dict) -> bool:
    """The worker ran on this host and its process is gone."""
    pid = pid_of(row.get("worker") or "")
    return (pid is not None and row.get("host") == socket.gethostname()
            and pid != os.getpid() and not _running(pid))


def is_dead(row: dict, now: float) -> bool:
    """Not stopped, and its heartbeat stopped (two beats missed) or its process is gone."""
    if row.get("state") == "stopped":
        return False
    lease = row.get("lease_s") or 0
    missed = now - (row.get("last_seen") or 0) > min(lease, 2 * heartbeat_interval(lease) + 15)
    return missed or gone_here(row)
