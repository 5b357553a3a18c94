"""Which shingles and LSH bands: re-uploads must share a band, unrelated lectures never.

Labelled pairs come from bench/quality.py's corpus (espeak-ng lectures and their
re-encoded, trimmed copies, the same text in another voice or speed, other lectures on
the same topic) transcribed by tiny.en; unrelated texts are ~1,200-word samples of a
word-bigram model of real English prose (bench/prose.py), which share common phrases as
lectures do. For each choice (word n-gram size, bands x rows of a 128-value MinHash):
the estimated Jaccard of every labelled pair and the chance it becomes a candidate
(1 - (1 - J^rows)^bands), then over every pair of the unrelated texts the share that
share a band, measured, and the expected candidates per completion at 30M rows.

    python bench/dedup_bands.py [--texts 1500] [--cache /tmp/dedup-bands.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

from ytcorpus.quality import dedup  # noqa: E402

CHOICES = [(2, 25, 3), (3, 42, 3), (3, 20, 5), (3, 14, 8), (5, 20, 5), (5, 14, 8)]
PAIRS = [("en-us_press_a_140", "copy_a_mp3_trim1.5", "re-upload"),
         ("en-us_press_a_140", "copy_a_webm_trim2", "re-upload"),
         ("en-us_press_a_140", "copy_a_m4a_trim1", "re-upload"),
         ("en-us_press_b_140", "copy_b_webm_trim1.5", "re-upload"),
         ("en-us_press_a_140", "en-us_press_a_170", "same text, faster"),
         ("en-us_press_a_140", "history.mp3", "same text, other voice"),
         ("en-us_cells_140", "en-gb_cells_140", "same text, other voice"),
         ("en-us_press_a_140", "en-us_press_b_140", "other lecture, same topic"),
         ("copy_a_mp3_trim1.5", "copy_b_webm_trim1.5", "other lecture, same topic"),
         ("en-us_press_a_140", "en-us_cells_140", "other topic")]


def labelled(cache: Path) -> dict[str, str]:
    """clip name -> tiny.en transcript (cached: transcribing takes a few minutes)."""
    if cache.is_file():
        return json.loads(cache.read_text())
    from quality import corpus

    from ytcorpus.engines import load_engine

    clips = corpus(Path(tempfile.mkdtemp(prefix="bench-bands-")))
    names = [n for n in clips if any(n in p[:2] for p in PAIRS)]
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    texts = {n: t.text for n, t in zip(names, engine.transcribe([clips[n][0] for n in names]))}
    cache.write_text(json.dumps(texts))
    return texts


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[bytes]:
    return [bytes([b]) + sig[b * rows:(b + 1) * rows].tobytes() for b in range(bands)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--texts", type=int, default=1500)
    p.add_argument("--cache", default="/tmp/dedup-bands.json")
    args = p.parse_args()
    from prose import Bigrams

    clips = labelled(Path(args.cache))
    model = Bigrams.from_disk()
    unrelated = [model.text(1200, seed) for seed in range(args.texts)]
    n_pairs = args.texts * (args.texts - 1) // 2
    print(f"{args.texts} unrelated texts ({n_pairs:,} pairs) from a bigram model of "
          f"{model.tokens:,} words of real prose")
    for n, bands, rows in sorted(set(CHOICES)):
        sig = {k: dedup.signature(t, n) for k, t in clips.items()}
        print(f"\nword {n}-grams, {bands} bands x {rows} rows")
        for a, b, what in PAIRS:
            j = dedup.similarity(sig[a], sig[b])
            share = sum(x == y for x, y in zip(band_keys(sig[a], bands, rows),
                                               band_keys(sig[b], bands, rows)))
            print(f"  J {j:4.2f}  P(candidate) {1 - (1 - j ** rows) ** bands:5.3f}  "
                  f"shared bands {share:2}  {what}")
        sigs = [dedup.signature(t, n) for t in unrelated]
        jac = [dedup.similarity(x, y) for x, y in itertools.islice(
            itertools.combinations(sigs, 2), 20000)]
        buckets: Counter = Counter()
        for s in sigs:
            buckets.update(band_keys(s, bands, rows))
        colliding = sum(c * (c - 1) // 2 for c in buckets.values())  # pair-band hits
        rate = colliding / n_pairs
        print(f"  unrelated: median J {np.median(jac):.3f}, max J {max(jac):.3f}; "
              f"pair-band collisions {colliding:,} of {n_pairs:,} pairs ({rate:.2e}); "
              f"at 30M rows ~{rate * 30e6:,.0f} candidates per completion")
    grid(clips, unrelated[:600])


def grid(clips: dict[str, str], unrelated: list[str], pairs: int = 20000) -> None:
    """Exact shingle Jaccard of unrelated pairs and labelled pairs; for each bands x rows:
    unrelated rows per band bucket and candidates per completion at 30M rows, and
    P(candidate) of each labelled pair (the first seven of PAIRS)."""
    import random

    for n in (2, 3, 5):
        sh = [dedup.shingles(t, n) for t in unrelated]
        rng = random.Random(1)
        picks = [rng.sample(range(len(sh)), 2) for _ in range(pairs)]
        J = np.array([len(sh[a] & sh[b]) / len(sh[a] | sh[b]) for a, b in picks])
        lab = []
        for a, b, _ in PAIRS[:7]:
            x, y = dedup.shingles(clips[a], n), dedup.shingles(clips[b], n)
            lab.append(len(x & y) / len(x | y))
        print(f"\nexact {n}-gram Jaccard: unrelated median {np.median(J):.3f} max "
              f"{J.max():.3f}; labelled " + " ".join(f"{j:.2f}" for j in lab))
        for r in range(3, 9):
            for b in sorted({128 // r, 64 // r}):
                bucket = 30e6 * np.mean(J ** r)
                cands = 30e6 * np.mean(1 - (1 - J ** r) ** b)
                print(f"  {b:2} bands x {r}: per bucket at 30M {bucket:9.1f}, candidates "
                      f"{cands:9.1f}; P(candidate) "
                      + " ".join(f"{1 - (1 - j ** r) ** b:.2f}" for j in lab))


if __name__ == "__main__":
    main()
