"""Queue benchmark: the project's API side by side with the raw SQL, same file, same run.

    python bench/queue.py [--rows 1000000] [--seconds 5] [--procs 1,4,8] [--no-postgres]

Ingest: `Queue.add` vs a raw executemany of INSERT-if-new in batches of 5000, with 10%
duplicate ids. Claims: processes calling `Queue.claim(worker, 1)` vs the raw claim
statement, for --seconds each. PostgreSQL runs on a throwaway local cluster (initdb).
Prints a table; the goal is API >= 0.5x raw.
"""

from __future__ import annotations

import sys

# this file is named queue.py: keep its folder off sys.path so `import queue` is stdlib's
sys.path[:] = [p for p in sys.path if p not in ("", __import__("os").path.dirname(__file__))]

import argparse
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]  # noqa: E402

from ytcorpus.models import Video  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402

RAW_INSERT = {
    "sqlite": "INSERT OR IGNORE INTO videos (video_id, url, priority) VALUES (?, ?, 0)",
    "postgres": "INSERT INTO videos (video_id, url, priority) VALUES (%s, %s, 0) "
                "ON CONFLICT (video_id) DO NOTHING",
}
RAW_CLAIM = {
    "sqlite": "UPDATE videos SET status='processing', worker=?, lease_until=? WHERE id = "
              "(SELECT id FROM videos INDEXED BY idx_videos_pending WHERE status='pending' "
              "AND not_before <= ? ORDER BY priority DESC, id LIMIT 1) RETURNING video_id",
    "postgres": "UPDATE videos SET status='processing', worker=%s, lease_until=%s WHERE id = "
                "(SELECT id FROM videos WHERE status='pending' AND not_before <= %s "
                "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING video_id",
}


def ids(n: int) -> list[str]:
    unique = [f"b{i:010d}" for i in range(int(n * 0.9))]
    rows = unique + random.Random(1).sample(unique, n - len(unique))
    random.Random(2).shuffle(rows)
    return rows


def ingest_api(db: str, rows: list[str]) -> float:
    with open_queue(db) as q:
        t = time.perf_counter()
        q.add(Video(video_id=v, url=f"https://www.youtube.com/watch?v={v}") for v in rows)
        return len(rows) / (time.perf_counter() - t)


def ingest_raw(db: str, rows: list[str], backend: str) -> float:
    with open_queue(db):
        pass  # same schema and indexes
    conn = _raw_connect(db, backend)
    t = time.perf_counter()
    for i in range(0, len(rows), 5000):
        chunk = [(v, f"https://www.youtube.com/watch?v={v}") for v in rows[i:i + 5000]]
        if backend == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(RAW_INSERT[backend], chunk)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur:
                cur.executemany(RAW_INSERT[backend], chunk)
            conn.commit()
    rate = len(rows) / (time.perf_counter() - t)
    conn.close()
    return rate


def _raw_connect(db: str, backend: str):
    if backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn
    import psycopg

    return psycopg.connect(db)


def claim_loop(mode: str, backend: str, db: str, seconds: float) -> None:
    """Child process: claim one row at a time until the time is up; print the count."""
    name = f"bench-{os.getpid()}"
    n = 0
    if mode == "api":
        q = open_queue(db)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if q.claim(name, 1, 600):
                n += 1
    else:
        conn = _raw_connect(db, backend)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            now = time.time()
            if backend == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
                got = conn.execute(RAW_CLAIM[backend], (name, now + 600, now)).fetchall()
                conn.execute("COMMIT")
            else:
                with conn.cursor() as cur:
                    cur.execute(RAW_CLAIM[backend], (name, now + 600, now))
                    got = cur.fetchall()
                conn.commit()
            n += len(got)
    print(n)


def claims_per_s(mode: str, backend: str, db: str, procs: int, seconds: float) -> float:
    children = [subprocess.Popen([sys.executable, __file__, "--child", mode, backend, db,
                                  str(seconds)], stdout=subprocess.PIPE, text=True)
                for _ in range(procs)]
    total = sum(int(c.communicate()[0].strip() or 0) for c in children)
    with open_queue(db) as q, q._write_tx() as cur:  # put the claimed rows back
        q._exec(cur, "UPDATE videos SET status='pending', worker=NULL, lease_until=NULL "
                     "WHERE status='processing'")
    return total / seconds


def run_backend(backend: str, make_db, rows: list[str], procs: list[int], seconds: float):
    api_db, raw_db = make_db(), make_db()
    results = [("ingest rows/s", ingest_api(api_db, rows), ingest_raw(raw_db, rows, backend))]
    for p in procs:
        api = claims_per_s("api", backend, api_db, p, seconds)
        raw = claims_per_s("raw", backend, api_db, p, seconds)
        results.append((f"claims/s, {p} proc", api, raw))
    return results


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        claim_loop(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--procs", default="1,4,8")
    p.add_argument("--no-postgres", action="store_true")
    args = p.parse_args()
    procs = [int(x) for x in args.procs.split(",")]
    rows = ids(args.rows)
    tmp = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    counter = iter(range(1000))
    table = {"sqlite": run_backend("sqlite", lambda: str(tmp / f"q{next(counter)}.db"), rows,
                                   procs, args.seconds)}
    if not args.no_postgres:
        from pgserver import PostgresServer

        server = PostgresServer()
        try:
            table["postgres"] = run_backend("postgres", server.new_database, rows, procs,
                                            args.seconds)
        finally:
            server.stop()
    print(f"\n{args.rows:,} rows (10% duplicate ids), {os.cpu_count()} cores, "
          f"{args.seconds:.0f} s per claim measurement")
    print(f"{'backend':<9} {'measure':<18} {'API':>10} {'raw SQL':>10} {'API/raw':>8}")
    for backend, results in table.items():
        for name, api, raw in results:
            print(f"{backend:<9} {name:<18} {api:>10,.0f} {raw:>10,.0f} {api / raw:>8.2f}")


if __name__ == "__main__":
    main()
