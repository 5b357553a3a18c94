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


# a decoding without timestamps may skip a stretch of its chunk (beam search on a
# conversation dropped its first 12 s): when the other decoding is, in order, mostly
# words of this one (SPAN_SHARE of them, at least SPAN_WORDS), the segments wholly outside
# the stretch it matched were not decoded by it, and get no agreement (not 0)
SPAN_SHARE = 0.8
SPAN_WORDS = 5


def agree(segments: Sequence[Segment], other: str) -> list[Segment]:
    """The segments of one chunk, each with the share of its words that the other
    decoding of the same chunk also wrote, in the same order (difflib's matching blocks
    over normalized words); None for segments the other decoding skipped (above)."""
    mine: list[str] = []
    owner: list[int] = []
    for k, seg in enumerate(segments):
        for w in normalize(seg.text).split():
            mine.append(w)
            owner.append(k)
    theirs = normalize(other).split()
    matched = [0] * len(segments)
    blocks = [b for b in SequenceMatcher(None, mine, theirs, autojunk=False)
              .get_matching_blocks() if b.size]
    for block in blocks:
        for j in range(block.a, block.a + block.size):
            matched[owner[j]] += 1
    totals = [0] * len(segments)
    for k in owner:
        totals[k] += 1
    skipped: set[int] = set()
    covered = sum(b.size for b in blocks)
    if covered >= SPAN_WORDS and covered >= SPAN_SHARE * len(theirs):
        lo, hi = blocks[0].a, blocks[-1].a + blocks[-1].size
        first: dict[int, int] = {}
        for j, k in enumerate(owner):  # a segment's words are contiguous in `mine`
            first.setdefault(k, j)
        skipped = {k for k, j in first.items() if j + totals[k] <= lo or j >= hi}
    return [replace(s, agreement=None if k in skipped else
                    round(matched[k] / totals[k], 3) if totals[k] else None)
            for k, s in enumerate(segments)]


def skips(segments: Sequence[Segment], other: str) -> bool:
    """Whether the other decoding wrote much less than these segments (SPAN_SHARE of
    their words): it skipped a stretch, and must not replace them."""
    words = sum(len(normalize(s.text).split()) for s in segments)
    return len(normalize(other).split()) < SPAN_SHARE * words
