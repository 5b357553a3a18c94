"""Raw segments -> Transcript: clean, cut loops, measure, decide the language, flag."""

from __future__ import annotations

from typing import Iterable

from ..core.models import Segment, Transcript
from .cleaning import MIN_SPEECH_SECONDS, clean_segments
from .flags import flags_for
from .flags import MIN_SPEECH_FOR_WPM
from .language import UNCERTAIN_FLAG, UNDETERMINED, decide, uncertain
from .loops import cut_segment_loops, cut_word_loops_across
from .paragraphs import PARAGRAPH_BREAK, join_paragraphs, silences_of
from .signals import measure


def build_transcript(segments: Iterable[Segment], duration: float, language: str | None,
                     speech_s: float | None = None, *, multilingual: bool | None = None,
                     metadata_language: str | None = None,
                     regions: list[dict] | None = None) -> Transcript:
    """The one way engines (and the worker's writer) turn a video's raw segments, on its
    own timeline, into a Transcript with quality signals, flags and a language decision.

    multilingual: whether `language` is the model's own detection (True) or an English-only
    model's constant (False/None: the decoding signals decide). metadata_language: what
    the video's metadata said (see quality.metadata_language)."""
    if speech_s is not None and speech_s < MIN_SPEECH_SECONDS:
        return no_speech(duration, language, speech_s=speech_s)
    kept, flags = clean_segments(segments, duration)
    kept, segment_loops = cut_segment_loops(kept)
    kept, word_loops = cut_word_loops_across(kept)
    if not kept:
        empty = no_speech(duration, language, flags, speech_s=speech_s)
        if _speech_without_english(flags, speech_s, language, multilingual):
            empty.language, empty.language_source = UNDETERMINED, "signals"
            empty.flags = sorted(set(empty.flags) | {UNCERTAIN_FLAG})
        return empty
    text = join_paragraphs(kept, silences_of(regions) if regions is not None else None)
    quality = measure(kept, duration, speech_s, paragraphs=text.split(PARAGRAPH_BREAK),
                      loops_cut=segment_loops + word_loops)
    lang, source = decide(language, quality, multilingual=multilingual,
                          metadata=metadata_language)
    flags = set(flags) | set(flags_for(quality))
    if uncertain(lang, source):
        flags.add(UNCERTAIN_FLAG)
    return Transcript(text=text, segments=kept, language=lang, duration=duration,
                      flags=sorted(flags), quality=quality,
                      language_source=source)


def no_speech(duration: float, language: str | None = None,
              flags: list[str] | None = None, speech_s: float | None = None) -> Transcript:
    quality = {"words": 0, "speech_s": round(speech_s or 0.0, 2),
               "speech_share": round((speech_s or 0.0) / duration, 3) if duration else 0.0}
    return Transcript(text="", segments=[], language=language, duration=duration,
                      no_speech=True, flags=sorted(set(flags or []) | {"no_speech"}),
                      quality=quality, language_source="model" if language else None)


def _speech_without_english(flags: list[str], speech_s: float | None, language: str | None,
                            multilingual: bool | None) -> bool:
    """An English-only model dropped everything it wrote over plenty of speech: measured
    on Spanish and Italian espeak-ng speech, never on English."""
    return (not multilingual and language in (None, "en") and "dropped_no_speech" in flags
            and (speech_s or 0.0) >= MIN_SPEECH_FOR_WPM)
