"""Who holds what: the worker registry, liveness, and taking rows back from workers that
died (reaping counts a crash) or were lost with their machine (released uncharged)."""

from __future__ import annotations

from typing import Any, Sequence

from ..core.errors import NODE_KINDS
from .patience import pages, patient


class WorkerLeases:
    """Mixed into queue.base.Queue: uses its transactions and dialect helpers."""

    max_crashes = 3

    @patient
    def release_worker(self, worker: str) -> int:
        """Every row of a worker lost with its machine back to pending, uncharged (no
        attempt, no crash): its exact name, or any name `worker-...` built from that prefix.
        A worker process that died on a live machine is a crash instead: its rows stay
        leased until the lease ends, and reaping counts the crash."""
        like = worker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
        with self._write_tx() as cur:
            self._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL, "
                            "lease_until = NULL WHERE status = 'processing' "
                            "AND (worker = ? OR worker LIKE ? ESCAPE '\\')", (worker, like))
            released = cur.rowcount
            self._exec(cur, "DELETE FROM workers WHERE worker = ? OR worker LIKE ? ESCAPE '\\'",
                       (worker, like))
        return released

    @patient
    def reap_expired(self) -> int:
        """Rows whose lease ran out (their worker died) go back to pending, counting a
        crash; the max_crashes-th crash ends the row as error kind 'worker_crash'."""
        with self._write_tx() as cur:
            now = self._now(cur)
            # two range probes of the partial index on leased rows (an OR would scan it)
            return (self._reap(cur, "lease_until < ?", (now,), indexed=True)
                    + self._reap(cur, "lease_until IS NULL", (), indexed=True))

    @patient
    def reap_workers(self, workers: Sequence[str]) -> int:
        """The rows these (dead) workers hold go back now, as reap_expired does."""
        changed = 0
        with self._write_tx() as cur:
            for chunk in pages(list(workers), 200):
                changed += self._reap(cur, f"worker IN ({','.join('?' * len(chunk))})", chunk)
        return changed

    def _reap(self, cur, where: str, params: Sequence[Any], *, indexed: bool = False) -> int:
        dead = "crashes + 1 >= ?"
        table = f"videos{self._indexed('idx_videos_leases')}" if indexed else "videos"
        self._exec(
            cur,
            f"UPDATE {table} SET crashes = crashes + 1, lease_until = NULL, "
            f"status = CASE WHEN {dead} THEN 'error' ELSE 'pending' END, "
            f"worker = CASE WHEN {dead} THEN worker ELSE NULL END, "
            f"error_kind = CASE WHEN {dead} THEN 'worker_crash' ELSE error_kind END, "
            f"error = CASE WHEN {dead} THEN ? ELSE error END "
            f"WHERE status = 'processing' AND {where}",
            (self.max_crashes, self.max_crashes, self.max_crashes, self.max_crashes,
             f"its worker died while holding it {self.max_crashes} times "
             "(crash, OOM kill or lost node)", *params),
        )
        return cur.rowcount

    def leased_by_others(self, worker: str) -> dict[str, int]:
        """Rows in processing per worker other than `worker` (read-only)."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n FROM videos WHERE status = "
                            "'processing' AND (worker IS NULL OR worker <> ?) GROUP BY worker",
                       (worker,))
            return {r["worker"] or "": int(r["n"]) for r in cur.fetchall()}

    def waiting_for_node(self) -> bool:
        """Is a pending row put behind for a node, route or host fault, not yet due? Work
        that waits on the node, not on the video (--exit-when-empty then exits 75). A
        LIMIT 1 probe, never a count."""
        kinds = sorted(NODE_KINDS)
        with self._read_tx() as cur:
            self._exec(cur, "SELECT 1 AS x FROM videos WHERE status = 'pending' AND "
                            f"not_before > ? AND error_kind IN ({','.join('?' * len(kinds))}) "
                            "LIMIT 1", (self._now(cur), *kinds))
            return cur.fetchone() is not None

    def reap_stale(self) -> int:
        """`requeue --stale`: rows whose lease ran out, and at once the rows of workers
        that are dead (heartbeat stopped, process gone) or stopped. Counts a crash."""
        reaped = self.reap_expired()
        holders = self.leased_by_others("")
        dead = [w for w in self.dead_workers() if w in holders]
        return reaped + (self.reap_workers(dead) if dead else 0)

    def stale_leases(self) -> int:
        """How many rows reap_stale() would return now (read-only)."""
        dead = set(self.dead_workers())
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n, SUM(CASE WHEN lease_until IS NULL "
                            "OR lease_until < ? THEN 1 ELSE 0 END) AS e FROM videos "
                            "WHERE status = 'processing' GROUP BY worker", (self._now(cur),))
            rows = cur.fetchall()
        return sum(int(r["n"] if r["worker"] in dead else r["e"] or 0) for r in rows)

    def dead_workers(self) -> list[str]:
        """Registered workers whose heartbeat stopped or whose process is gone, and
        those stopped: none of them should hold a row (queue/liveness.py)."""
        return [w["worker"] for w in self.workers() if not w["alive"]]

    def expired_leases(self) -> int:
        """How many rows reap_expired() would return to pending now (read-only)."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT COUNT(*) AS n FROM videos WHERE status = 'processing' "
                            "AND (lease_until IS NULL OR lease_until < ?)", (self._now(cur),))
            return int(cur.fetchone()["n"])

    @patient
    def register_worker(self, worker: str, *, host: str = "", device: str = "",
                        model: str = "", lease_s: float = 600.0) -> None:
        with self._write_tx() as cur:
            now = self._now(cur)
            self._exec(cur, "DELETE FROM workers WHERE worker = ?", (worker,))
            self._exec(cur, "INSERT INTO workers (worker, host, device, model, started_at, "
                            "last_seen, lease_s, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                       (worker, host, device, model, now, now, lease_s))

    @patient
    def unregister_worker(self, worker: str) -> None:
        with self._write_tx() as cur:
            self._exec(cur, "UPDATE workers SET state = 'stopped', last_seen = ? "
                            "WHERE worker = ?", (self._now(cur), worker))

    def workers(self) -> list[dict]:
        """Every registered worker with `alive` and `dead` (its heartbeat stopped or its
        process on this host is gone: queue/liveness.py); stopped ones are neither."""
        from .liveness import is_dead

        with self._read_tx() as cur:
            now = self._now(cur)
            self._exec(cur, "SELECT worker, host, device, model, started_at, last_seen, "
                            "lease_s, state FROM workers ORDER BY started_at")
            rows = [dict(r) for r in cur.fetchall()]
        for r in rows:
            r["dead"] = is_dead(r, now)
            r["alive"] = r["state"] != "stopped" and not r["dead"]
        return rows
