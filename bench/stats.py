"""Stats and monitor cost on a large SQLite queue: seconds for `Queue.stats()` and for
one monitor frame (`monitor.collect`), cold (page cache dropped, when allowed) and warm.

    python bench/stats.py [--rows 200000] [--kb 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from ytcorpus.observe.monitor import collect  # noqa: E402
from ytcorpus.queue import open_queue, utc_text  # noqa: E402


def timed(db: str) -> tuple[float, float]:
    with open_queue(db) as q:
        t = time.perf_counter()
        q.stats()
        stats = time.perf_counter() - t
        t = time.perf_counter()
        collect(q)
        return stats, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--kb", type=int, default=10)
    args = p.parse_args()
    db = str(Path(tempfile.mkdtemp(prefix="bench-stats-")) / "data.db")
    stamp = utc_text(time.time() - 600)  # all completed in the last hour: the worst case
    with open_queue(db) as q, q._write_tx() as cur:
        cur.executemany(
            "INSERT INTO videos (video_id, url, status, transcript, segments, tokens, "
            "duration_seconds, completed_at, worker) VALUES (?, 'u', 'completed', ?, '[]', "
            "100, 60.0, ?, ?)",
            ((f"s{i:010d}", "x" * (args.kb * 1024), stamp, f"w{i % 50}")
             for i in range(args.rows)))
    subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"],
                   capture_output=True)
    cold = timed(db)
    warm = timed(db)
    print(f"{args.rows:,} completed rows x {args.kb} KB, 50 workers, all in the last hour")
    print(f"stats():        cold {cold[0]:.3f} s   warm {warm[0]:.3f} s")
    print(f"monitor frame:  cold {cold[1]:.3f} s   warm {warm[1]:.3f} s")


if __name__ == "__main__":
    main()
