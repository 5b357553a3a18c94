"""The English-only language decision: signals flag a row (language_uncertain), they
never name a language strong enough to fail it; thresholds from bench/language.py."""

from __future__ import annotations

from ytcorpus.models import Segment
from ytcorpus.quality import build_transcript
from ytcorpus.quality.language import (LANG_MAX_DUP_5GRAM, UNCERTAIN_FLAG, decide,
                                       metadata_language, names_language, uncertain)

ENGLISH = {"speech_s": 40.0, "wpm": 150.0, "avg_logprob": -0.4, "dup_5gram_share": 0.0}


def test_a_loop_above_the_measured_share_is_not_english():
    """Slow German through tiny.en came out as one loop at 0.35, which the old 0.5
    accepted; Spanish-accented English, the highest English clip, is at 0.17."""
    assert LANG_MAX_DUP_5GRAM == 0.3
    assert decide("en", dict(ENGLISH, dup_5gram_share=0.35)) == ("und", "signals")
    assert decide("en", dict(ENGLISH, dup_5gram_share=0.17)) == ("en", "signals")


def test_only_a_model_or_the_metadata_names_a_language():
    assert names_language("model") and names_language("metadata")
    assert not names_language("signals") and not names_language(None)
    assert uncertain("und", "signals") and not uncertain("de", "metadata")
    assert not uncertain("en", "signals")


def test_an_unlikely_english_transcript_is_flagged_not_renamed():
    loop = "The first time I was in the morning, I was in the house. " * 12
    words = loop.split()
    segments = [Segment(3.0 * i, 3.0 * i + 2.8, " ".join(words[8 * i:8 * i + 8]),
                        avg_logprob=-0.4) for i in range(len(words) // 8)]
    t = build_transcript(segments, 60.0, "en", 45.0)
    assert (t.language, t.language_source) == ("und", "signals")
    assert UNCERTAIN_FLAG in t.flags
    english = build_transcript([Segment(0.0, 30.0, "Today we study the printing press "
                                        "and what it did to the cities of Europe, and why "
                                        "books became cheap enough for students to own.",
                                        avg_logprob=-0.3)], 30.0, "en", 12.0)
    assert english.language == "en" and UNCERTAIN_FLAG not in english.flags


def test_metadata_tags_are_languages():
    assert metadata_language({"language": "en-US"}) == "en"
    assert metadata_language({"language": "eng"}) == "en"
    assert metadata_language({"automatic_captions": {"de-orig": []}}) == "de"
