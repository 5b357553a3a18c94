"""A local Ray cluster for tests: a head declaring two GPUs (no hardware needed; actors
with num_gpus=1 get CUDA_VISIBLE_DEVICES 0 and 1), and extra nodes a test may kill.

Each `ray start --block` runs in a session of its own and is stopped by that process
group's id (never `ray stop`, which stops every Ray process of the machine). Ports are
free ones, the temp folder is private: other Ray users of the machine are untouched."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s3server import free_port

RAY = str(Path(sys.executable).parent / "ray")
# GCS notices a dead node in about 6-10 s (defaults: about 30 s); the timeout leaves a busy
# 2-core machine room to answer, so a live node is never declared dead
FAST_HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "3000",
               "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "0"}


class RayNode:
    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self._log = open(log, "wb")
        self.proc = subprocess.Popen([RAY, "start", "--block", *args], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the node's whole process group: a machine gone at once."""
        for sig in (signal.SIGKILL,):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        self.proc.wait(30)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        if not self._log.closed:
            self._log.close()


class RayCluster:
    def __init__(self, logs: Path, env: dict[str, str], gpus: int = 2, cpus: int = 2):
        self.logs = logs
        self.env = {**os.environ, **FAST_HEALTH, **env}
        self.port = free_port()
        self.temp = tempfile.mkdtemp(prefix="ry", dir="/tmp")
        self.address = f"127.0.0.1:{self.port}"
        self.head = RayNode(["--head", "--node-ip-address", "127.0.0.1", "--port",
                             str(self.port), "--num-cpus", str(cpus), "--num-gpus", str(gpus),
                             "--include-dashboard", "false", "--disable-usage-stats",
                             "--temp-dir", self.temp, *self._ports()], self.env,
                            logs / "head.log")
        self.nodes: list[RayNode] = []
        self.wait_nodes(1)

    @staticmethod
    def _ports() -> list[str]:
        return ["--dashboard-agent-listen-port", str(free_port()),
                "--ray-client-server-port", str(free_port()),
                "--metrics-export-port", str(free_port()),
                "--runtime-env-agent-port", str(free_port())]

    def add_node(self, gpus: int = 1, cpus: int = 1) -> RayNode:
        node = RayNode(["--address", self.address, "--node-ip-address", "127.0.0.1",
                        "--num-cpus", str(cpus), "--num-gpus", str(gpus),
                        "--disable-usage-stats", *self._ports()], self.env,
                       self.logs / f"node{len(self.nodes)}.log")
        self.nodes.append(node)
        return node

    def alive(self) -> int:
        code = ("import ray; ray.init(address=%r, logging_level='ERROR', "
                "log_to_driver=False); "
                "print('ALIVE=%%d' %% sum(1 for n in ray.nodes() if n['Alive']))"
                % self.address)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=self.env, timeout=120)
        found = re.findall(r"^ALIVE=(\d+)$", r.stdout, re.M)  # Ray may log to stdout too
        return int(found[-1]) if r.returncode == 0 and found else 0

    def wait_nodes(self, n: int, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.head.proc.poll() is not None:
                raise RuntimeError(f"ray head exited (see {self.logs / 'head.log'})")
            if self.alive() == n:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {n} live nodes")

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        self.head.stop()
