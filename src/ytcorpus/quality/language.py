"""Which language a transcript is in, and how that was decided.

Sources, strongest first: a multilingual model's own detection ("model"); for an
English-only model the decoding signals ("signals": speech with almost no words per
minute, a low mean log-probability, or nothing but stock phrases, is not English); the
video's metadata ("metadata": yt-dlp's `language`, or the language of its original
automatic captions), known before download, so a worker can skip a video in another
language before it costs GPU time."""

from __future__ import annotations

from ..core.langtag import language_key
from .flags import MAX_STOCK_SHARE, MIN_SPEECH_FOR_WPM, MIN_WPM

# Thresholds of the English-only decision, re-measured by bench/language.py on 22 English
# clips (six English espeak-ng voices, English read by de/fr/es/hi/ru/vi voices, slow
# maths lectures at 90-120 wpm, dictated code, noise at 10 and 3 dB SNR, the bundled clips
# with the real CMU ARCTIC recording) and 9 in other languages (de, fr, es, it, pt, nl, pl,
# sv, slow de). Since these only flag a row (language_uncertain), never fail it, they
# lean towards flagging: a flagged English row is kept; an accepted foreign one pollutes
# `export --clean --language en`.
# mean avg_logprob below which an English-only model is not reading English: English
# -0.21..-0.75 except German-accented English (-0.95, -0.98) and speech under 3 dB SNR
# (-0.87); other languages -0.30..-1.18 (German -0.81, Spanish -1.18, Dutch -1.14).
# -1.0 would keep those three English clips and accept German: it stays.
LANG_MIN_LOGPROB = -0.75
# share of characters in repeated 5-grams above which the text is one loop, not a reading
# of the audio (2x Gopher's limit): English clips 0.00-0.17 (Spanish-accented English);
# slow German came out as "The first time I was in the morning, I was in the..." (0.35,
# accepted at the old 0.5), Polish 0.86, Dutch 0.49.
LANG_MAX_DUP_5GRAM = 0.3
# words a minute of speech (flags.MIN_WPM, 60): English 69-170 (slow maths lectures 78-84,
# Vietnamese-accented 69; 49 only for German-accented maths at 100 wpm, also at -0.95),
# other languages 0-156: it stays.

UNDETERMINED = "und"  # ISO 639-2: speech present, language not the model's
# the flag of a transcript whose language only the decoding signals judged (an English-only
# model cannot name a language): signals alone never fail a row; `export --clean
# --language L` removes it
UNCERTAIN_FLAG = "language_uncertain"


def uncertain(language: str | None, source: str | None) -> bool:
    """The signals, and nothing that names a language, say: not the model's language."""
    return source == "signals" and language == UNDETERMINED


def names_language(source: str | None) -> bool:
    """Whether a decision is strong enough to fail a row as wrong_language: the model
    detected the language, or the video's metadata stated it. Signals alone never are."""
    return source in ("model", "metadata")

# English function words: they make up 40-50% of running English text and almost none of
# German, Spanish or French text (which a multilingual model writes in its own language)
ENGLISH_WORDS = frozenset("""the of and to a in is that it for was on are as with he be at
by this have from or one had not but what all were when we there can an your which their
said if do will each about how up out them then she many some so these would other into
has more her two like him see time could no make than been who its now my made over did
down only way find use may long very after our just where most know get through back
much before also any new you they i me our us should""".split())
MIN_ENGLISH_WORD_SHARE = 0.25


def english_word_share(words: list[str]) -> float:
    return sum(w in ENGLISH_WORDS for w in words) / len(words) if words else 0.0


def metadata_language(info: dict | None) -> str | None:
    """The spoken language yt-dlp's info dict states (before download), as a short code.

    `language` when the uploader set it; else the original automatic-caption track
    (YouTube marks it "<lang>-orig"); else None."""
    if not info:
        return None
    lang = info.get("language")
    if isinstance(lang, str) and lang.strip():
        return _short(lang)
    for key in (info.get("automatic_captions") or {}):
        if isinstance(key, str) and key.endswith("-orig"):
            return _short(key[:-len("-orig")])
    return None


def _short(code: str) -> str | None:
    """'en-US' -> 'en', 'pt_BR' -> 'pt', 'eng' -> 'en' (ytcorpus.core.langtag)."""
    return language_key(code)


def signals_say_english(q: dict, *, min_logprob: float = LANG_MIN_LOGPROB,
                        min_wpm: float = MIN_WPM,
                        max_dup_5gram: float = LANG_MAX_DUP_5GRAM) -> bool | None:
    """True/False from an English-only model's decoding signals; None when too little
    speech to tell. The thresholds are keywords so bench/language.py can try others."""
    if q.get("speech_s", 0) < MIN_SPEECH_FOR_WPM:
        return None
    if q.get("stock_phrase_share", 0) >= MAX_STOCK_SHARE:
        return False
    if q.get("avg_logprob") is not None and q["avg_logprob"] < min_logprob:
        return False
    if q.get("dup_5gram_share", 0.0) > max_dup_5gram:
        return False
    return q.get("wpm", 0) >= min_wpm


def decide(model_language: str | None, q: dict, *, multilingual: bool | None = None,
           metadata: str | None = None) -> tuple[str | None, str | None]:
    """(language, language_source) of one transcript.

    multilingual=True: the model's detection wins; without one, the share of English
    function words in what it wrote decides. Otherwise the model can only write English:
    its decoding signals decide English or not. When not English: the metadata's
    language if it names another one, else "und"."""
    if multilingual and model_language:
        return model_language, "model"
    if multilingual and q.get("english_word_share") is not None and q.get("words", 0) >= 20:
        # a multilingual model that named no language wrote the words it heard: read them
        if q["english_word_share"] >= MIN_ENGLISH_WORD_SHARE:
            return "en", "signals"
        return (metadata, "metadata") if metadata and metadata != "en" else (UNDETERMINED,
                                                                              "signals")
    if model_language and model_language != "en":  # an engine that detected a language
        return model_language, "model"
    english = signals_say_english(q)
    if english is True:
        return "en", "signals"
    if english is False:
        if metadata and metadata != "en":
            return metadata, "metadata"
        return UNDETERMINED, "signals"
    if metadata:
        return metadata, "metadata"
    return model_language, ("model" if model_language else None)
