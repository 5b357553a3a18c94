"""Loops across segments: Whisper repeating one segment (or a short cycle of segments)
many times in a row. `cut_repetitions` handles loops inside one segment; this handles
the ones that span segments, and the word loops that only show once segments are joined."""

from __future__ import annotations

import operator
import re

from ..core.models import Segment

MAX_PERIOD = 4      # a loop is a cycle of at most this many segments
MAX_CYCLES = 2      # a cycle seen more often than this in a row is a loop...
KEEP_CYCLES = 1     # ...and is kept once: two kept copies of a short loop alone exceed
                    # Gopher's duplicate 5-gram limit on a short lecture (bench/quality.py)

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def normalize(text: str) -> str:
    """Lower case, punctuation dropped: "Thank you." and "thank you" are one text."""
    return " ".join(_WORD.findall(text.lower()))


def cut_segment_loops(segments: list[Segment], max_period: int = MAX_PERIOD,
                      max_cycles: int = MAX_CYCLES,
                      keep_cycles: int = KEEP_CYCLES) -> tuple[list[Segment], int]:
    """Keep keep_cycles copies of a cycle of 1..max_period segments seen more than
    max_cycles times in a row. Returns the kept segments and how many were dropped."""
    keys = [normalize(s.text) for s in segments]
    keep = [True] * len(segments)
    i = 0
    while i < len(keys):
        best_period, best_reps = 0, 1
        for period in range(1, max_period + 1):
            cycle = keys[i:i + period]
            if len(cycle) < period or not any(cycle):
                break
            reps = 1
            while keys[i + reps * period:i + (reps + 1) * period] == cycle:
                reps += 1
            if reps > max_cycles and reps * period > best_reps * max(best_period, 1):
                best_period, best_reps = period, reps
        if best_period:
            for j in range(i + keep_cycles * best_period, i + best_reps * best_period):
                keep[j] = False
            i += best_reps * best_period
        else:
            i += 1
    kept = [s for s, k in zip(segments, keep) if k]
    return kept, len(segments) - len(kept)


def cut_word_loops_across(segments: list[Segment], max_repeats: int = MAX_CYCLES,
                          max_n: int = 8) -> tuple[list[Segment], int]:
    """Word n-grams repeated more than max_repeats times in a row across segment
    boundaries ("The The" in every segment). Cuts whole segments whose every word lies
    inside such a run; returns the kept segments and how many were dropped."""
    words: list[str] = []
    owner: list[int] = []
    for k, seg in enumerate(segments):
        for w in normalize(seg.text).split():
            words.append(w)
            owner.append(k)
    looped = [False] * len(words)
    for n in range(1, max_n + 1):
        if not has_run(words, n, max_repeats + 1):
            continue
        i = 0
        while i + n <= len(words):
            gram = words[i:i + n]
            reps = 1
            while words[i + reps * n:i + (reps + 1) * n] == gram:
                reps += 1
            if reps > max_repeats:
                for j in range(i + max_repeats * n, i + reps * n):
                    looped[j] = True
                i += reps * n
            else:
                i += 1
    clean_words = {o for o, lp in zip(owner, looped) if not lp}
    drop = set(owner) - clean_words
    kept = [s for k, s in enumerate(segments) if k not in drop]
    return kept, len(drop)


def has_run(words: list[str], n: int, times: int) -> bool:
    """Whether some word n-gram may repeat `times` times in a row (a necessary condition:
    a word equal to the words n, 2n, ... after it), so loop search skips ordinary text
    fast (map with operator functions runs at C speed)."""
    if len(words) < n * times:
        return False
    eq = list(map(operator.eq, words, words[n:]))
    run = eq
    for k in range(1, times - 1):
        run = list(map(operator.and_, run, eq[k * n:]))
    return any(run)
