"""Invented segments: text Whisper wrote over sound that holds no words (babble, crowds,
reverberant halls, humming, distorted audio). Per segment, from the evidence engines give
(ytcorpus.quality.evidence): word probabilities, the agreement of a second decoding,
no-speech probability, stock phrases and text repeated across segments. Invented
segments are cut and counted (`hallucination_cut`); a row whose text was mostly invented,
or whose remaining text is still unsure, is flagged `hallucination` (export --clean drops
it). Segments without evidence (older rows, plugins that give none) are never cut.

Thresholds were calibrated on bench/hallucination.py's labelled set (docs/quality.md)."""

from __future__ import annotations

from typing import Sequence

from ..core.models import Segment
from .hallucination import is_stock_phrase
from .loops import normalize

MIN_MEAN_WORD_PROB = 0.4    # below: invented whatever else is said
DOUBT_MEAN_WORD_PROB = 0.7  # below, with a second decoding that disagrees: invented
MIN_AGREEMENT = 0.5         # ...disagrees: shares fewer of its words than this
MIN_AGREEMENT_ANY = 0.35    # a second decoding that shares fewer: invented at any prob
MAX_COMPRESSION = 2.4       # Whisper's own: a looping segment...
SURE_WORD_PROB = 0.5        # ...is invented unless its least likely word is above this
STOCK_MEAN_WORD_PROB = 0.85  # a stock phrase ("Thank you.") needs this much
NO_SPEECH_PROB = 0.5        # the model itself says no speech, and the words are unsure
NO_SPEECH_WORD_PROB = 0.6
ROW_INVENTED_SHARE = 0.7   # a row whose words were mostly cut keeps only sure text
ROW_MEAN_WORD_PROB = 0.45   # a row whose kept words are this unsure is flagged

THRESHOLDS = {
    "min_mean_word_prob": MIN_MEAN_WORD_PROB, "doubt_mean_word_prob": DOUBT_MEAN_WORD_PROB,
    "min_agreement": MIN_AGREEMENT, "min_agreement_any": MIN_AGREEMENT_ANY,
    "max_compression_ratio": MAX_COMPRESSION, "sure_word_prob": SURE_WORD_PROB,
    "stock_mean_word_prob": STOCK_MEAN_WORD_PROB, "no_speech_prob": NO_SPEECH_PROB,
    "no_speech_word_prob": NO_SPEECH_WORD_PROB, "row_invented_share": ROW_INVENTED_SHARE,
    "row_mean_word_prob": ROW_MEAN_WORD_PROB,
}


def is_invented(seg: Segment, first: Segment | None = None) -> bool:
    """Whether a segment's words were, by the evidence, not heard. `first`: the first
    segment of the row with the same text, when it repeats: a decoder that already wrote
    a text is sure of it the next times, so a repeat is judged by its first copy too."""
    if first is not None and first is not seg and is_invented(first):
        return True
    p = seg.mean_word_prob
    if p is None:
        return False
    a = seg.agreement
    if p < MIN_MEAN_WORD_PROB:
        return True
    if a is not None and (a < MIN_AGREEMENT_ANY or (a < MIN_AGREEMENT
                                                     and p < DOUBT_MEAN_WORD_PROB)):
        return True
    if (seg.compression_ratio or 0.0) > MAX_COMPRESSION and (
            seg.min_word_prob is None or seg.min_word_prob < SURE_WORD_PROB):
        return True
    if is_stock_phrase(seg.text) and p < STOCK_MEAN_WORD_PROB:
        return True
    return (seg.no_speech_prob is not None and seg.no_speech_prob > NO_SPEECH_PROB
            and p < NO_SPEECH_WORD_PROB)


def cut_invented(segments: Sequence[Segment]) -> tuple[list[Segment], int, float]:
    """(kept segments, segments cut, share of the words that were cut)."""
    keys = [normalize(s.text) for s in segments]
    first: dict[str, Segment] = {}
    for seg, key in zip(segments, keys):
        first.setdefault(key, seg)
    kept: list[Segment] = []
    cut_words = total_words = 0
    for seg, key in zip(segments, keys):
        n = len(key.split())
        total_words += n
        if not key or is_invented(seg, first[key]):
            cut_words += n
        else:
            kept.append(seg)
    share = cut_words / total_words if total_words else 0.0
    return kept, len(segments) - len(kept), share


def word_evidence(segments: Sequence[Segment]) -> dict:
    """Row-level evidence of kept segments: word-weighted mean word probability, the
    lowest segment mean, and the mean agreement where a second decoding ran."""
    probs = [(s.mean_word_prob, len(s.text.split())) for s in segments
             if s.mean_word_prob is not None]
    agree = [s.agreement for s in segments if s.agreement is not None]
    out: dict = {}
    words = sum(n for _, n in probs)
    if probs and words:
        out["mean_word_prob"] = round(sum(p * n for p, n in probs) / words, 3)
        out["min_segment_word_prob"] = round(min(p for p, _ in probs), 3)
    if agree:
        out["agreement"] = round(sum(agree) / len(agree), 3)
    return out


def row_invented(quality: dict) -> bool:
    """Whether a row's kept text is, as a whole, unsure (the `hallucination` flag)."""
    p = quality.get("mean_word_prob")
    return p is not None and p < ROW_MEAN_WORD_PROB


def mostly_cut(quality: dict) -> bool:
    """Most of the row's words were cut as invented: what remains must be sure."""
    return quality.get("invented_share", 0.0) >= ROW_INVENTED_SHARE
