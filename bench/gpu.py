"""GPU benchmark: distil-large-v3 (or --model) on the transformers engine at batch sizes
8..128, x-realtime and peak GPU memory, plus the ctranslate2 engine for comparison.
Needs a CUDA GPU and the model (hub download on first use, or a local directory).

    python bench/gpu.py [--model distil-whisper/distil-large-v3] [--batches 8,16,32,64,128]
                        [--minutes 60] [--dtype float16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from ytcorpus.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402

DEMO = ROOT / "src" / "ytcorpus" / "demo_data"


def inputs(minutes: float, count: int) -> list[np.ndarray]:
    """`count` long-form inputs made of the bundled speech, `minutes` in total."""
    speech = np.concatenate([decode_to_mono16k(p) for p in sorted(DEMO.glob("*.*"))
                             if p.suffix in (".webm", ".m4a", ".mp3", ".wav")])
    each = int(minutes * 60 * 16000 / count)
    return [np.roll(np.resize(speech, each), -i * 16000) for i in range(count)]


def measure(engine, audios) -> tuple[float, float]:
    import torch

    engine.transcribe(audios[:1])  # warm-up: kernels, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    engine.transcribe(audios)
    torch.cuda.synchronize()
    wall = time.perf_counter() - t
    audio_s = sum(a.size for a in audios) / 16000
    return audio_s / wall, torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="distil-whisper/distil-large-v3")
    p.add_argument("--ct2-model", default="distil-large-v3")
    p.add_argument("--batches", default="8,16,32,64,128")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--dtype", default="float16")
    p.add_argument("--modes", default="sequential,chunked")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    print(f"GPU: {torch.cuda.get_device_name(0)}; {args.minutes:.0f} min of speech per run")
    print(f"{'engine':<28} {'batch':>5} {'x realtime':>11} {'peak GiB':>9}")
    for mode in args.modes.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            engine = load_engine("transformers", args.model, "cuda", batch_size=batch,
                                 mode=mode, dtype=args.dtype)
            xrt, mem = measure(engine, inputs(args.minutes, max(batch, 8)))
            print(f"{'transformers ' + mode:<28} {batch:>5} {xrt:>11.0f} {mem:>9.1f}")
            del engine
            torch.cuda.empty_cache()
    for batch in (int(b) for b in args.batches.split(",")):
        engine = load_engine("ctranslate2", args.ct2_model, "cuda", batch_size=batch)
        t = time.perf_counter()
        audios = inputs(args.minutes, max(batch, 8))
        engine.transcribe(audios)
        xrt = sum(a.size for a in audios) / 16000 / (time.perf_counter() - t)
        print(f"{'ctranslate2 float16':<28} {batch:>5} {xrt:>11.0f} {'-':>9}")


if __name__ == "__main__":
    main()
