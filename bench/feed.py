"""Feeding the engine: `ytcorpus work`'s host side alone (a plugin model that costs
nothing, tests/free_engine.py) over long webm/opus lectures served over 127.0.0.1 HTTP
and downloaded by yt-dlp, at 1, 2, ... prepare threads; next to the reference rate of
faster-whisper's `decode_audio` + Silero VAD on one thread on the same file.

    python bench/feed.py [--minutes 10] [--videos 4] [--threads 1,2]

Prints x realtime per thread count, scaling against one thread, the ratio to 2 x the
single-thread decode+VAD rate (issue 11: >= 1.5x and >= 0.6), and the cores the process
actually got (CPU seconds per wall second): on a shared machine the scaling can be no
better than the cores available, and x realtime per core shows whether threads (GIL) or
the machine limit it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from lectures import make_lecture  # noqa: E402
from ytcorpus.core.config import FetchConfig, WorkerConfig  # noqa: E402
from ytcorpus.cli.demo import serve  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402
from ytcorpus.acquire.ytdlp import Fetcher  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402
from ytcorpus.work.worker import Worker  # noqa: E402


def reference_rate(path: Path) -> float:
    """x realtime of faster-whisper decode_audio + Silero VAD, one thread."""
    from faster_whisper.audio import decode_audio
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    t = time.perf_counter()
    audio = decode_audio(str(path))
    get_speech_timestamps(audio, VadOptions(max_speech_duration_s=30,
                                            min_silence_duration_ms=160))
    return audio.size / 16000 / (time.perf_counter() - t)


def work_rate(urls: list[str], tmp: Path, prepare_threads: int, batch: int) -> tuple:
    """(x realtime, cores used: process CPU seconds per wall second)."""
    engine = load_engine("free_engine:FreeEngine", None, "cpu", batch_size=batch)
    db = str(tmp / f"q{time.time_ns()}.db")
    with open_queue(db) as q:
        q.add(urls)
        config = WorkerConfig(device="cpu", batch_size=batch, download_threads=2,
                              prepare_threads=prepare_threads, prefetch=8, lease=600,
                              exit_when_empty=True)
        worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp / "work"))), config,
                        name="feed")
        t, cpu = time.perf_counter(), time.process_time()
        worker.run()
        wall = time.perf_counter() - t
        cores = (time.process_time() - cpu) / wall
        assert q.stats().completed == len(urls), q.stats()
    return worker.audio_seconds / wall, cores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="length of each lecture")
    p.add_argument("--videos", type=int, default=4)
    p.add_argument("--threads", default="1,2", help="prepare thread counts to run")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeat", type=int, default=2, help="runs per setting (best kept)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.gettempdir()) / "ytcorpus-bench-lectures"
    folder.mkdir(exist_ok=True)
    path, _ = make_lecture(folder / f"lecture-{args.minutes:g}min.webm", args.minutes * 60)
    httpd = serve(folder)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    urls = [f"{base}/{path.name}?copy={i}" for i in range(args.videos)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-feed-"))
    print(f"{args.videos} x {args.minutes:g} min webm/opus over HTTP, free plugin engine, "
          f"batch {args.batch_size}, 2 download threads; best of {args.repeat}")
    try:
        ref = max(reference_rate(path) for _ in range(args.repeat))
        rates = {}
        for n in (int(x) for x in args.threads.split(",")):
            rates[n] = max(work_rate(urls, tmp, n, args.batch_size) for _ in range(args.repeat))
    finally:
        httpd.shutdown()
    one = rates.get(1)
    print(f"reference: faster-whisper decode_audio + Silero VAD, 1 thread: {ref:.0f}x "
          f"realtime (2 x = {2 * ref:.0f}x)")
    print(f"{'prepare threads':>15} {'x realtime':>11} {'vs 1 thread':>12} {'vs 2 x ref':>11} "
          f"{'cores used':>11} {'xRT per core':>13}")
    for n, (rate, cores) in rates.items():
        scale = f"{rate / one[0]:.2f}" if one else "-"
        print(f"{n:>15} {rate:>11.0f} {scale:>12} {rate / (2 * ref):>11.2f} {cores:>11.2f} "
              f"{rate / cores:>13.0f}")
    print(f"machine load average while running: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
