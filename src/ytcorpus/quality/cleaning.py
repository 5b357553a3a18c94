"""Segment cleaning shared by every engine: no-speech segments, markers, loops in a segment.

Whisper writes words into silence and music ("you", "Thanks for watching!") and can
loop on one phrase. The model only sees speech (ytcorpus.vad); segments flagged as
no-speech are dropped, non-speech markers are removed, and repetition loops are cut.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable

from ..core.models import Segment
from .loops import has_run

SAMPLE_RATE = 16_000
NO_SPEECH_PROB = 0.6        # Whisper's own thresholds
LOGPROB_FLOOR = -1.0
COMPRESSION_RATIO = 2.4
MIN_SPEECH_SECONDS = 0.3    # less than this in a whole file: no speech
MAX_REPEATS = 2             # keep an n-gram at most this many times in a row

_NON_SPEECH = re.compile(r"\[[^\]]*\]|\([^)]*(?:music|applause|laughter|silence|"
                         r"inaudible|noise)[^)]*\)|[♪♫♬]+", re.IGNORECASE)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def cut_repetitions(text: str, max_n: int = 8, max_repeats: int = MAX_REPEATS) -> str:
    """Collapse an n-gram repeated more than max_repeats times in a row."""
    words = text.split()
    if len(words) < 2 * max_repeats:
        return text
    changed = True
    while changed:
        changed = False
        for n in range(1, max_n + 1):
            if not has_run(words, n, max_repeats + 1):
                continue
            i = 0
            out: list[str] = []
            while i < len(words):
                gram = words[i:i + n]
                reps = 1
                while words[i + reps * n:i + (reps + 1) * n] == gram:
                    reps += 1
                if reps > max_repeats and len(gram) == n:
                    out.extend(gram * max_repeats)
                    i += reps * n
                    changed = True
                else:
                    out.append(words[i])
                    i += 1
            words = out
    return " ".join(words)


def is_no_speech(segment: Segment) -> bool:
    return (segment.no_speech_prob is not None and segment.avg_logprob is not None
            and segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOGPROB_FLOOR)


def clean_segments(segments: Iterable[Segment], duration: float) -> tuple[list[Segment], list[str]]:
    """Drop no-speech segments and non-speech markers, cut loops; clamp times."""
    kept: list[Segment] = []
    flags: set[str] = set()
    for seg in segments:
        if is_no_speech(seg):
            flags.add("dropped_no_speech")
            continue
        text = _NON_SPEECH.sub(" ", seg.text)
        text = re.sub(r"\s+", " ", text).strip()
        cut = cut_repetitions(text)
        if cut != text:
            flags.add("repetition_cut")
        if not cut:
            continue
        if compression_ratio(cut) > COMPRESSION_RATIO:
            flags.add("high_compression")
        start = min(max(0.0, seg.start), duration)
        end = min(max(start, seg.end), duration)
        kept.append(Segment(start, end, cut, seg.avg_logprob, seg.compression_ratio,
                            seg.no_speech_prob))
    return kept, sorted(flags)
