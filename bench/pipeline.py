"""`ytcorpus work` against the bare faster-whisper script, decode included, on long
lectures (10 min webm/opus) and on short clips; same model, batch size and greedy decoding.

    python bench/pipeline.py [--engine ctranslate2] [--model tiny.en] [--batch-size 8]
                             [--long 2] [--minutes 10] [--short 40] [--rounds 1]

work: real HTTP server -> yt-dlp -> prepare threads (decode, VAD, chunks, mel) -> engine
batches -> SQLite, timed from start to the last row stored. bare: for each local file,
faster_whisper.decode_audio + BatchedInferencePipeline.transcribe(batch_size, beam 1) on
the same WhisperModel. WER is the mean over files against the known text.
Issue 11 targets (long, ct2 tiny.en, batch 8): work >= 0.95 x bare's x realtime, WER <=
bare + 0.03; short: ahead of bare. "engine busy" is the share of work's wall time the
engine loop spent in transcribe_chunks: near 100% means the engine was never starved and
any gap to bare is the host work sharing the CPU with the model.
"""

from __future__ import annotations

import argparse
import json
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

from conftest import wer  # noqa: E402
from lectures import DEMO, make_lecture  # noqa: E402
from ytcorpus.core.config import FetchConfig, WorkerConfig  # noqa: E402
from ytcorpus.cli.demo import serve  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402
from ytcorpus.acquire.ytdlp import Fetcher  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402
from ytcorpus.work.worker import Worker  # noqa: E402


def run_work(engine, urls: list[str], tmp: Path, prepare_threads: int | None) -> tuple:
    db = str(tmp / f"q{time.time_ns()}.db")
    with open_queue(db) as q:
        q.add(urls)
        config = WorkerConfig(device="cpu", batch_size=engine.batch_size, download_threads=2,
                              prepare_threads=prepare_threads, prefetch=8, lease=600,
                              exit_when_empty=True)
        worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp / "work"))), config,
                        name="bench")
        t, c = time.perf_counter(), _cpu()
        worker.run()
        wall, cpu = time.perf_counter() - t, _cpu() - c
        assert q.stats().completed == len(urls), q.stats()
        with q._read_tx() as cur:
            q._exec(cur, "SELECT url, transcript FROM videos")
            texts = {r["url"]: r["transcript"] for r in cur.fetchall()}
    return worker.audio_seconds, wall, [texts[u] for u in urls], worker.loop.busy_s / wall, cpu


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_bare(model, paths: list[Path], batch: int) -> tuple[float, float, list[str]]:
    """The script a user would write: decode each file, BatchedInferencePipeline."""
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.audio import decode_audio

    pipeline = BatchedInferencePipeline(model)
    t, c = time.perf_counter(), _cpu()
    texts, audio_s = [], 0.0
    for path in paths:
        audio = decode_audio(str(path))
        audio_s += audio.size / 16000
        segments, _ = pipeline.transcribe(audio, batch_size=batch, beam_size=1)
        texts.append(" ".join(s.text.strip() for s in segments))
    return audio_s, time.perf_counter() - t, texts, _cpu() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engine", default="ctranslate2")
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--long", type=int, default=2, help="lectures")
    p.add_argument("--minutes", type=float, default=10.0, help="length of each lecture")
    p.add_argument("--short", type=int, default=40, help="short clips (arctic, 3.5 s)")
    p.add_argument("--prepare-threads", type=int, default=None)
    p.add_argument("--rounds", type=int, default=1,
                   help="work and bare this many times each, alternating which runs first "
                        "(the median ratio is printed)")
    p.add_argument("--no-second-decoding", action="store_true",
                   help="work without the second decoding of doubtful chunks")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = load_engine(args.engine, args.model, "cpu", batch_size=args.batch_size)
    engine.second_decoding = not args.no_second_decoding
    folder = Path(tempfile.gettempdir()) / "ytcorpus-bench-lectures"
    folder.mkdir(exist_ok=True)
    refs = json.loads((DEMO / "transcripts.json").read_text())
    lectures = [make_lecture(folder / f"lecture-{args.minutes:g}min-{i}.webm",
                             args.minutes * 60, offset=i) for i in range(args.long)]
    short = DEMO / "arctic_a0007.wav"
    sets = {"long": ([p for p, _ in lectures], [t for _, t in lectures]),
            "short": ([short] * args.short, [refs[short.name]] * args.short)}
    httpd = serve(folder)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    (folder / short.name).write_bytes(short.read_bytes())
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    print(f"{args.engine} {args.model} on CPU, batch {args.batch_size}, greedy; "
          f"{args.long} x {args.minutes:g} min lectures, {args.short} short clips")
    print(f"{'set':<6} {'files':>5} {'audio s':>8} {'work xRT':>9} {'bare xRT':>9} "
          f"{'ratio':>6} {'work WER':>9} {'bare WER':>9} {'engine busy':>12} {'work CPU':>8} "
          f"{'bare CPU':>8}")
    try:
        run_bare(engine.model, [short], args.batch_size)  # warm-up
        for name, (paths, texts) in sets.items():
            if not paths:
                continue
            ratios = []
            for r in range(args.rounds):  # alternating which goes first: the machine drifts
                urls = [f"{base}/{p.name}?copy={i}&r={r}" for i, p in enumerate(paths)]
                if r % 2:
                    bare = run_bare(engine.model, paths, args.batch_size)
                audio_s, wall, got, busy, work_cpu = run_work(engine, urls, tmp,
                                                              args.prepare_threads)
                if not r % 2:
                    bare = run_bare(engine.model, paths, args.batch_size)
                bare_s, bare_wall, bare_got, bare_cpu = bare
                w_wer = sum(wer(r, h) for r, h in zip(texts, got)) / len(texts)
                b_wer = sum(wer(r, h) for r, h in zip(texts, bare_got)) / len(texts)
                work_rate, bare_rate = audio_s / wall, bare_s / bare_wall
                ratios.append(work_rate / bare_rate)
                print(f"{name:<6} {len(paths):>5} {audio_s:>8.0f} {work_rate:>9.1f} "
                      f"{bare_rate:>9.1f} {work_rate / bare_rate:>6.2f} {w_wer:>9.3f} "
                      f"{b_wer:>9.3f} {busy:>12.0%} {work_cpu:>8.1f} {bare_cpu:>8.1f}", flush=True)
            if len(ratios) > 1:
                ratios.sort()
                print(f"{name}: median ratio {ratios[len(ratios) // 2]:.2f} over "
                      f"{len(ratios)} rounds (min {ratios[0]:.2f}, max {ratios[-1]:.2f})")
            counts = getattr(engine, "counts", None)
            if counts:  # what the evidence of issue 22 asked of the engine
                print(f"       engine: {counts}")
                for key in counts:
                    counts[key] = 0
    finally:
        httpd.shutdown()


if __name__ == "__main__":
    main()
