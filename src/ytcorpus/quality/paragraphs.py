"""Transcript text with paragraph breaks ("\\n\\n") at long pauses.

Measured with tiny.en on the bundled clips and espeak-ng lectures (bench/quality.py
`pauses`): the gaps Whisper leaves between its segments are a poor pause detector: inside
continuous speech they reached 5.95 and 7.43 s (timestamps drifting where words were
skipped), while a real 1.5 s pause showed up as 1.79 s. The VAD's silences are exact:
none above 0.5 s inside continuous speech, and real pauses of 1.0 / 1.5 / 2.0 / 3.0 s
measured 0.67 / 0.99-1.18 / 1.47-1.66 / 2.5-2.69 s (the VAD pads speech). So: with the
VAD regions, a break at a VAD silence of at least PARAGRAPH_SILENCE_S (a real pause of
about 1.7 s, a breath between paragraphs rather than between sentences); without them,
only at segment gaps of PARAGRAPH_GAP_S, beyond the largest false gap measured."""

from __future__ import annotations

from ..core.models import Segment

PARAGRAPH_SILENCE_S = 1.2
PARAGRAPH_GAP_S = 8.0
PARAGRAPH_BREAK = "\n\n"
SAMPLE_RATE = 16_000


def silences_of(regions: list[dict], sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """The silences between VAD speech regions ({"start","end"} in samples), in seconds."""
    return [(a["end"] / sample_rate, b["start"] / sample_rate)
            for a, b in zip(regions, regions[1:]) if b["start"] > a["end"]]


def break_before(segments: list[Segment], silences: list[tuple[float, float]] | None,
                 silence_s: float = PARAGRAPH_SILENCE_S,
                 gap_s: float = PARAGRAPH_GAP_S) -> set[int]:
    """Indexes of the segments that start a new paragraph."""
    starts: set[int] = set()
    if silences is not None:
        for lo, hi in silences:
            if hi - lo < silence_s:
                continue
            middle = (lo + hi) / 2
            k = next((i for i, s in enumerate(segments) if s.start >= middle - 0.5), None)
            if k:  # not before the first segment
                starts.add(k)
        return starts
    for i in range(1, len(segments)):
        if segments[i].start - max(s.end for s in segments[:i][-3:]) >= gap_s:
            starts.add(i)
    return starts


def join_paragraphs(segments: list[Segment], silences: list[tuple[float, float]] | None = None,
                    silence_s: float = PARAGRAPH_SILENCE_S,
                    gap_s: float = PARAGRAPH_GAP_S) -> str:
    """Segment texts joined by spaces, and by a blank line where a paragraph starts."""
    starts = break_before(segments, silences, silence_s, gap_s)
    parts: list[str] = []
    for i, seg in enumerate(segments):
        if i:
            parts.append(PARAGRAPH_BREAK if i in starts else " ")
        parts.append(seg.text)
    return "".join(parts)
