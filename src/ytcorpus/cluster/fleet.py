"""The supervisor of `ytcorpus cluster`: one loop that keeps the fleet's Ray actors
matched to the cluster.

Every `poll` seconds it reads the nodes Ray knows (ray.nodes()): each live node with GPUs
gets `workers_per_gpu` transcribe actors per GPU, pinned to that node (num_gpus 1/K, so
Ray hands each its own CUDA_VISIBLE_DEVICES); `cpu_workers` CPU transcribe actors and
`fetchers` download actors go wherever Ray places them. A node that joins gets workers
within one poll.

An actor that ends is looked at once:
- its node is dead (Ray says so, or the actor error says its node died): the worker was
  lost with its machine; its rows go back to pending uncharged (Queue.release_worker), no
  crash counted, and the node's slots are dropped;
- it died on a live node (SIGKILL, OOM): a crash; it is replaced at once, and its rows
  count a crash when their lease ends (Queue.reap_expired), as for `work`;
- it returned: 0 is a slot done (drained with --exit-when-empty, or --max-videos); 75
  a slot blocked by a node fault; anything else (70: broken device) is replaced, up to
  MAX_FAILURES times in a row; when every slot gave up the supervisor exits 70.
With --exit-when-empty the supervisor exits 0 once every slot stopped and nothing is
claimable, leased or reapable; 75 when every slot stopped blocked. Without it, it runs
until SIGINT/SIGTERM, then stops every actor (the batch in flight finishes; held rows
are released). One log line per worker start, stop and replacement; a fleet summary
every `summary_s`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..queue.fleet import claimable_now, leased

log = logging.getLogger(__name__)

EXIT_BLOCKED = 75
EXIT_FAILED = 70  # every slot failed MAX_FAILURES times in a row (a broken model or setup)
MAX_FAILURES = 5  # a slot that fails this many times in a row is given up


@dataclass
class Slot:
    key: str  # "gpu-<node>-<n>", "cpu-<n>", "fetch-<n>"
    kind: str  # "gpu" | "cpu" | "fetch"
    node: str | None = None  # the node a GPU slot is pinned to
    actor: Any = None
    ref: Any = None  # the run() call in flight
    where: Any = None  # the where() call: node, pid, CUDA_VISIBLE_DEVICES
    prefix: str = ""
    state: str = "new"  # new | running | done | blocked | failed
    failures: int = 0
    started: int = 0
    info: dict = field(default_factory=dict)


class Fleet:
    def __init__(self, ray, queue, flags: dict[str, Any], *, workers_per_gpu: int = 1,
                 cpu_workers: int = 0, fetchers: int = 0, exit_when_empty: bool = False,
                 poll_s: float = 5.0, summary_s: float = 60.0):
        self.ray, self.queue, self.flags = ray, queue, flags
        self.per_gpu, self.cpu_workers, self.fetchers = workers_per_gpu, cpu_workers, fetchers
        self.exit_when_empty, self.poll_s, self.summary_s = exit_when_empty, poll_s, summary_s
        self.slots: dict[str, Slot] = {}
        self.stop = threading.Event()
        self.lost_nodes: set[str] = set()
        self._warned = False
        self.counts = {"started": 0, "replaced": 0, "crashes": 0, "lost_with_node": 0,
                       "released_uncharged": 0}

    # ---- the cluster's shape --------------------------------------------------------
    def alive_nodes(self) -> dict[str, dict]:
        return {n["NodeID"]: n for n in self.ray.nodes() if n.get("Alive")}

    def sync(self) -> None:
        """Slots for every live node's GPUs (and the unpinned ones); slots of dead nodes
        are released uncharged and dropped."""
        nodes = self.alive_nodes()
        for slot in list(self.slots.values()):
            node = self._node_of(slot)
            if node and node not in nodes and slot.state == "running":
                self._lost_with_node(slot, node)
        for node_id, node in sorted(nodes.items()):
            gpus = float(node.get("Resources", {}).get("GPU", 0))
            for n in range(int(round(gpus * self.per_gpu))):
                key = f"gpu-{node_id[:12]}-{n}"
                if key not in self.slots:
                    self.slots[key] = Slot(key, "gpu", node=node_id)
        for kind, count in (("cpu", self.cpu_workers), ("fetch", self.fetchers)):
            for n in range(count):
                self.slots.setdefault(f"{kind}-{n}", Slot(f"{kind}-{n}", kind))
        if not self.slots and not self._warned:
            self._warned = True
            log.warning("no GPU in the cluster and no --cpu-workers/--fetchers: nothing to "
                        "run until a node with GPUs joins")
        for slot in self.slots.values():
            if slot.state == "new":
                self.start(slot)

    def _node_of(self, slot: Slot) -> str | None:
        if slot.node:
            return slot.node
        if slot.where is not None and not slot.info:
            ready, _ = self.ray.wait([slot.where], timeout=0)
            if ready:
                try:
                    slot.info = self.ray.get(slot.where)
                except Exception:  # noqa: BLE001 - the actor died before it answered
                    slot.info = {"node": None}
        return slot.info.get("node")

    # ---- starting and ending actors -------------------------------------------------
    def _options(self, slot: Slot) -> dict[str, Any]:
        opts: dict[str, Any] = {"max_restarts": 0, "max_concurrency": 2}
        forwarded = {k: v for k, v in os.environ.items() if k.startswith("YTCORPUS_")}
        if forwarded:  # the supervisor's settings reach every worker, on every node
            opts["runtime_env"] = {"env_vars": forwarded}
        if slot.kind == "gpu":
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            opts.update(num_gpus=1.0 / self.per_gpu, num_cpus=0,
                        scheduling_strategy=NodeAffinitySchedulingStrategy(slot.node,
                                                                           soft=False))
        else:
            opts.update(num_gpus=0, num_cpus=1)
        return opts

    def start(self, slot: Slot) -> None:
        from .actors import FetchActor, TranscribeActor

        flags = dict(self.flags)
        if slot.kind == "gpu":
            flags["device"] = flags.get("device") or "cuda"
        elif slot.kind == "cpu":
            flags["device"] = "cpu"
        node = (slot.node or "any")[:12]
        slot.prefix = f"ray-{node}-{slot.kind}{slot.key.rsplit('-', 1)[1]}-{uuid.uuid4().hex[:4]}"
        cls = FetchActor if slot.kind == "fetch" else TranscribeActor
        actor_cls = self.ray.remote(cls).options(**self._options(slot))
        slot.actor = actor_cls.remote(flags, slot.prefix)
        slot.where = slot.actor.where.remote()
        slot.ref = slot.actor.run.remote()
        slot.info = {}
        replaced = slot.started > 0
        slot.started += 1
        slot.state = "running"
        self.counts["replaced" if replaced else "started"] += 1
        log.info("worker %s %s (slot %s%s)", slot.prefix, "replaces the last" if replaced
                 else "started", slot.key, f", node {slot.node[:12]}" if slot.node else "")

    def _lost_with_node(self, slot: Slot, node: str) -> None:
        released = self.queue.release_worker(slot.prefix)
        self.counts["lost_with_node"] += 1
        self.counts["released_uncharged"] += released
        if node not in self.lost_nodes:
            self.lost_nodes.add(node)
            log.warning("node %s is dead: its workers are gone with it", node[:12])
        log.warning("worker %s lost with node %s: %d rows back to pending, uncharged",
                    slot.prefix, node[:12], released)
        try:
            self.ray.kill(slot.actor)
        except Exception:  # noqa: BLE001 - already gone with its node
            pass
        if slot.node:  # a pinned slot goes with its node (a node that comes back: new id)
            self.slots.pop(slot.key, None)
        else:  # an unpinned one is placed elsewhere
            slot.state = "new"

    def ended(self, slot: Slot) -> None:
        """The run() call of this slot finished: returned, raised, or its actor died."""
        from ray.exceptions import RayActorError

        try:
            out = self.ray.get(slot.ref)
        except RayActorError as exc:
            node = self._node_of(slot)
            preempted = getattr(exc, "preempted", False) or "node has died" in str(exc)
            if preempted or (node and node not in self.alive_nodes()):
                self._lost_with_node(slot, node or "?")
                return
            self.counts["crashes"] += 1
            log.warning("worker %s died on a live node (a crash: its rows count one when "
                        "their lease ends): replacing it", slot.prefix)
            self._failed(slot)
            return
        except Exception as exc:  # noqa: BLE001 - the worker raised: replace it
            log.warning("worker %s stopped with an error: %s", slot.prefix,
                        str(exc).strip().splitlines()[-1] if str(exc).strip() else exc)
            self._failed(slot)
            return
        code = out.get("code", 1)
        log.info("worker %s stopped: exit %d, %d completed, %d failed, %.1f s audio",
                 out.get("name", slot.prefix), code, out.get("completed", 0),
                 out.get("failed", 0), out.get("audio_seconds", 0.0))
        slot.failures = 0
        if code == 0:  # drained (--exit-when-empty), --max-videos reached, or stopped
            slot.state = "done"
        elif code == EXIT_BLOCKED and self.exit_when_empty:
            slot.state = "blocked"
        else:
            self._failed(slot)

    def _failed(self, slot: Slot) -> None:
        slot.failures += 1
        if slot.failures >= MAX_FAILURES or self.stop.is_set():
            slot.state = "failed"
            log.error("slot %s failed %d times in a row: giving it up", slot.key, slot.failures)
            return
        slot.state = "new"
        if not self.stop.is_set():
            self.start(slot)

    # ---- the loop -------------------------------------------------------------------
    def running(self) -> list[Slot]:
        return [s for s in self.slots.values() if s.state == "running"]

    def step(self) -> None:
        self.sync()
        running = self.running()
        if not running:
            self.stop.wait(self.poll_s)
            return
        by_ref = {s.ref: s for s in running}
        ready, _ = self.ray.wait(list(by_ref), num_returns=len(by_ref), timeout=self.poll_s)
        for ref in ready:
            slot = by_ref[ref]
            if slot.state == "running" and slot.ref is ref:
                self.ended(slot)

    def finished(self) -> int | None:
        """The exit code once nothing is left (--exit-when-empty) or every worker
        ended on its own (--max-videos), else None."""
        if self.running() or not self.slots:
            return None
        if any(s.state == "new" for s in self.slots.values()):
            return None
        if all(s.state == "failed" for s in self.slots.values()):
            log.error("every worker failed %d times in a row: giving up", MAX_FAILURES)
            return EXIT_FAILED
        if not self.exit_when_empty:
            return 0 if all(s.state == "done" for s in self.slots.values()) else None
        claimable, reapable = claimable_now(self.queue)
        states = {s.state for s in self.slots.values()}
        if states == {"blocked"}:
            return EXIT_BLOCKED
        if claimable or reapable:  # a crashed worker's rows came back: another wave
            for slot in self.slots.values():
                if slot.state in ("done", "blocked"):
                    self.start(slot)
            return None
        if leased(self.queue):  # leased elsewhere (another process): wait for it
            return None
        return 0

    def summary(self) -> str:
        states: dict[str, int] = {}
        for s in self.slots.values():
            states[s.state] = states.get(s.state, 0) + 1
        st = self.queue.stats()
        c = self.counts
        return (f"fleet: {len(self.alive_nodes())} nodes, slots " + ", ".join(
            f"{n} {k}" for k, n in sorted(states.items())) +
            f"; started {c['started']}, replaced {c['replaced']}, crashes {c['crashes']}, "
            f"lost with a node {c['lost_with_node']} ({c['released_uncharged']} rows back "
            f"uncharged); queue {st.pending} pending, {st.processing} processing, "
            f"{st.completed} completed, {st.error} error")

    def run(self) -> int:
        last = time.monotonic()
        code = None
        while not self.stop.is_set():
            self.step()
            if time.monotonic() - last >= self.summary_s:
                last = time.monotonic()
                log.info("%s", self.summary())
            code = self.finished()
            if code is not None:
                break
        self.shutdown()
        log.info("%s", self.summary())
        return 0 if code is None else code

    def shutdown(self, timeout: float = 60.0) -> None:
        """Ask every running actor to stop (it stores what is finished and releases the
        rest), wait for them, then end them."""
        running = self.running()
        for slot in running:
            try:
                slot.actor.stop.remote()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if running:
            self.ray.wait([s.ref for s in running], num_returns=len(running), timeout=timeout)
        for slot in self.slots.values():
            if slot.actor is not None:
                try:
                    self.ray.kill(slot.actor)
                except Exception:  # noqa: BLE001
                    pass
