"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks (initdb + pg_ctl)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir on 127.0.0.1 (initdb + pg_ctl)."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("initdb/pg_ctl not found: install Debian's postgresql")
        self.dir = Path(tempfile.mkdtemp(prefix="ytcorpus-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run([self.initdb, "-D", str(data), "-U", "ytcorpus", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                f"-c fsync=off -c max_connections=200")
        self._opts = opts
        self._run([self.pg_ctl, "-D", str(data), "-o", opts, "-l", str(self.dir / "log"),
                   "-w", "start"])
        self.data = data
        self.base_url = f"postgresql://ytcorpus@127.0.0.1:{self.port}"

    def _run(self, cmd: list[str]) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True)

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.base_url + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.base_url}/{name}"

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every open connection is cut (AdminShutdown)."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-l", str(self.dir / "log"),
                   "-w", "restart"])

    def down(self) -> None:
        """An outage: the server stops (connections cut) and keeps its data."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def up(self) -> None:
        """The server is back after `down()`, on the same port."""
        self._run([self.pg_ctl, "-D", str(self.data), "-o", self._opts, "-l",
                   str(self.dir / "log"), "-w", "start"])

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
