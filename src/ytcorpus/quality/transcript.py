"""Raw segments -> Transcript: clean, cut loops, measure, decide the language, flag."""

from __future__ import annotations

from typing import Iterable

from ..models import Segment, Transcript
from .cleaning import MIN_SPEECH_SECONDS, clean_segments


def build_transcript(segments: Iterable[Segment], duration: float, language: str | None,
                     speech_s: float | None = None) -> Transcript:
    """The one way engines turn raw segments into a Transcript."""
    if speech_s is not None and speech_s < MIN_SPEECH_SECONDS:
        return no_speech(duration, language)
    kept, flags = clean_segments(segments, duration)
    if not kept:
        return no_speech(duration, language, flags)
    text = " ".join(s.text for s in kept)
    return Transcript(text=text, segments=kept, language=language, duration=duration,
                      flags=flags)


def no_speech(duration: float, language: str | None = None,
              flags: list[str] | None = None) -> Transcript:
    return Transcript(text="", segments=[], language=language, duration=duration,
                      no_speech=True, flags=sorted(set(flags or []) | {"no_speech"}))
