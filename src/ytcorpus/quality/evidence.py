"""Evidence that words were spoken, per segment, from what engines give: word
probabilities (the probability of each word's tokens as decoded) and the agreement
of a second, different decoding of a doubtful chunk (invented text changes between
decodings, heard words do not). Engines call `doubtful` and `agree`;
quality.invented turns the evidence into cuts."""

from __future__ import annotations

from dataclasses import replace
from difflib import SequenceMatcher
from typing import Sequence

from ..core.models import Segment
from .loops import normalize

# a chunk is decoded a second time when one of its segments is this unsure: on tiny.en
# lectures 0-1 of 36 chunks (0.8, or a word under 0.2, as first chosen: 29 of 36, and work
# ran at 0.65 of the bare script's x realtime); see docs/quality.md
DOUBT_MEAN_WORD_PROB = 0.6


def doubtful(segments: Sequence[Segment]) -> bool:
    """Whether a chunk's first decoding is unsure enough to decode it again."""
    for s in segments:
        if s.mean_word_prob is None:
            return True  # no word probabilities: the second decoding decides
        if s.mean_word_prob < DOUBT_MEAN_WORD_PROB:
            return True
    return False


def agree(segments: Sequence[Segment], other: str) -> list[Segment]:
    """The segments of one chunk, each with the share of its words that the other
    decoding of the same chunk also wrote, in the same order (difflib's matching blocks
    over normalized words)."""
    mine: list[str] = []
    owner: list[int] = []
    for k, seg in enumerate(segments):
        for w in normalize(seg.text).split():
            mine.append(w)
            owner.append(k)
    matched = [0] * len(segments)
    blocks = SequenceMatcher(None, mine, normalize(other).split(),
                             autojunk=False).get_matching_blocks()
    for block in blocks:
        for j in range(block.a, block.a + block.size):
            matched[owner[j]] += 1
    totals = [0] * len(segments)
    for k in owner:
        totals[k] += 1
    return [replace(s, agreement=round(matched[k] / totals[k], 3) if totals[k] else None)
            for k, s in enumerate(segments)]
