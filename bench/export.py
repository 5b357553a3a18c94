"""Export benchmark: MB/s and rows/s for each format, reading from a SQLite queue of
completed rows with large transcripts (default 200k rows of 40 KB: an 8 GB database;
use --rows to scale down).

    python bench/export.py [--rows 200000] [--kb 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from ytcorpus.output.export import export_rows  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402

WORDS = ("the derivative measures how fast a function changes with respect to time and we "
         "compute it as the limit of a difference quotient ").split()


def fill(db: str, rows: int, kb: int) -> int:
    """Completed rows with distinct ~kb KB transcripts and a few segments each."""
    import random

    rng = random.Random(0)
    # 256 different texts (10 MB at 40 KB): more than zstd's window, so compression is
    # not flattered by identical rows
    texts = [" ".join(rng.choices(WORDS, k=kb * 1024 // 5))[: kb * 1024] for _ in range(256)]
    segments = '[{"start": 0.0, "end": 5.0, "text": "the derivative"}]'
    with open_queue(db) as q, q._write_tx() as cur:
        cur.executemany(
            "INSERT INTO videos (video_id, url, title, status, transcript, segments, tokens, "
            "duration_seconds, speed_ratio, language, model, completed_at, source) VALUES "
            "(?, ?, ?, 'completed', ?, ?, ?, 600.0, 150.0, 'en', 'distil-large-v3', "
            "'2026-11-01 00:00:00', 'bench')",
            ((f"e{i:010d}", f"https://www.youtube.com/watch?v=e{i:010d}", f"Lecture {i}",
              f"{i} {texts[i % 256]}", segments, kb * 200) for i in range(rows)))
    return sum(len(texts[i % 256]) for i in range(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--kb", type=int, default=40)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    db = str(tmp / "data.db")
    text_bytes = fill(db, args.rows, args.kb)
    print(f"{args.rows:,} rows x {args.kb} KB = {text_bytes / 1e6:,.0f} MB of transcripts; "
          "MB/s counts transcript bytes")
    print(f"{'format':<10} {'rows/s':>9} {'MB/s':>7} {'output MB':>10}")
    for fmt in ("jsonl", "jsonl.zst", "parquet"):
        out = tmp / f"out.{fmt}"
        with open_queue(db) as q:
            t = time.perf_counter()
            export_rows(q.iter_completed(), str(out), fmt)
            wall = time.perf_counter() - t
        size = os.path.getsize(out)
        print(f"{fmt:<10} {args.rows / wall:>9,.0f} {text_bytes / 1e6 / wall:>7.0f} "
              f"{size / 1e6:>10,.0f}")
        out.unlink()


if __name__ == "__main__":
    main()
