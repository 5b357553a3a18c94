"""stats' quality summary and the monitor's download totals on a large PostgreSQL queue:
per-call time of `quality_summary(q)` and `download_totals(q)` read from the counters
(queue/summary_counts.py) and by counting the rows (what they did before, and still do
on a database without the counters), on the same data, plus the shared buffers each
query touches (EXPLAIN ANALYZE BUFFERS: the work itself, whatever the machine's load).

The table is filled with COPY: --rows rows, --completed of them completed with a language
and its source, ~5% of those near-duplicates (duplicate_of set), ~20% with flags (one
video_flags row each), and downloaded bytes on 95% of the rows; short transcripts
(--kb each), then VACUUM ANALYZE (as autovacuum would have by then).

    python bench/summary.py --postgres --rows 200000 [--completed 0.9] [--samples 50]
    python bench/summary.py --db postgresql://... --src /path/to/other/src   # that tree's

--src times another tree's functions (e.g. the commit before this change) on the data
this run filled.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_path(src: str | None) -> None:
    # bench/ out of the path: its queue.py must not shadow the standard library's queue
    sys.path[:] = [src or str(ROOT / "src")] + [
        p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


LANGUAGES = ["en"] * 14 + ["de", "fr", "es", "und", None]
SOURCES = ["model"] * 6 + ["signals", "metadata", None]
FLAGS = ["no_speech", "language_uncertain", "hallucination", "repetition"]


def fill(q, rows: int, completed: float, kb: int) -> None:
    import random

    rng = random.Random(7)
    every = max(1, round(1 / (1 - completed))) if completed < 1 else 0
    text = ("lorem ipsum dolor sit amet " * (kb * 1024 // 27 + 1))[: kb * 1024]
    cols = ("video_id", "url", "status", "duration_seconds", "transcript", "tokens",
            "completed_at", "completed_seq", "language", "language_source", "duplicate_of",
            "audio_bytes", "flags")
    batch = 20_000
    for lo in range(0, rows, batch):
        out, flagged = [], []
        for i in range(lo, min(rows, lo + batch)):
            vid = f"s{i:010d}"
            seconds = float(rng.randint(60, 7200))
            audio = int(seconds * 16_000) if rng.random() < 0.95 else None
            if every and i % every == 0:
                out.append((vid, f"https://www.youtube.com/watch?v={vid}", "pending", seconds,
                            None, None, None, None, None, None, None, audio, None))
                continue
            flags = [rng.choice(FLAGS)] if rng.random() < 0.2 else []
            dup = f"s{rng.randrange(max(1, i)):010d}" if i and rng.random() < 0.05 else None
            out.append((vid, f"https://www.youtube.com/watch?v={vid}", "completed", seconds,
                        text, len(text) // 5, "2026-01-01 00:00:00", i + 1,
                        rng.choice(LANGUAGES), rng.choice(SOURCES), dup, audio,
                        json.dumps(flags) if flags else None))
            flagged += [(vid, f) for f in flags]
        with q._write_tx() as cur:
            with cur.copy(f"COPY videos ({', '.join(cols)}) FROM STDIN") as copy:
                for row in out:
                    copy.write_row(row)
            if flagged:
                cur.execute("SELECT id, video_id FROM videos WHERE video_id = ANY(%s)",
                            ([v for v, _ in flagged],))
                ids = {r["video_id"]: r["id"] for r in cur.fetchall()}
                with cur.copy("COPY video_flags (video_rowid, flag) FROM STDIN") as copy:
                    for v, f in flagged:
                        copy.write_row((ids[v], f))
        print(f"  filled {min(rows, lo + batch):,} rows", file=sys.stderr, flush=True)


def timed(fn, n: int) -> dict[str, float]:
    fn()  # the first call opens a connection and finds the table: not what a loop pays
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"median_ms": round(statistics.median(ms), 3),
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3)}


def buffers(q, statements: list[str]) -> list[str]:
    out = []
    with q._read_tx() as cur:
        for sql in statements:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
            top = list(cur.fetchone().values())[0][0]
            plan = top["Plan"]
            blocks = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
            out.append(f"{blocks:>6} buffers {top['Execution Time']:8.2f} ms  {sql[:90]}")
    return out


def measure(db: str, samples: int, label: str) -> dict:
    """Per call: this tree's functions, and (when it has the counters) the same functions
    counting the rows (summary_counts.read answering None, as on an older database)."""
    from ytcorpus.queue import open_queue
    from ytcorpus.queue.quality import quality_summary
    from ytcorpus.queue.staging import download_totals

    res = {}
    with open_queue(db, read_only=True) as q:
        res[label] = {"quality_summary": timed(lambda: quality_summary(q), samples),
                      "download_totals": timed(lambda: download_totals(q), samples)}
        answer = (quality_summary(q), download_totals(q))
        if importlib.util.find_spec("ytcorpus.queue.summary_counts") is not None:
            from ytcorpus.queue import summary_counts

            read = summary_counts.read
            summary_counts.read = lambda *a, **k: None
            try:
                res["counting the rows"] = {
                    "quality_summary": timed(lambda: quality_summary(q), samples),
                    "download_totals": timed(lambda: download_totals(q), samples)}
                assert (quality_summary(q), download_totals(q)) == answer, "counted differs"
            finally:
                summary_counts.read = read
    res["answer"] = answer
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--postgres", action="store_true", help="a throwaway local server")
    where.add_argument("--db", help="a postgresql:// URL (filled if it has no rows)")
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--completed", type=float, default=0.9)
    p.add_argument("--kb", type=int, default=1, help="transcript size of a completed row")
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--src", help="another tree's src/ (e.g. the commit before)")
    p.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    _setup_path(args.src if args.measure_only else None)
    if args.measure_only:  # a child with another tree on its path
        print(json.dumps(measure(args.db, args.samples, "other tree"), default=str))
        return
    from ytcorpus.queue import open_queue

    server = None
    if args.postgres:
        spec = importlib.util.spec_from_file_location("pgserver", ROOT / "tests/pgserver.py")
        pgserver = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pgserver)
        server = pgserver.PostgresServer()
        db = server.new_database()
    else:
        db = args.db
    try:
        with open_queue(db) as q:
            if q.stats().total == 0:
                t0 = time.time()
                fill(q, args.rows, args.completed, args.kb)
                with q.pool.connection() as conn:  # VACUUM runs outside a transaction
                    conn.autocommit = True
                    conn.execute("VACUUM ANALYZE")
                print(f"filled {args.rows:,} rows ({args.completed:.0%} completed) in "
                      f"{time.time() - t0:.0f} s")
            s = q.stats()
            print(f"{s.total:,} rows, {s.completed:,} completed")
            print("buffers per query (EXPLAIN ANALYZE BUFFERS):")
            for line in buffers(q, [
                    "SELECT flag, COUNT(*) AS n FROM video_flags GROUP BY flag",
                    "SELECT COALESCE(language, '') AS l, COALESCE(language_source, '') AS s, "
                    "COUNT(*) AS n FROM videos WHERE status = 'completed' "
                    "GROUP BY language, language_source",
                    "SELECT COUNT(*) AS n FROM videos WHERE duplicate_of IS NOT NULL "
                    "AND status = 'completed'",
                    "SELECT COUNT(*) AS n, COALESCE(SUM(audio_bytes), 0) AS b, "
                    "COALESCE(SUM(duration_seconds), 0) AS s FROM videos "
                    "WHERE audio_bytes IS NOT NULL",
                    "SELECT counter, item, SUM(n) AS n, SUM(seconds) AS s, SUM(amount) AS b "
                    "FROM summary_counts WHERE counter IN ('flag', 'language', "
                    "'language_source', 'duplicate', 'built') GROUP BY counter, item "
                    "ORDER BY counter, item"]):
                print("  " + line)
        res = measure(db, args.samples, "counters")
        if args.src:
            out = subprocess.run([sys.executable, __file__, "--db", db, "--src", args.src,
                                  "--samples", str(args.samples), "--measure-only"],
                                 capture_output=True, text=True, check=True)
            other = json.loads(out.stdout.strip().splitlines()[-1])
            assert json.dumps(other.pop("answer"), sort_keys=True) == json.dumps(
                res["answer"], sort_keys=True, default=str), "the other tree answers otherwise"
            res.update({f"{k} ({args.src})": v for k, v in other.items()})
        res.pop("answer")
        for label, calls in res.items():
            for name, t in calls.items():
                print(f"  {label:28} {name:16} median {t['median_ms']:8.3f} ms  "
                      f"p99 {t['p99_ms']:8.3f} ms")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
