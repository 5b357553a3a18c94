"""Engine benchmark on CPU with the packaged tiny.en: x-realtime and WER of each engine
and long-form mode, side by side in one run, on the bundled clips (concatenated into
long-form inputs too).

    python bench/engines.py [--batch-size 8] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py would shadow the stdlib `queue`: keep bench/ off sys.path
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from conftest import wer  # noqa: E402
from ytcorpus.work.pipeline import transcribe_arrays  # noqa: E402
from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.engines import load_engine  # noqa: E402

DEMO = ROOT / "src" / "ytcorpus" / "demo_data"
CONFIGS = [("ctranslate2", {}), ("transformers", {})]


def clips() -> list[tuple[np.ndarray, str]]:
    refs = json.loads((DEMO / "transcripts.json").read_text())
    items = [(decode_to_mono16k(DEMO / n), t) for n, t in refs.items()]
    gap = np.zeros(8000, np.float32)  # a long-form input: every clip, twice, 0.5 s apart
    long_audio = np.concatenate([x for a, _ in items * 2 for x in (a, gap)])
    long_text = " ".join(t for _, t in items * 2)
    return items + [(long_audio, long_text)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    data = clips()
    audio_s = sum(a.size for a, _ in data) / 16000
    longest = max(a.size for a, _ in data) / 16000
    print(f"{len(data)} inputs, {audio_s:.0f} s of audio (longest {longest:.0f} s), "
          f"tiny.en on CPU, batch {args.batch_size}, best of {args.repeat}")
    print(f"{'engine':<26} {'x realtime':>10} {'WER':>6}")
    for name, options in CONFIGS:
        engine = load_engine(name, "tiny.en", "cpu", batch_size=args.batch_size, **options)
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = transcribe_arrays(engine, [a for a, _ in data])
            best = min(best, time.perf_counter() - t)
        errors = sum(wer(ref, o.text) * len(ref.split()) for (_, ref), o in zip(data, out))
        words = sum(len(ref.split()) for _, ref in data)
        label = name + (f" ({options['mode']})" if options else "")
        print(f"{label:<26} {audio_s / best:>10.1f} {errors / words:>6.3f}")


if __name__ == "__main__":
    main()
