"""Per-transcript quality signals, measured once when a row completes and stored with it.

Repetition signals follow Gopher's repetition removal (Rae et al. 2021, "Scaling Language
Models: Methods, Analysis & Insights from Training Gopher", appendix A, Table A1): a
transcript's lines are its segments, its paragraphs are its pause-separated paragraphs."""

from __future__ import annotations

import math
from collections import Counter

from ..models import Segment
from .cleaning import compression_ratio
from .hallucination import stock_phrase_share
from .language import english_word_share
from .loops import normalize

TOP_NGRAM_N = (2, 3, 4)
DUP_NGRAM_N = tuple(range(5, 11))


def duplicate_fractions(items: list[str]) -> tuple[float, float]:
    """Gopher's duplicate line (or paragraph) fractions: (share of items that repeat an
    earlier one, share of characters in those items)."""
    seen: set[str] = set()
    dup_items = dup_chars = total_chars = 0
    for item in items:
        total_chars += len(item)
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        seen.add(item)
    return (dup_items / len(items) if items else 0.0,
            dup_chars / total_chars if total_chars else 0.0)


def top_ngram_share(words: list[str], n: int) -> float:
    """Characters covered by the most frequent word n-gram over all characters."""
    total = sum(len(w) for w in words)
    if len(words) < n or not total:
        return 0.0
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    gram, count = grams.most_common(1)[0]
    return sum(len(w) for w in gram) * count / total if count > 1 else 0.0


def duplicate_ngram_share(words: list[str], n: int) -> float:
    """Characters inside word n-grams that occur more than once (each character counted
    once, as in Gopher) over all characters."""
    total = sum(len(w) for w in words)
    if len(words) < n or not total:
        return 0.0
    counts = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        if counts[tuple(words[i:i + n])] > 1:
            for j in range(i, i + n):
                covered[j] = True
    return sum(len(w) for w, c in zip(words, covered) if c) / total


def measure(segments: list[Segment], duration: float, speech_s: float | None,
            paragraphs: list[str] | None = None, loops_cut: int = 0) -> dict:
    """The stored `quality` dict of one transcript (plain JSON types, rounded)."""
    text = " ".join(s.text for s in segments)
    words = normalize(text).split()
    speech = speech_s if speech_s is not None else sum(s.end - s.start for s in segments)
    lines = [normalize(s.text) for s in segments]
    paras = [normalize(p) for p in (paragraphs or [])]
    logprobs = [(s.avg_logprob, max(s.end - s.start, 0.01)) for s in segments
                if s.avg_logprob is not None and math.isfinite(s.avg_logprob)]
    dup_line, dup_line_chars = duplicate_fractions(lines)
    dup_para, dup_para_chars = duplicate_fractions(paras)
    q = {
        "words": len(words),
        "speech_s": round(speech, 2),
        "speech_share": round(speech / duration, 3) if duration else 0.0,
        "wpm": round(len(words) / (speech / 60), 1) if speech > 0 else 0.0,
        "distinct_wpm": round(len(set(words)) / (speech / 60), 1) if speech > 0 else 0.0,
        "avg_logprob": (round(sum(lp * w for lp, w in logprobs) / sum(w for _, w in logprobs), 3)
                        if logprobs else None),
        "compression_ratio": round(compression_ratio(text), 3) if text else 0.0,
        "dup_line_frac": round(dup_line, 3),
        "dup_line_char_frac": round(dup_line_chars, 3),
        "dup_para_frac": round(dup_para, 3),
        "dup_para_char_frac": round(dup_para_chars, 3),
        "stock_phrase_share": round(stock_phrase_share(segments), 3),
        "loops_cut": loops_cut,
        "english_word_share": round(english_word_share(words), 3),
    }
    for n in TOP_NGRAM_N:
        q[f"top_{n}gram_share"] = round(top_ngram_share(words, n), 3)
    for n in DUP_NGRAM_N:
        q[f"dup_{n}gram_share"] = round(duplicate_ngram_share(words, n), 3)
    return q
