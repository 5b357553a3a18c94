"""GPU benchmark of the engine contract: `transcribe_chunks` over VAD-cut speech chunks
(at most 30 s, as the worker's pool hands them out) at every batch size, for each engine,
after a warm-up batch: x realtime, peak GPU memory, mean GPU utilisation (nvidia-ml-py,
sampled every 50 ms while the engine runs). The ctranslate2 engine's mel runs in
`prepare`, outside the timing, as it does in the worker's prepare threads.
Needs a CUDA GPU and the models (hub download on first use, or local directories).

    python bench/gpu.py [--model distil-whisper/distil-large-v3] [--ct2-model distil-large-v3]
                        [--batches 8,16,32,64,128] [--minutes 60] [--dtype float16]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402
from ytcorpus.work.vad import stream_speech  # noqa: E402
from ytcorpus.work.chunks import cut_chunks  # noqa: E402

DEMO = ROOT / "src" / "ytcorpus" / "demo_data"


def chunks(minutes: float) -> list[np.ndarray]:
    """`minutes` of bundled speech, cut by the worker's VAD into chunks of <= 30 s."""
    speech = np.concatenate([decode_to_mono16k(p) for p in sorted(DEMO.glob("*.*"))
                             if p.suffix in (".webm", ".m4a", ".mp3", ".wav")])
    audio = np.resize(np.concatenate([speech, np.zeros(16000, np.float32)]),
                      int(minutes * 60 * 16000))
    return [c for c, _ in cut_chunks(stream_speech([audio]))]


class Utilisation:
    """Mean GPU utilisation (%) over a block, from NVML in a sampling thread."""

    def __init__(self):
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._nvml = pynvml
        except Exception:  # noqa: BLE001 - nvidia-ml-py missing: report "-"
            self._nvml = None
        self.samples: list[int] = []

    def __enter__(self):
        self.samples, self._stop = [], threading.Event()
        if self._nvml:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self.samples.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)

    def __exit__(self, *exc):
        self._stop.set()
        if self._nvml:
            self._thread.join()

    @property
    def mean(self) -> str:
        return f"{sum(self.samples) / len(self.samples):.0f}" if self.samples else "-"


def measure(engine, items: list, seconds: float, util: Utilisation) -> tuple[float, float]:
    import torch

    size = engine.batch_size
    engine.transcribe_chunks(items[:size])  # warm-up: kernels, allocator, autotuning
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    with util:
        t = time.perf_counter()
        for k in range(0, len(items), size):
            engine.transcribe_chunks(items[k:k + size])
        torch.cuda.synchronize()
        wall = time.perf_counter() - t
    return seconds / wall, torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="distil-whisper/distil-large-v3")
    p.add_argument("--ct2-model", default="distil-large-v3")
    p.add_argument("--batches", default="8,16,32,64,128")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--dtype", default="float16")
    p.add_argument("--engines", default="transformers,ctranslate2")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    audio = chunks(args.minutes)
    seconds = sum(c.size for c in audio) / 16000
    util = Utilisation()
    print(f"GPU: {torch.cuda.get_device_name(0)}; {len(audio)} chunks, {seconds / 60:.0f} min "
          "of speech per run")
    print(f"{'engine':<24} {'batch':>5} {'x realtime':>11} {'peak GiB':>9} {'GPU %':>6}")
    for name in args.engines.split(","):
        model = args.model if name == "transformers" else args.ct2_model
        options = {"dtype": args.dtype} if name == "transformers" else {}
        for batch in (int(b) for b in args.batches.split(",")):
            engine = load_engine(name, model, "cuda", batch_size=batch, **options)
            prepare = getattr(engine, "prepare", None)
            items = [prepare(c) for c in audio] if prepare else audio  # the prepare stage
            xrt, mem = measure(engine, items, seconds, util)
            print(f"{name:<24} {batch:>5} {xrt:>11.0f} {mem:>9.1f} {util.mean:>6}")
            del engine, items
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
