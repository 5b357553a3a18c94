"""Transcript quality: cleaning, signals, loops, stock phrases, language, flags,
near-duplicates. `build_transcript` is the one way raw segments become a Transcript."""

from __future__ import annotations

from .cleaning import (COMPRESSION_RATIO, LOGPROB_FLOOR, MAX_REPEATS, MIN_SPEECH_SECONDS,
                       NO_SPEECH_PROB, SAMPLE_RATE, clean_segments, compression_ratio,
                       cut_repetitions, is_no_speech)
from .language import UNDETERMINED, metadata_language
from .transcript import build_transcript, no_speech

__all__ = [
    "COMPRESSION_RATIO", "LOGPROB_FLOOR", "MAX_REPEATS", "MIN_SPEECH_SECONDS", "NO_SPEECH_PROB",
    "SAMPLE_RATE", "build_transcript", "clean_segments", "compression_ratio", "cut_repetitions",
    "UNDETERMINED", "is_no_speech", "metadata_language", "no_speech",
]
