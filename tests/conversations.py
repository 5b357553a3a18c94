"""Multi-speaker conversations for diarization tests and bench/diarize.py: espeak-ng voices
and a real recorded speaker (CMU ARCTIC), 1-4 speakers, turns from 1 to 30 s, short
back-channels ("Yes.", "Okay."), with the reference turns (speech only, seconds).

Deterministic: the same seed gives the same files (sox -D, no dither); utterances are
cached beside the files, so a second build is fast."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media import espeak, write_audio
from speech_texts import ENGLISH_CELLS, ENGLISH_PRESS_A, ENGLISH_PRESS_B
from ytcorpus.core.audio import decode_to_mono16k

DEMO = Path(__file__).resolve().parents[1] / "src" / "ytcorpus" / "demo_data"
ARCTIC = "arctic"  # the real speaker: arctic_a0007.wav, 3.5 s, repeated for longer turns
VOICES = ("en-us+f3", "en-us+m7", "en-us+m3", ARCTIC, "en-029+f5", "en-029+m4")
BACK_CHANNELS = ("Yes.", "Okay.", "Right.", "I see.", "Sure.")
RATE = 16_000
_WORDS = " ".join([ENGLISH_PRESS_A, ENGLISH_PRESS_B, ENGLISH_CELLS]
                  + list(json.loads((DEMO / "transcripts.json").read_text()).values())).split()


@dataclass
class Conversation:
    path: Path
    speakers: int
    turns: list[tuple[float, float, str]]  # (start, end, voice): where each voice speaks
    text: str


def _utterance(voice: str, text: str, cache: Path) -> np.ndarray:
    """Speech samples with the leading/trailing silence trimmed (exact reference times)."""
    if voice == ARCTIC:
        clip = decode_to_mono16k(DEMO / "arctic_a0007.wav")
        copies = max(1, round(len(text.split()) / 10))  # the clip has ten words
        return _trim(np.concatenate([clip] * copies))
    key = hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:16]
    path = cache / f"{key}.wav"
    if not path.exists():
        espeak(text, path, wpm=160, voice=voice)
    return _trim(decode_to_mono16k(path))


def _trim(audio: np.ndarray, floor: float = 2e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > floor)
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio


def _text(rng: random.Random, seconds: float) -> str:
    n = max(2, round(seconds * 2.6))  # about 160 words a minute
    start = rng.randrange(len(_WORDS) - n)
    return " ".join(_WORDS[start:start + n]).rstrip(",.;") + "."


def make_conversation(path: Path, speakers: int, seed: int, seconds: float = 60.0,
                      cache: Path | None = None) -> Conversation:
    """A wav at `path` with `speakers` voices taking turns of 1-30 s (log-uniform), each
    voice at least one long turn, and a back-channel of another voice now and then."""
    rng = random.Random(seed)
    cache = cache or path.parent / ".utterances"
    cache.mkdir(parents=True, exist_ok=True)
    voices = rng.sample(VOICES, speakers)
    plan: list[tuple[str, str]] = []
    talked: set[str] = set()  # voices with a turn of their own (not only back-channels)
    total, last = 0.0, None
    while total < seconds or len(talked) < speakers:
        unused = [v for v in voices if v not in talked]
        voice = unused[0] if unused else rng.choice([v for v in voices if v != last] or voices)
        length = float(np.exp(rng.uniform(np.log(1.0), np.log(30.0))))
        plan.append((voice, _text(rng, length)))
        talked.add(voice)
        total += length
        if speakers > 1 and rng.random() < 0.3:
            other = rng.choice([v for v in voices if v != voice])
            plan.append((other, rng.choice(BACK_CHANNELS)))
            voice = other
        last = voice
    parts, turns, texts, at = [], [], [], 0
    for voice, text in plan:
        gap = np.zeros(int(rng.uniform(0.25, 0.8) * RATE), np.float32)
        speech = _utterance(voice, text, cache)
        parts += [gap, speech]
        at += gap.size
        turns.append((at / RATE, (at + speech.size) / RATE, voice))
        at += speech.size
        texts.append(text if voice != ARCTIC else
                     "And you always want to see it in the superlative degree.")
    parts.append(np.zeros(RATE // 2, np.float32))
    write_audio(path, np.concatenate(parts))
    return Conversation(path, speakers, turns, " ".join(texts))


def conversation_set(folder: Path, per_count: int = 5, seconds: float = 60.0
                     ) -> list[Conversation]:
    """per_count files for each of 1, 2, 3 and 4 speakers."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_conversation(folder / f"conv-{k}spk-{i}.wav", k, seed=100 * k + i,
                              seconds=seconds)
            for k in (1, 2, 3, 4) for i in range(per_count)]
