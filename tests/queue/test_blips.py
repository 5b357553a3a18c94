"""Database blips and mistakes: typed errors, reconnects, no silently created databases."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from ytcorpus.core.errors import DatabaseUnavailableError, QueueError, fault_of
from ytcorpus.models import Result
from ytcorpus.queue import open_queue


def test_missing_sqlite_file_is_only_created_when_asked(tmp_path):
    path = tmp_path / "typo.db"
    for options in ({"create": False}, {"read_only": True}):
        with pytest.raises(QueueError, match="typo.db: the file does not exist"):
            open_queue(str(path), **options)
        assert not path.exists()
    open_queue(str(path)).close()  # the Python API default still creates
    assert path.exists()


def test_read_only_never_writes_or_migrates(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE videos (id INTEGER PRIMARY KEY, video_id TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with open_queue(str(path), read_only=True) as q:  # an older schema is read as it is
        assert q.stats().total == 0
    assert path.read_bytes() == before
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(QueueError, match="run `ytcorpus init`"):
        open_queue(str(empty), read_only=True)  # no videos table at all
    with open_queue(str(path)) as q:  # init upgrades
        q.add(["aaaaaaaaaa1"])
    with open_queue(str(path), read_only=True) as q:
        assert q.stats().pending == 1
        with pytest.raises(QueueError, match="read-only"):
            q.add(["aaaaaaaaaa2"])


def test_full_sqlite_database_is_a_node_fault_and_recovers(tmp_path):
    with open_queue(str(tmp_path / "q.db"), outage_wait_s=0) as q:
        q.add(["aaaaaaaaaa1"])
        [claim] = q.claim("w", 1)
        pages = q._conn.execute("PRAGMA page_count").fetchone()[0]
        q._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
        with pytest.raises(DatabaseUnavailableError, match="full") as info:
            q.complete("w", claim.video_id, Result("x" * 200_000))
        assert fault_of(info.value) == "node"
        assert q.get(claim.video_id)["status"] == "processing"  # rolled back, still held
        q._conn.execute("PRAGMA max_page_count = 1073741823")
        assert q.complete("w", claim.video_id, Result("x" * 200_000))


def test_unreachable_postgres_fails_fast_in_one_line(pg_server):
    url = f"postgresql://ytcorpus@127.0.0.1:{_closed_port()}/nothing"
    with pytest.raises(DatabaseUnavailableError) as info:
        open_queue(url, connect_timeout=3)
    assert "\n" not in str(info.value) and "refused" in str(info.value).lower()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_postgres_restart_errors_are_typed_and_the_pool_reconnects(pg_server):
    url = pg_server.new_database()
    with open_queue(url, pool_size=2) as q:
        q.add([f"aaaaaaaaa{i:02d}" for i in range(40)])
        held = q.claim("w", 4)
        errors: list[BaseException] = []
        stop = threading.Event()

        def hammer():  # operations while the server goes down and comes back
            while not stop.is_set():
                try:
                    q.heartbeat("w", [c.video_id for c in held])
                    q.stats()
                except Exception as exc:  # noqa: BLE001 - every one is checked below
                    errors.append(exc)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            pg_server.restart()
            pg_server.restart()
        finally:
            stop.set()
            thread.join()
        assert all(isinstance(e, DatabaseUnavailableError) for e in errors), errors[:3]
        # after the restarts: every operation works on the first try
        assert q.heartbeat("w", [c.video_id for c in held]) == 4
        assert q.complete_many("w", [(c.video_id, Result("t")) for c in held]) == [True] * 4
        assert len(q.claim("w2", 3)) == 3
        assert q.stats().completed == 4


def test_a_write_waits_out_a_short_outage(tmp_path):
    with open_queue(str(tmp_path / "q.db"), outage_wait_s=30) as q:
        q.add(["aaaaaaaaaa1"])
        [claim] = q.claim("w", 1)
        pages = q._conn.execute("PRAGMA page_count").fetchone()[0]
        q._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full...
        freed = threading.Timer(1.0, lambda: q._conn.execute(
            "PRAGMA max_page_count = 1073741823"))  # ...until someone frees space
        freed.start()
        assert q.complete("w", claim.video_id, Result("x" * 200_000))
        freed.join()
        assert q.get(claim.video_id)["status"] == "completed"


def test_read_only_postgres_refuses_writes(pg_server):
    url = pg_server.new_database()
    with open_queue(url) as q:
        q.add(["aaaaaaaaaa1"])
    with open_queue(url, read_only=True) as q:
        assert q.stats().pending == 1
        with pytest.raises(QueueError, match="read-only"):
            q.add(["aaaaaaaaaa2"])
    with pytest.raises(QueueError, match="ytcorpus init"):
        open_queue(pg_server.new_database(), create=False)


def test_idle_connections_cut_by_a_restart_are_replaced_before_use(pg_server):
    url = pg_server.new_database()
    with open_queue(url, pool_size=3, outage_wait_s=0) as q:  # no retries: the pool's check
        q.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
        barrier = threading.Barrier(3)

        def hold():  # three connections in the pool, all idle when the server restarts
            with q._read_tx():
                barrier.wait()

        threads = [threading.Thread(target=hold) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pg_server.restart()
        assert q.stats().pending == 2
        assert len(q.claim("w", 2)) == 2
        assert q.heartbeat("w", ["aaaaaaaaaa1", "aaaaaaaaaa2"]) == 2
