"""Near-duplicate lookup cost on a large queue: a table of N completed rows with MinHash
signatures and LSH bands is filled directly (random signatures: the cost of a lookup
depends on the index, not on the text); then, side by side in one run:

  complete        Queue.complete of a fresh row with a 2,000-word transcript (the
                  completing UPDATE + signature + band inserts + candidate check)
  complete_plain  the same completion with the dedup step switched off (baseline)
  signature       MinHash of that transcript alone (CPU, outside the transaction)
  query           duplicates_of(row): the band lookups + signature checks for one row

    python bench/dedup.py [--rows 1000000] [--samples 200] [--db postgresql://... | --postgres]

--postgres starts a throwaway PostgreSQL cluster (tests/pgserver.py).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from ytcorpus.models import Result  # noqa: E402
from ytcorpus.quality import dedup  # noqa: E402
from ytcorpus.queue import base as queue_base  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402
from ytcorpus.queue.quality import duplicates_of  # noqa: E402

WORDS = ("energy mass force field wave particle charge current voltage heat light sound "
         "motion time space matter cell gene protein enzyme acid base salt metal river "
         "mountain ocean climate market price trade law court state nation war peace").split()
BATCH = 50_000


def fill(q, rows: int) -> None:
    """N completed rows with random signatures and their bands, in big batches."""
    rng = np.random.default_rng(1)
    q.add([f"https://www.youtube.com/watch?v=b{i:010d}" for i in range(rows)])
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET status = 'completed', duration_seconds = 600, "
                     "transcript = 'x' WHERE status = 'pending'")
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        sigs = rng.integers(0, 2**32, size=(n, dedup.NUM_PERM), dtype=np.uint32)
        bands = dedup.band_hashes_many(sigs)
        ids = range(start + 1, start + n + 1)
        with q._write_tx() as cur:
            cur.executemany(q._q("INSERT INTO minhash_signatures (video_rowid, signature) "
                                 "VALUES (?, ?)"),
                            [(i, dedup.to_bytes(s)) for i, s in zip(ids, sigs)])
            cur.executemany(q._q("INSERT INTO minhash_bands (video_rowid, band, hash) "
                                 "VALUES (?, ?, ?)"),
                            [(i, b, int(h)) for i, row in zip(ids, bands)
                             for b, h in enumerate(row)])
        print(f"  filled {start + n:,} rows", file=sys.stderr)


def transcript(rng: random.Random, words: int = 2000) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(500)) for _ in range(words))


def timed_completions(q, samples: int, tag: str, rng: random.Random) -> list[float]:
    ids = [f"{tag}{i:07d}"[:11].ljust(11, "z") for i in range(samples)]
    q.add([f"https://www.youtube.com/watch?v={v}" for v in ids])
    claims = q.claim("bench", n=samples)
    out = []
    for c in claims:
        result = Result(transcript=transcript(rng), duration_seconds=600.0)
        t = time.perf_counter()
        q.complete("bench", c.video_id, result)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--db", help="a PostgreSQL URL (default: a fresh SQLite file)")
    p.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    p.add_argument("--samples", type=int, default=200)
    args = p.parse_args()
    server = None
    if args.postgres:
        sys.path.append(str(ROOT / "tests"))
        from pgserver import PostgresServer

        server = PostgresServer()
        args.db = server.new_database()
    try:
        run(args)
    finally:
        if server is not None:
            server.stop()


def run(args) -> None:
    db = args.db or str(Path(tempfile.mkdtemp(prefix="bench-dedup-")) / "data.db")
    rng = random.Random(7)
    with open_queue(db) as q:
        t = time.perf_counter()
        fill(q, args.rows)
        print(f"fill: {args.rows:,} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        text = transcript(rng)
        dedup.signature(text)  # imports datasketch
        t = time.perf_counter()
        for _ in range(20):
            dedup.signature(text)
        sig_ms = (time.perf_counter() - t) / 20 * 1000
        with_dedup = timed_completions(q, args.samples, "c", rng)
        real = queue_base.store_completion, queue_base.signature_of
        queue_base.store_completion = lambda *a, **k: None
        queue_base.signature_of = lambda result: None
        try:
            plain = timed_completions(q, args.samples, "p", rng)
        finally:
            queue_base.store_completion, queue_base.signature_of = real
        sample = [f"b{random.Random(i).randrange(args.rows):010d}" for i in range(args.samples)]
        query = []
        for video_id in sample:
            t = time.perf_counter()
            duplicates_of(q, video_id)
            query.append(time.perf_counter() - t)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"rows {args.rows:,} ({q.backend}), {args.samples} samples, medians:")
    print(f"  complete with dedup   {ms(with_dedup):8.2f} ms/row")
    print(f"  complete without      {ms(plain):8.2f} ms/row  "
          f"(with / without {ms(with_dedup) / ms(plain):.1f}x)")
    print(f"  signature alone       {sig_ms:8.2f} ms (2,000 words)")
    print(f"  duplicates_of query   {ms(query):8.2f} ms/query (p90 "
          f"{sorted(query)[int(len(query) * 0.9)] * 1000:.2f} ms)")


if __name__ == "__main__":
    main()
