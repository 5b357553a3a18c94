"""Decode benchmark: x-realtime per core for each container, ytcorpus.core.audio side by side
with faster_whisper.decode_audio on the same file in the same run.

    python bench/decode.py [--seconds 59] [--repeat 3]

Runs with one thread (taskset-free: the decoders are single-threaded per file here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from media import FORMATS, write_audio  # noqa: E402
from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=59.0)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    from faster_whisper import decode_audio

    speech = decode_to_mono16k(ROOT / "src/ytcorpus/demo_data/history.mp3")
    reps = int(np.ceil(args.seconds * 16000 / speech.size))
    samples = np.tile(speech, reps)[: int(args.seconds * 16000)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-decode-"))
    print(f"{args.seconds:.0f} s of speech, best of {args.repeat}, x realtime (higher is better)")
    print(f"{'container':<10} {'ytcorpus':>10} {'faster-whisper':>15} {'ratio':>7}  max |diff|")
    for ext in FORMATS:
        path = write_audio(tmp / f"clip.{ext}", samples)
        ours = best_of(lambda p=path: decode_to_mono16k(p), args.repeat)
        theirs = best_of(lambda p=path: decode_audio(str(p)), args.repeat)
        a, b = decode_to_mono16k(path), decode_audio(str(path))
        n = min(a.size, b.size)
        diff = float(np.max(np.abs(a[:n] - b[:n])))
        print(f"{ext:<10} {args.seconds / ours:>10.0f} {args.seconds / theirs:>15.0f} "
              f"{theirs / ours:>7.2f}  {diff:.1e}")


if __name__ == "__main__":
    main()
