"""Thresholds that turn quality signals into flags, and the flags `export --clean` drops.

Repetition thresholds: Gopher's repetition removal (Rae et al. 2021, "Scaling Language
Models: Methods, Analysis & Insights from Training Gopher", Table A1), applied, as there,
to documents of at least 50 words. The speech thresholds were measured on espeak-ng
speech through the packaged tiny.en model (bench/quality.py)."""

from __future__ import annotations

# Gopher Table A1: signal -> maximum
GOPHER = {
    "dup_line_frac": 0.30, "dup_para_frac": 0.30,
    "dup_line_char_frac": 0.20, "dup_para_char_frac": 0.20,
    "top_2gram_share": 0.20, "top_3gram_share": 0.18, "top_4gram_share": 0.16,
    "dup_5gram_share": 0.15, "dup_6gram_share": 0.14, "dup_7gram_share": 0.13,
    "dup_8gram_share": 0.12, "dup_9gram_share": 0.11, "dup_10gram_share": 0.10,
}
GOPHER_MIN_WORDS = 50
MIN_WPM = 60.0            # words per minute of speech; English speech measured 104-175
MIN_SPEECH_FOR_WPM = 10.0  # seconds of speech before words-per-minute means anything
MIN_AVG_LOGPROB = -1.0    # Whisper's own log_prob_threshold, over the whole transcript
MAX_STOCK_SHARE = 0.5     # half the words are "Thanks for watching"-style phrases
MIN_SPEECH_SHARE = 0.2    # informational: mostly music or silence

THRESHOLDS = {
    "gopher_repetition": dict(GOPHER, min_words=GOPHER_MIN_WORDS),
    "low_wpm": {"wpm": MIN_WPM, "min_speech_s": MIN_SPEECH_FOR_WPM},
    "low_logprob": {"avg_logprob": MIN_AVG_LOGPROB},
    "stock_phrases": {"stock_phrase_share": MAX_STOCK_SHARE},
    "low_speech_share": {"speech_share": MIN_SPEECH_SHARE},
}
# the filters export --clean applies (each removes rows carrying that flag)
CLEAN_FLAGS = ("no_speech", "gopher_repetition", "low_wpm", "low_logprob", "stock_phrases")
# every flag a row can carry (`export --exclude-flags` refuses other names)
KNOWN_FLAGS = (*CLEAN_FLAGS, "low_speech_share", "segment_loop_cut", "dropped_no_speech",
               "repetition_cut", "high_compression",
               "language_uncertain")  # quality/language.py: signals doubt the language


def gopher_failures(q: dict) -> list[str]:
    if q.get("words", 0) < GOPHER_MIN_WORDS:
        return []
    return [name for name, limit in GOPHER.items() if q.get(name, 0.0) > limit]


def flags_for(q: dict) -> list[str]:
    """Flags from one transcript's quality dict (see signals.measure)."""
    flags = []
    if gopher_failures(q):
        flags.append("gopher_repetition")
    if q.get("speech_s", 0) >= MIN_SPEECH_FOR_WPM and q.get("wpm", 0) < MIN_WPM:
        flags.append("low_wpm")
    if q.get("avg_logprob") is not None and q["avg_logprob"] < MIN_AVG_LOGPROB:
        flags.append("low_logprob")
    if q.get("stock_phrase_share", 0) >= MAX_STOCK_SHARE:
        flags.append("stock_phrases")
    if q.get("speech_share", 1) < MIN_SPEECH_SHARE:
        flags.append("low_speech_share")
    if q.get("loops_cut", 0):
        flags.append("segment_loop_cut")
    return flags
