"""Per-transcript quality signals, measured once when a row completes and stored with it.

Repetition signals follow Gopher's repetition removal (Rae et al. 2021, "Scaling Language
Models: Methods, Analysis & Insights from Training Gopher", appendix A, Table A1): a
transcript's lines are its segments, its paragraphs are its pause-separated paragraphs."""

from __future__ import annotations

import math

import numpy as np

from ..core.models import Segment
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


class NgramIndex:
    """Word n-grams of one text as 64-bit keys (numpy; collisions are negligible), so the
    Gopher fractions cost milliseconds on an hour-long transcript."""

    def __init__(self, words: list[str]):
        vocab: dict[str, int] = {}
        self.ids = np.array([vocab.setdefault(w, len(vocab)) for w in words], dtype=np.uint64)
        self.chars = np.array([len(w) for w in words], dtype=np.int64)
        self.total = int(self.chars.sum())

    def keys(self, n: int) -> np.ndarray:
        m = len(self.ids) - n + 1
        key = np.zeros(m, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                key = key * np.uint64(0x9E3779B97F4A7C15) + self.ids[k:k + m] + np.uint64(1)
        return key

    def top_share(self, n: int) -> float:
        """Characters covered by the most frequent word n-gram over all characters."""
        if len(self.ids) < n or not self.total:
            return 0.0
        _, first, counts = np.unique(self.keys(n), return_index=True, return_counts=True)
        best = int(np.argmax(counts))
        if counts[best] < 2:
            return 0.0
        start = int(first[best])
        return int(self.chars[start:start + n].sum()) * int(counts[best]) / self.total

    def duplicate_share(self, n: int) -> float:
        """Characters inside word n-grams that occur more than once (each character counted
        once, as in Gopher) over all characters."""
        if len(self.ids) < n or not self.total:
            return 0.0
        _, inverse, counts = np.unique(self.keys(n), return_inverse=True, return_counts=True)
        starts = (counts[inverse] > 1).astype(np.int64)
        covered = np.convolve(starts, np.ones(n, dtype=np.int64))[:len(self.ids)] > 0
        return int(self.chars[covered].sum()) / self.total


def top_ngram_share(words: list[str], n: int) -> float:
    return NgramIndex(words).top_share(n)


def duplicate_ngram_share(words: list[str], n: int) -> float:
    return NgramIndex(words).duplicate_share(n)


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
    grams = NgramIndex(words)
    for n in TOP_NGRAM_N:
        q[f"top_{n}gram_share"] = round(grams.top_share(n), 3)
    for n in DUP_NGRAM_N:
        q[f"dup_{n}gram_share"] = round(grams.duplicate_share(n), 3)
    return q
