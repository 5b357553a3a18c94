"""Ray's overhead: the same queue through `ytcorpus cluster` (a local Ray head declaring
2 GPUs: two worker actors) and through two `ytcorpus work` processes, side by side.

Each run gets a fresh SQLite copy of the same queue (ROWS copies of a 57 s lecture served
by a local HTTP server) and the plugin engine that costs nothing (tests/free_engine.py),
so what is measured is the fleet around the model: claims, downloads, decode, VAD,
chunking, storing, plus Ray's actors. Runs alternate (work, cluster, work, cluster...)
so machine load hits both alike; the Ray head is started once, before timing (on a real
cluster it is already up).

Reported per run: x realtime end to end (audio seconds / wall seconds from the command's
start to its exit), x realtime steady (audio between the first and the last completion
over that span), and the time from start to the first completion.

    python bench/cluster.py [--rows 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from media import MediaServer  # noqa: E402
from raycluster import RayCluster  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402

CLIP = ROOT / "src" / "ytcorpus" / "demo_data" / "history.mp3"
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
COMMON = ["--device", "cpu", "--engine", "free_engine:FreeEngine", "--exit-when-empty",
          "--prepare-threads", "1"]


def make_db(folder: Path, urls: list[str]) -> str:
    db = str(folder / f"q{time.monotonic_ns()}.db")
    with open_queue(db) as q:
        q.add(urls)
    return db


def watch(db: str, stop: threading.Event, out: list) -> None:
    """(time, completed rows, completed audio seconds) each time the count changes."""
    last = -1
    with open_queue(db, read_only=True) as q:
        while not stop.is_set():
            with q._read_tx() as cur:
                q._exec(cur, "SELECT COUNT(*) AS n, COALESCE(SUM(duration_seconds), 0) AS s "
                             "FROM videos WHERE status = 'completed'")
                r = cur.fetchone()
            if r["n"] != last:
                out.append((time.monotonic(), int(r["n"]), float(r["s"])))
                last = r["n"]
            stop.wait(0.05)


def timed(db: str, commands: list[list[str]], rows: int) -> dict:
    seen: list = []
    stop = threading.Event()
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "ytcorpus", "--db", db, *c],
                              env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    watcher = threading.Thread(target=watch, args=(db, stop, seen), daemon=True)
    watcher.start()
    errors = [p.communicate()[1] for p in procs]
    wall = time.monotonic() - t0
    stop.set()
    watcher.join()
    with open_queue(db, read_only=True) as q:
        done = q.stats().completed
    if done != rows or any(p.returncode for p in procs):
        raise SystemExit(f"run failed: {done}/{rows} rows; {errors[0][-2000:]}")
    marks = [m for m in seen if m[1] > 0]
    first, last = marks[0], marks[-1]
    audio = last[2]
    steady = (last[2] - first[2]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
    return {"wall": wall, "x_end_to_end": audio / wall, "x_steady": steady,
            "first_s": first[0] - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    site = tmp / "site"
    site.mkdir()
    shutil.copy(CLIP, site / CLIP.name)
    server = MediaServer(site)
    urls = [server.url(CLIP.name) + f"?n={i}" for i in range(a.rows)]
    t = time.monotonic()
    ray = RayCluster(tmp, env=ENV, gpus=2, cpus=2)
    print(f"ray head up in {time.monotonic() - t:.0f} s (not timed)", flush=True)
    results: dict[str, list[dict]] = {"work x2": [], "cluster": []}
    try:
        for r in range(a.rounds):
            work_dir = str(tmp / f"w{r}")
            db = make_db(tmp, urls)
            results["work x2"].append(timed(db, [["work", *COMMON, "--work-dir", work_dir]] * 2,
                                            a.rows))
            db = make_db(tmp, urls)
            results["cluster"].append(timed(db, [["cluster", "--address", ray.address,
                                                  *COMMON, "--work-dir", work_dir,
                                                  "--poll-interval", "1"]], a.rows))
            print(f"round {r + 1}: " + "; ".join(
                f"{k} {v[-1]['x_end_to_end']:.0f}x ({v[-1]['x_steady']:.0f}x steady), "
                f"first {v[-1]['first_s']:.1f} s" for k, v in results.items()), flush=True)
    finally:
        ray.close()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
    print(f"\n{a.rows} rows x {CLIP.name}, medians of {a.rounds} rounds")
    print(f"{'':10} {'x realtime':>11} {'steady':>8} {'first (s)':>10} {'wall (s)':>9}")
    for k, m in med.items():
        print(f"{k:10} {m['x_end_to_end']:11.1f} {m['x_steady']:8.1f} {m['first_s']:10.1f} "
              f"{m['wall']:9.1f}")
    w, c = med["work x2"], med["cluster"]
    print(f"Ray's overhead: {100 * (1 - c['x_end_to_end'] / w['x_end_to_end']):.1f}% end to "
          f"end, {100 * (1 - c['x_steady'] / w['x_steady']):.1f}% steady")


if __name__ == "__main__":
    main()
