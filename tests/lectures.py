"""Long "lectures" for benchmarks: the bundled real-speech clips one after another with a
second of silence between, encoded once as webm/opus (48 kHz, as YouTube serves it),
with the reference text beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from media import write_audio
from ytcorpus.core.audio import decode_to_mono16k

DEMO = Path(__file__).resolve().parents[1] / "src" / "ytcorpus" / "demo_data"
NAMES = ("photosynthesis.webm", "derivatives.m4a", "history.mp3")


def make_lecture(path: Path, seconds: float, offset: int = 0) -> tuple[Path, str]:
    """A file of at least `seconds` at `path` (reused when it exists) and its text."""
    refs = json.loads((DEMO / "transcripts.json").read_text())
    clips = [decode_to_mono16k(DEMO / n) for n in NAMES]
    gap = np.zeros(16000, np.float32)
    parts, texts, total, i = [], [], 0, offset
    while total < seconds * 16000:
        clip = clips[i % len(clips)]
        parts += [clip, gap]
        texts.append(refs[NAMES[i % len(clips)]])
        total += clip.size + gap.size
        i += 1
    if not path.exists():
        write_audio(path, np.concatenate(parts))
    return path, " ".join(texts)
