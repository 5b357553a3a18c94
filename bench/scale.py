"""The queue at scale: per-call cost of claim, complete (with dedup), stats and reap at
growing table sizes, and completions per second with 1, 2 and 4 completing processes.

The table is filled in bulk (PostgreSQL: COPY; SQLite: one transaction per batch) with
pending rows and completed rows whose transcripts (~1,200 words) come from a word-bigram
model of real English prose (bench/prose.py), each with its real MinHash signature and
LSH bands; then, at each size, side by side:

  claim      Queue.claim(worker, 1)
  complete   Queue.complete of a claimed row with a fresh ~1,200-word transcript
             (signature, completing UPDATE, side tables, duplicate lookup)
  stats      Queue.stats()
  reap       Queue.reap_expired() with 3 expired leases
  rate N     completions per second of N processes claiming and completing at once

    python bench/scale.py --postgres --sizes 1000000,3000000 [--completed 0.1]
    python bench/scale.py --sqlite --sizes 1000000
    python bench/scale.py --postgres --sizes 5000,40000 --src /path/to/old/src

--src runs another tree's ytcorpus (e.g. the commit before this change) on the same data
shape. Prints bytes per row (table + indexes + side tables over rows).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = str(ROOT / "bench")


def _setup_path(src: str | None) -> None:
    # bench/ last: its queue.py must not shadow the standard library's queue
    sys.path[:] = [src or str(ROOT / "src")] + [
        p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"] + [BENCH]


_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        from prose import Bigrams

        _MODEL = Bigrams.from_disk()
    return _MODEL


def _signed(seed: int) -> tuple[str, bytes | None]:
    """(text, signature bytes) of the seed-th unrelated text."""
    from ytcorpus.quality import dedup

    text = _model().text(1200, seed)
    sig = dedup.signature(text)
    return text, None if sig is None else dedup.to_bytes(sig)


def _init_worker(src: str | None) -> None:
    _setup_path(src)
    _model()


# ---- filling ---------------------------------------------------------------------------
_POOL: list[str] = []  # the texts of the first --real completed rows, reused after


def fill(q, start: int, stop: int, completed: float, pool, real: int) -> None:
    """Rows start..stop-1: every 1/completed-th one completed. The first `real` completed
    rows get their own text and its real signature; after them (the MinHash of
    millions of texts takes hours on 2 cores) a text of that pool and a random
    signature, so their bands collide as often as unrelated 3-gram texts (never,
    measured by bench/dedup_bands.py)."""
    import numpy as np

    from ytcorpus.quality import dedup

    every = max(1, round(1 / completed)) if completed > 0 else 0
    rng = np.random.default_rng(start)
    batch = 20_000
    for lo in range(start, stop, batch):
        hi = min(stop, lo + batch)
        done_seeds = [i for i in range(lo, hi) if every and i % every == 0]
        fresh = [i for i in done_seeds if i // every < real]
        signed = dict(zip(fresh, pool.map(_signed, fresh, chunksize=64)))
        _POOL.extend(text for text, _ in signed.values())
        for i in done_seeds:
            if i not in signed:
                signed[i] = (_POOL[i % len(_POOL)], dedup.to_bytes(rng.integers(
                    0, 2**32, dedup.NUM_PERM, dtype=np.uint64).astype(np.uint32)))
        rows = []
        for i in range(lo, hi):
            vid = f"s{i:010d}"
            if i in signed:
                text = signed[i][0]
                rows.append((vid, f"https://www.youtube.com/watch?v={vid}", "completed",
                             600.0, text, len(text.split()) * 4 // 3,
                             "2026-01-01 00:00:00", i + 1))
            else:
                rows.append((vid, f"https://www.youtube.com/watch?v={vid}", "pending",
                             600.0, None, None, None, None))
        _insert_videos(q, rows)
        _insert_side(q, {f"s{i:010d}": sig for i, (_, sig) in signed.items() if sig}, dedup)
        print(f"  filled {hi:,} rows", file=sys.stderr, flush=True)


_COLS = ("video_id", "url", "status", "duration_seconds", "transcript", "tokens",
         "completed_at", "completed_seq")


def _insert_videos(q, rows: list[tuple]) -> None:
    with q._write_tx() as cur:
        if q.backend == "postgres":
            with cur.copy(f"COPY videos ({', '.join(_COLS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO videos ({', '.join(_COLS)}) VALUES "
                            f"({', '.join('?' * len(_COLS))})", rows)


def _insert_side(q, sigs: dict[str, bytes], dedup) -> None:
    if not sigs:
        return
    ids = sorted(sigs)
    with q._write_tx() as cur:
        q._exec(cur, "SELECT id, video_id FROM videos WHERE video_id >= ? AND video_id <= ?",
                (ids[0], ids[-1]))
        rowid = {r["video_id"]: int(r["id"]) for r in cur.fetchall()}
        sig_rows = [(rowid[v], sigs[v]) for v in ids]
        band_rows = [(b, h, rowid[v]) for v in ids
                     for b, h in dedup.band_hashes(dedup.from_bytes(sigs[v]))]
        if q.backend == "postgres":
            with cur.copy("COPY minhash_signatures (video_rowid, signature) FROM STDIN") as c:
                for row in sig_rows:
                    c.write_row(row)
            with cur.copy("COPY minhash_bands (band, hash, video_rowid) FROM STDIN") as c:
                for row in band_rows:
                    c.write_row(row)
        else:
            cur.executemany("INSERT INTO minhash_signatures VALUES (?, ?)", sig_rows)
            cur.executemany("INSERT INTO minhash_bands (band, hash, video_rowid) "
                            "VALUES (?, ?, ?)", band_rows)
    # completion numbers continue above the filled rows (counter row, or the sequence)
    for sql in ("UPDATE completion_seq SET v = (SELECT MAX(completed_seq) FROM videos)",
                "SELECT setval('completion_numbers', (SELECT MAX(completed_seq) FROM videos))"):
        try:
            with q._write_tx() as cur:
                q._exec(cur, sql)
        except Exception:  # noqa: BLE001 - not every version has both
            pass


def bytes_per_row(q, rows: int) -> str:
    with q._read_tx() as cur:
        if q.backend == "postgres":
            q._exec(cur, "SELECT pg_database_size(current_database()) AS b")
            size = int(cur.fetchone()["b"])
        else:
            size = os.path.getsize(q.path)
    return f"{size / rows:,.0f} bytes/row ({size / 1e9:.2f} GB)"


# ---- measuring -------------------------------------------------------------------------
def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(q, samples: int, seed0: int) -> dict[str, list[float]]:
    from ytcorpus.models import Result

    texts = [_model().text(1200, seed) for seed in range(seed0, seed0 + samples)]
    # fresh claimable rows for the claims and for the rate runs (a fully completed table
    # has none)
    q.add([f"https://www.youtube.com/watch?v=m{seed0 + i:010d}" for i in range(samples + 4000)])
    claims = []
    res = {"claim": _timed(lambda: claims.extend(q.claim("bench", 1, lease_s=3600)),
                           samples)}
    it = iter(zip(claims, texts))

    def one():
        c, text = next(it)
        q.complete("bench", c.video_id, Result(transcript=text, duration_seconds=600,
                                               tokens=1600))
    res["complete"] = _timed(one, len(claims))
    res["stats"] = _timed(q.stats, max(20, samples // 4))

    def reap():
        q.claim("reaped", 3, lease_s=-1)
        t0 = time.perf_counter()
        q.reap_expired()
        return (time.perf_counter() - t0) * 1000
    res["reap"] = [reap() for _ in range(max(20, samples // 4))]
    return res


def buffers(q) -> str:
    """PostgreSQL: shared buffers each per-call query touches (EXPLAIN ANALYZE BUFFERS),
    the work done whatever the machine's load; and the old COUNT(*) GROUP BY for scale."""
    from ytcorpus.quality import dedup
    from ytcorpus.queue.duplicates import _candidates_sql

    now = time.time()
    with q._read_tx() as cur:
        q._exec(cur, "SELECT video_rowid, signature FROM minhash_signatures "
                     "ORDER BY video_rowid LIMIT 1")
        row = cur.fetchone()
        params: list = []
        for b, h in dedup.band_hashes(dedup.from_bytes(row["signature"])):
            params += [b, h, row["video_rowid"]]
        queries = {
            "claim": ("SELECT id FROM videos WHERE status = 'pending' AND not_before <= ? "
                      "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED", (now,)),
            "stats": ("SELECT status, kind, SUM(n) AS n FROM queue_counts "
                      "GROUP BY status, kind", ()),
            "retry": ("SELECT COUNT(*) AS n FROM videos WHERE status = 'pending' "
                      "AND not_before > 0 AND not_before > ?", (now,)),
            "reap": ("SELECT id FROM videos WHERE status = 'processing' "
                     "AND lease_until < ?", (now,)),
            "dedup lookup": (_candidates_sql(dedup.BANDS), params),
            "COUNT(*) GROUP BY status (before)": (
                "SELECT status, COUNT(*) AS n FROM videos GROUP BY status", ()),
        }
        out = []
        for name, (sql, p) in queries.items():
            q._exec(cur, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, p)
            top = list(cur.fetchone().values())[0][0]
            plan = top["Plan"]
            blocks = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
            out.append(f"{name} {blocks} buffers ({top['Execution Time']:.2f} ms)")
    return "; ".join(out)


def _completer(db: str, src: str | None, seed0: int, seconds: float, out, barrier) -> None:
    _setup_path(src)
    from ytcorpus.models import Result
    from ytcorpus.queue import open_queue

    from ytcorpus.quality import dedup

    texts = [_model().text(1200, s) for s in range(seed0, seed0 + 100)]
    dedup.signature(texts[0])  # imports datasketch (seconds) before the clock starts
    q = open_queue(db)
    name = f"rate-{os.getpid()}"
    done, i = 0, 0
    barrier.wait()  # every process starts at once
    end = time.time() + seconds
    while time.time() < end:
        for c in q.claim(name, 1, lease_s=3600):
            q.complete(name, c.video_id, Result(transcript=texts[i % len(texts)] + f" {i}",
                                                duration_seconds=600, tokens=1600))
            done, i = done + 1, i + 1
    out.put(done / seconds)
    q.close()


def rate(db: str, src: str | None, procs: int, seconds: float, seed0: int) -> float:
    ctx = mp.get_context("spawn")
    out, barrier = ctx.Queue(), ctx.Barrier(procs)
    ps = [ctx.Process(target=_completer,
                      args=(db, src, seed0 + 1000 * k, seconds, out, barrier))
          for k in range(procs)]
    for p in ps:
        p.start()
    total = sum(out.get(timeout=600) for _ in ps)
    for p in ps:
        p.join()
    return total


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return f"{name:9} median {statistics.median(ms):8.2f} ms  p99 {p99:8.2f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--postgres", action="store_true", help="a throwaway local server")
    where.add_argument("--sqlite", action="store_true")
    where.add_argument("--db", help="an empty database (SQLite path or postgresql://)")
    p.add_argument("--sizes", default="5000,40000")
    p.add_argument("--completed", type=float, default=0.1, help="share of completed rows")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--real", type=int, default=1_000_000_000,
                   help="completed rows with their own text and real signature (the rest "
                        "reuse those texts with random signatures)")
    p.add_argument("--rate-seconds", type=float, default=15.0)
    p.add_argument("--procs", default="1,2,4")
    p.add_argument("--src", help="another tree's src/ (e.g. the commit before)")
    args = p.parse_args()
    _setup_path(args.src)
    from ytcorpus.queue import open_queue

    server = None
    if args.db:
        db = args.db
    elif args.sqlite:
        db = str(Path(tempfile.mkdtemp(prefix="bench-scale-")) / "q.db")
    else:
        import importlib.util  # tests/ is not on the path: its queue/ would shadow queue

        spec = importlib.util.spec_from_file_location("pgserver", ROOT / "tests/pgserver.py")
        pgserver = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pgserver)
        server = pgserver.PostgresServer()
        db = server.new_database()
    sizes = [int(s) for s in args.sizes.split(",")]
    import ytcorpus

    print(f"ytcorpus from {Path(ytcorpus.__file__).parent}; {db.split('@')[-1]}")
    ctx = mp.get_context("fork")
    results = {}
    try:
        with ctx.Pool(2, initializer=_init_worker, initargs=(args.src,)) as pool, \
                open_queue(db) as q:
            have = 0
            for size in sizes:
                t0 = time.time()
                fill(q, have, size, args.completed, pool, args.real)
                have = size
                if q.backend == "postgres":  # as autovacuum would have by then
                    with q._write_tx() as cur:
                        q._exec(cur, "ANALYZE")
                print(f"\n{size:,} rows ({args.completed:.0%} completed, "
                      f"{min(args.real, int(size * args.completed)):,} real signatures), filled in "
                      f"{time.time() - t0:.0f} s, {bytes_per_row(q, size)}")
                if q.backend == "postgres":
                    try:
                        print("  " + buffers(q))
                    except Exception as exc:  # noqa: BLE001 - an older tree (--src)
                        print(f"  buffers: not measured ({type(exc).__name__})")
                res = measure(q, args.samples, seed0=10_000_000 + size)
                for name, ms in res.items():
                    print("  " + summary(name, ms))
                rates = {n: rate(db, args.src, n, args.rate_seconds, 20_000_000 + size)
                         for n in (int(x) for x in args.procs.split(","))}
                print("  completions/s " + ", ".join(
                    f"{n} proc {r:.1f}" for n, r in rates.items())
                    + f"  ({rates[max(rates)] / rates[min(rates)]:.2f}x)")
                results[size] = {k: statistics.median(v) for k, v in res.items()}
                results[size]["rates"] = rates
        if len(sizes) > 1:
            lo, hi = results[sizes[0]], results[sizes[-1]]
            print(f"\nmedian per call at {sizes[-1]:,} over {sizes[0]:,}: " + ", ".join(
                f"{k} {hi[k] / lo[k]:.2f}x" for k in ("claim", "complete", "stats", "reap")))
        print(json.dumps(results))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
