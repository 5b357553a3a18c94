"""Whisper's stock phrases: text it writes into silence, music and speech it cannot
follow, learned from the subtitles of YouTube videos."""

from __future__ import annotations

from ..core.models import Segment
from .loops import normalize

# normalized (lower case, no punctuation); a segment that is only one of these is suspect
STOCK_PHRASES = tuple(normalize(p) for p in (
    "Thanks for watching", "Thank you for watching", "Thanks for watching!",
    "Thank you so much for watching", "Thank you very much for watching",
    "Thanks for listening", "Thank you for listening", "Please subscribe",
    "Please subscribe to my channel", "Don't forget to like and subscribe",
    "Like and subscribe", "Please like and subscribe", "Subscribe to my channel",
    "I'll see you next time", "See you next time", "See you in the next video",
    "I'll see you in the next video", "I'm going to go to the next video",
    "Bye", "Bye bye", "Thank you", "Thank you very much", "you",
    "Subtitles by the Amara.org community", "Subtitles by Amara.org",
    "Transcription by CastingWords", "Transcribed by ESO", "Translated by",
    "Subtitles by", "Captions by", "www.mooji.org", "ご視聴ありがとうございました",
))
_STOCK = frozenset(STOCK_PHRASES)
# substrings that are never speech in a lecture
_STOCK_INSIDE = tuple(normalize(p) for p in (
    "Amara.org", "Subtitles by the", "CastingWords", "please subscribe",
    "thanks for watching", "thank you for watching", "see you next time",
    "see you in the next video",
))


def is_stock_phrase(text: str) -> bool:
    key = normalize(text)
    return bool(key) and (key in _STOCK or any(p in key for p in _STOCK_INSIDE))


def stock_phrase_share(segments: list[Segment]) -> float:
    """Share of the transcript's words that sit in stock-phrase segments."""
    total = stock = 0
    for seg in segments:
        n = len(seg.text.split())
        total += n
        if is_stock_phrase(seg.text):
            stock += n
    return stock / total if total else 0.0
