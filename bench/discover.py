"""Discovery benchmark: entries/s from fixture pages (the shape yt-dlp's YouTube tab
extractor returns, through a real YoutubeDL) into a queue that already holds 1M rows.

    python bench/discover.py [--existing 1000000] [--entries 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import test_discover as fx  # noqa: E402  (the fixture extractors of the tests)
from ytcorpus.discover.crawl import DiscoverOptions, Discoverer  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--existing", type=int, default=1_000_000)
    p.add_argument("--entries", type=int, default=20_000)
    args = p.parse_args()
    db = str(Path(tempfile.mkdtemp(prefix="bench-discover-")) / "data.db")
    with open_queue(db) as q, q._write_tx() as cur:
        cur.executemany("INSERT INTO videos (video_id, url) VALUES (?, ?)",
                        ((f"x{i:010d}", "u") for i in range(args.existing)))
    fx.CHANNEL[:] = [fx.entry(f"n{i:010d}", f"Lecture {i}", 1800.0)
                     for i in range(args.entries)]
    print(f"queue holds {args.existing:,} rows; channel of {args.entries:,} new entries "
          f"in pages of {fx.PAGE}")
    with open_queue(db) as q:
        for label, full in (("first crawl", True), ("re-crawl", False)):
            d = Discoverer(q, DiscoverOptions(incremental=not full), fx.fixture_ydl)
            t = time.perf_counter()
            d.channels(["@mitocw"])
            wall = time.perf_counter() - t
            s = d.summary
            print(f"{label:<12} {s.found:>7,} entries in {wall:6.2f} s = "
                  f"{s.found / wall:>8,.0f} entries/s (new {s.new:,}, known {s.known:,})")


if __name__ == "__main__":
    main()
