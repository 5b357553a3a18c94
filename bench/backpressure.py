"""Memory while the database keeps the writer waiting: four long inputs (real speech:
the ARCTIC clip and pauses, over and over) through a worker whose SQLite file another
connection holds with BEGIN EXCLUSIVE for a while once every row is claimed. Measures
the worker's RSS when the lock is taken and its peak while it is held, and the speech
seconds the engine transcribed meanwhile (nothing can be stored). Runs this tree and,
with --against SRC, another checkout's src/ (e.g. the start commit) side by side.

    python bench/backpressure.py [--minutes 20] [--lock-s 30] [--against /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SR = 16000

CHILD = r'''
import json, sqlite3, sys, threading, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from free_engine import FreeEngine
try:
    from ytcorpus.core.config import FetchConfig, WorkerConfig
    from ytcorpus.acquire.ytdlp import Fetcher
except ImportError:  # before the layout change
    from ytcorpus.config import FetchConfig, WorkerConfig
    from ytcorpus.fetch import Fetcher
from ytcorpus.queue import open_queue
from ytcorpus.work.worker import Worker

files, db, lock_s = json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4])
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
class Engine(FreeEngine):
    seconds = 0.0
    def transcribe_chunks(self, items):
        Engine.seconds += sum(np.asarray(i).size for i in items) / 16000
        return super().transcribe_chunks(items)
engine = Engine(None, "cpu", 8)
out = {}
lock = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
def gate():
    while len(worker.held) < len(files):
        time.sleep(0.05)
    lock.execute("BEGIN EXCLUSIVE")
    out.update(rss_at_lock=rss(), seconds_at_lock=Engine.seconds)
    def hold():
        peak, end = rss(), time.time() + lock_s
        while time.time() < end:
            peak = max(peak, rss())
            time.sleep(0.2)
        out.update(rss_peak_locked=peak, transcribed_while_locked=Engine.seconds -
                   out["seconds_at_lock"])
        lock.execute("ROLLBACK")
    threading.Thread(target=hold, daemon=True).start()
with open_queue(db) as q:
    q.add(files)
    q.outage_wait_s = 3600
    config = WorkerConfig(lease=600, exit_when_empty=True, download_threads=2,
                          prepare_threads=2, batch_size=8)
    worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=db + ".work")), config,
                    name="bench")
    engine.gate = gate
    out["exit"] = worker.run()
    out["completed"] = q.stats().completed
    out["pool_bound_s"] = worker.pool.max_seconds
print(json.dumps(out))
'''


def long_files(folder: Path, minutes: float) -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from ytcorpus.core.audio import decode_to_mono16k

    clip = decode_to_mono16k(ROOT / "src" / "ytcorpus" / "demo_data" / "arctic_a0007.wav")
    unit = np.concatenate([clip * 0.9, np.zeros(int(1.5 * SR), np.float32)])
    n = int(minutes * 60 * SR)
    audio = (np.tile(unit, n // unit.size + 1)[:n] * 32767).astype(np.int16)
    paths = []
    for i in range(4):
        path = folder / f"lecture{i}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(audio.tobytes())
        paths.append(str(path))
    return paths


def run(src: str, files: list[str], folder: Path, lock_s: float, label: str) -> dict:
    db = str(folder / f"{label}.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "tests"),
                           json.dumps(files), db, str(lock_s)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{label}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


import numpy as np  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--lock-s", type=float, default=30.0)
    p.add_argument("--against", help="another checkout's src/ to run side by side")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-backpressure-"))
    files = long_files(folder, args.minutes)
    runs = [("this tree", str(ROOT / "src"))]
    if args.against:
        runs.insert(0, ("against", args.against))
    print(f"4 inputs of {args.minutes:.0f} min, database locked {args.lock_s:.0f} s once "
          "all are claimed")
    print(f"{'code':10} {'RSS at lock':>12} {'peak locked':>12} {'growth':>8} "
          f"{'transcribed locked':>19} {'bound':>6} exit completed")
    for label, src in runs:
        r = run(src, files, folder, args.lock_s, label.replace(" ", "_"))
        print(f"{label:10} {r['rss_at_lock']:10.0f}MB {r['rss_peak_locked']:10.0f}MB "
              f"{r['rss_peak_locked'] - r['rss_at_lock']:6.0f}MB "
              f"{r['transcribed_while_locked']:17.0f} s {r['pool_bound_s']:5.0f}s "
              f"{r['exit']:4} {r['completed']:9}")


if __name__ == "__main__":
    main()
