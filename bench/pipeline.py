"""Pipeline efficiency: audio-seconds per wall-second of the real worker (HTTP server ->
yt-dlp -> decode -> engine batches -> SQLite) divided by the bare engine's on the same
clips already decoded in memory, same model and batch size, in one run.

    python bench/pipeline.py [--engine ctranslate2] [--batch-size 8] [--long 8] [--short 40]

Two sets: "long" (copies of the 57 s and 37 s bundled clips) and "short" (copies of a
4 s clip). For the short set it also runs a one-video-at-a-time engine loop, which
cross-video batching should beat.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from ytcorpus.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.config import FetchConfig, WorkerConfig  # noqa: E402
from ytcorpus.demo import serve  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402
from ytcorpus.fetch import Fetcher  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402
from ytcorpus.worker import CHUNK_S, Worker  # noqa: E402

DEMO = ROOT / "src" / "ytcorpus" / "demo_data"


def run_worker(engine, urls: list[str], tmp: Path, threads: int) -> tuple[float, float]:
    db = str(tmp / f"q{time.time_ns()}.db")
    with open_queue(db) as q:
        q.add(urls)
        config = WorkerConfig(device="cpu", batch_size=engine.batch_size, download_threads=threads,
                              prefetch=8, lease=600, exit_when_empty=True)
        worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp / "work"))), config,
                        name="bench")
        t = time.perf_counter()
        worker.run()
        wall = time.perf_counter() - t
        assert q.stats().completed == len(urls), q.stats()
    return worker.audio_seconds, wall


def run_bare(engine, audios) -> float:
    """The engine alone, fed the way the worker groups videos into one call."""
    t = time.perf_counter()
    group, seconds = [], 0.0
    for a in audios:
        group.append(a)
        seconds += a.size / 16000
        if seconds >= engine.batch_size * CHUNK_S:
            engine.transcribe(group)
            group, seconds = [], 0.0
    if group:
        engine.transcribe(group)
    return time.perf_counter() - t


def run_one_by_one(engine, audios) -> float:
    t = time.perf_counter()
    for a in audios:
        engine.transcribe([a])
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engine", default="ctranslate2")
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="download threads")
    p.add_argument("--long", type=int, default=8)
    p.add_argument("--short", type=int, default=40)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = load_engine(args.engine, args.model, "cpu", batch_size=args.batch_size)
    httpd = serve(DEMO)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    sets = {
        "long": [("history.mp3", "derivatives.m4a")[i % 2] for i in range(args.long)],
        "short": ["arctic_a0007.wav"] * args.short,
    }
    print(f"engine {args.engine} {args.model} on CPU, batch {args.batch_size}, "
          f"{args.threads} download threads")
    print(f"{'set':<6} {'videos':>6} {'audio s':>8} {'worker xRT':>11} {'bare xRT':>9} "
          f"{'efficiency':>10} {'1-by-1 xRT':>11}")
    try:
        for name, files in ((n, f) for n, f in sets.items() if f):
            urls = [f"{base}/{f}?copy={i}" for i, f in enumerate(files)]
            audios = [decode_to_mono16k(DEMO / f) for f in files]
            engine.transcribe(audios[:1])  # warm up
            audio_s, wall = run_worker(engine, urls, tmp, args.threads)
            bare = run_bare(engine, audios)
            single = run_one_by_one(engine, audios) if name == "short" else None
            worker_rate, bare_rate = audio_s / wall, audio_s / bare
            single_txt = f"{audio_s / single:>11.1f}" if single else f"{'-':>11}"
            print(f"{name:<6} {len(files):>6} {audio_s:>8.0f} {worker_rate:>11.1f} "
                  f"{bare_rate:>9.1f} {worker_rate / bare_rate:>10.2f} {single_txt}")
    finally:
        httpd.shutdown()


if __name__ == "__main__":
    main()
