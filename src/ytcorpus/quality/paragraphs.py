"""Transcript text with paragraph breaks at long pauses between segments.

PARAGRAPH_PAUSE_S was chosen from the pauses between consecutive segments measured on
the bundled speech and espeak-ng lectures (bench/quality.py, `pauses`): within one
speaker's flow of sentences the gaps the model leaves stay well under it."""

from __future__ import annotations

from ..models import Segment

PARAGRAPH_PAUSE_S = 2.0
PARAGRAPH_BREAK = "\n\n"


def join_paragraphs(segments: list[Segment], pause_s: float = PARAGRAPH_PAUSE_S) -> str:
    """Segment texts joined by spaces, and by a blank line where the silence before a
    segment is at least pause_s."""
    parts: list[str] = []
    prev_end: float | None = None
    for seg in segments:
        if parts:
            gap = seg.start - (prev_end if prev_end is not None else seg.start)
            parts.append(PARAGRAPH_BREAK if gap >= pause_s else " ")
        parts.append(seg.text)
        prev_end = seg.end if prev_end is None else max(prev_end, seg.end)
    return "".join(parts)
