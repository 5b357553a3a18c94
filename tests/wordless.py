"""A labelled set of real speech and speech-like sound without words, made for real and
deterministically (espeak-ng, sox -D, numpy with fixed seeds): the calibration set of
bench/hallucination.py, and a few clips of it for the tests.

    clips(root, per_kind=None, kinds=None) -> list[Clip]

Clip: name, kind, label ("speech": words were spoken, `text` holds them; "wordless":
nothing in it should become text; "mixed": speech then a wordless tail, `text` holds the
speech), audio (float32 16 kHz mono). Audio is cached as WAV under `root` (keyed by the
clip's name and SET_VERSION), so a second run only reads files.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
SET_VERSION = "2"

SENTENCES = [
    "The river carries sand and stones downhill, and every flood cuts deeper into the rock.",
    "Plants use light to turn water and carbon dioxide into sugar and oxygen.",
    "The derivative tells us how fast a function changes at a single point.",
    "Before the printing press, books were copied by hand, which was slow and expensive.",
    "A cell is the smallest unit of life that can copy itself.",
    "In the next lecture we will look at how markets set the price of bread.",
    "The moon has no air, so the sky above it is always black.",
    "Please read the second chapter of the book before Thursday.",
    "Sound travels faster through water than it does through air.",
    "The old bridge was built of stone more than three hundred years ago.",
    "Our heart pumps blood through a network of arteries and veins.",
    "When the temperature drops below zero, the water in the pipes turns to ice.",
    "The library opens at nine in the morning and closes at six.",
    "A good experiment changes one thing at a time and measures the result.",
    "Farmers in the valley grow wheat, barley and a few kinds of beans.",
    "The committee will vote on the new budget at the end of the month.",
    "Light from the sun takes about eight minutes to reach the earth.",
    "Children learn their first language by listening long before they speak.",
    "The train to the coast leaves from the second platform every hour.",
    "Copper is a soft metal that carries electricity very well.",
    "Most of the fresh water on our planet is frozen in ice sheets.",
    "The author wrote the novel in a small house near the harbour.",
    "A triangle has three sides, and its angles add up to half a circle.",
    "The museum keeps its oldest maps in a cool and dark room.",
    "Bees carry pollen from one flower to the next as they look for food.",
    "The engine turns the energy of burning fuel into motion.",
    "Many birds fly south in the autumn and come back in the spring.",
    "The judge asked both sides to explain their arguments once more.",
    "Salt makes water boil at a slightly higher temperature.",
    "The city council wants to plant a thousand trees along the main road.",
    "An atom has a small heavy nucleus surrounded by light electrons.",
    "We measured the length of the shadow every hour during the day.",
    "The violin has four strings and is played with a bow.",
    "Rain forests hold more kinds of plants and animals than any other land.",
    "The company sold its first computer to a bank in the north.",
    "Glaciers move slowly down the mountain and carve wide valleys.",
    "The nurse checked the patient's temperature twice during the night.",
    "A map is only useful if you know where north is.",
    "The volcano has been quiet for more than two hundred years.",
    "Students should bring a pencil, a ruler and a calculator to the exam.",
]
# espeak-ng voices and variants (accents, male and female, klatt synthesis)
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
          "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us+f3", "en-gb+f2", "en-us+m3",
          "en-gb+klatt", "en-us+f4", "en-gb-x-rp+m5"]
GIBBERISH = ["ba", "ko", "ti", "rem", "su", "la", "da", "mi", "no", "pe", "zu", "gar", "fo",
             "ki", "vel", "tu", "sha", "wo", "ne", "bri", "mak", "lo", "dre", "pun"]
ARCTIC = Path(__file__).resolve().parents[1] / "src" / "ytcorpus" / "demo_data" \
    / "arctic_a0007.wav"
ARCTIC_TEXT = "And you always want to see it in the superlative degree."


@dataclass
class Clip:
    name: str
    kind: str
    label: str      # speech | wordless | mixed
    text: str       # what was said ("" for wordless)
    audio: np.ndarray


# ---- sound making ------------------------------------------------------------------
def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return data.astype(np.float32) / 32768.0


def _write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "w") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def say(text: str, voice: str = "en-us", wpm: int = 150, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech at 16 kHz (sox -D: no dither, so the same bytes every run)."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        raise RuntimeError("espeak-ng and sox are needed (apt-get install espeak-ng sox)")
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(raw)]
        subprocess.run([*cmd, text], check=True, capture_output=True)
        subprocess.run(["sox", "-V1", "-D", str(raw), "-r", str(SR), "-c", "1", str(out)],
                       check=True)
        return _read_wav(out)


def sox(audio: np.ndarray, *effects: str) -> np.ndarray:
    """Run audio through sox effects (deterministic: -D)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        _write_wav(src, audio)
        subprocess.run(["sox", "-V1", "-D", str(src), str(out), *effects], check=True,
                       capture_output=True)
        return _read_wav(out)


def _norm(audio: np.ndarray, peak: float = 0.5) -> np.ndarray:
    m = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (peak / m)).astype(np.float32) if m > 0 else audio.astype(np.float32)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1e-9


def _noise(n: int, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    x = rng.standard_normal(n)
    if color == "pink":  # 1/f by filtering white noise in the frequency domain
        f = np.fft.rfft(x)
        f[1:] /= np.sqrt(np.arange(1, f.size))
        x = np.fft.irfft(f, n)
    return (x / _rms(x)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator,
              color: str = "white") -> np.ndarray:
    noise = _noise(audio.size, rng, color) * _rms(audio) / 10 ** (snr_db / 20)
    return _norm(audio + noise)


def pad(audio: np.ndarray, seconds: float = 0.5) -> np.ndarray:
    z = np.zeros(int(seconds * SR), np.float32)
    return np.concatenate([z, audio, z])


def _fit(audio: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    return audio[:n] if audio.size >= n else np.concatenate(
        [audio, np.zeros(n - audio.size, np.float32)])


def babble(rng: np.random.Generator, voices: int, seconds: float = 12.0) -> np.ndarray:
    """`voices` espeak-ng speakers, different texts, voices and offsets, at equal level."""
    mix = np.zeros(int(seconds * SR), np.float32)
    for _ in range(voices):
        picks = rng.choice(len(SENTENCES), 3, replace=False)
        text = " ".join(SENTENCES[int(p)] for p in picks)
        speech = say(text, VOICES[int(rng.integers(len(VOICES)))],
                     int(rng.integers(130, 190)), int(rng.integers(30, 70)))
        start = int(rng.integers(0, SR))
        part = _fit(np.concatenate([np.zeros(start, np.float32), speech]), seconds)
        mix += part / _rms(part)
    return _norm(mix)


def hum(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """A voice-like hum or "singing" without words: a glottal-pulse tone gliding between
    notes with vibrato, shaped by vowel formants and a syllable-rate envelope."""
    t = np.arange(int(seconds * SR)) / SR
    notes = 110 * 2 ** (rng.integers(0, 12, size=int(seconds * 2) + 1) / 12)
    f0 = np.repeat(notes, SR // 2)[:t.size] * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    wave_ = sum(np.sin(k * phase) / k for k in range(1, 30))
    vowel = rng.choice([(300, 870), (730, 1090), (270, 2290), (570, 840)])
    spec = np.fft.rfft(wave_)
    freqs = np.fft.rfftfreq(t.size, 1 / SR)
    spec *= sum(np.exp(-((freqs - f) / 120) ** 2) for f in vowel) + 0.05
    voiced = np.fft.irfft(spec, t.size)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(2, 4) * t) ** 2
    return _norm(voiced * envelope)


def espeak_hum(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """espeak-ng humming and vowel "singing" ("mmm", "aaah", "ooh") at changing pitch."""
    parts = []
    while sum(p.size for p in parts) < seconds * SR:
        sound = str(rng.choice(["mmmmmmmm", "hmmmmmm", "aaaaaaah", "oooooooh", "mmm hmm"]))
        parts.append(say(sound, str(rng.choice(VOICES[:6])), 80, int(rng.integers(10, 99))))
    return _norm(_fit(np.concatenate(parts), seconds))


def scrambled(speech: np.ndarray, rng: np.random.Generator, piece_s: float = 0.08):
    """Speech cut into short pieces put back in random order: its sound, none of its words."""
    n = int(piece_s * SR)
    pieces = [speech[i:i + n] for i in range(0, speech.size - n, n)]
    order = rng.permutation(len(pieces))
    return _norm(np.concatenate([pieces[i] for i in order]))


def vocoded(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One-band noise vocoder: noise carrying speech's loudness envelope (rhythm without
    words)."""
    env = np.convolve(np.abs(speech), np.ones(320) / 320, mode="same")
    return _norm(_noise(speech.size, rng, "pink") * env)


def ring(speech: np.ndarray, freq: float = 1500.0) -> np.ndarray:
    """Ring modulation then hard clipping: distorted past recognition."""
    t = np.arange(speech.size) / SR
    return _norm(np.clip(_norm(speech) * np.sin(2 * np.pi * freq * t) * 8, -0.5, 0.5))


# ---- the set -------------------------------------------------------------------------
def _text(k: int, n: int = 2) -> str:
    return " ".join(SENTENCES[(k * 7 + j * 13) % len(SENTENCES)] for j in range(n))


def _speech(k: int, rng: np.random.Generator) -> np.ndarray:
    return say(_text(k, 3), VOICES[k % len(VOICES)], int(rng.integers(140, 180)))


def _make_speech(kind: str, k: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    voice = VOICES[k % len(VOICES)]
    text = _text(k)
    if kind == "clean":
        return pad(say(text, voice, 120 + (k * 17) % 80)), text
    if kind == "fast_slow":
        return pad(say(text, voice, (95, 230)[k % 2])), text
    if kind == "noisy":  # SNR 20, 10 and 5 dB, white or pink
        audio = pad(say(text, voice, 150 + (k * 11) % 30))
        return add_noise(audio, (20, 10, 5)[k % 3], rng, ("white", "pink")[k % 2]), text
    if kind == "room":  # a lecture hall: light reverberation
        return _norm(sox(pad(say(text, voice, 150)), "reverb", "40", "50", "60")), text
    if kind == "arctic":  # the real CMU ARCTIC speaker: alone, in noise, slower, faster
        audio = pad(_read_wav(ARCTIC), 0.6 + 0.2 * (k % 3))
        tempo = (1.0, 0.9, 1.12)[k % 3]
        if tempo != 1.0:
            audio = _norm(sox(audio, "tempo", "-s", str(tempo)))
        if k % 4 == 1:
            audio = _norm(sox(audio, "reverb", "30", "50", "40"))
        if k % 2:
            audio = add_noise(audio, (25, 15)[k // 2 % 2], rng)
        return audio, ARCTIC_TEXT
    raise ValueError(kind)


def _make_wordless(kind: str, k: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "babble":
        return babble(rng, 3 + k % 4)
    if kind == "crowd":  # many voices, far away: low-passed, with room noise
        return add_noise(sox(babble(rng, 8), "lowpass", "1800", "reverb", "60"), 10, rng, "pink")
    if kind == "buried":  # speech under very heavy noise
        return add_noise(_speech(k, rng), (-15, -20)[k % 2], rng, ("white", "pink")[k // 2 % 2])
    if kind == "reverb":  # a long, wet hall, twice
        wet = ["reverb", "-w", "100", "50", "100", "100", "0", "0"]
        return _norm(sox(_speech(k, rng), *wet, *wet, "gain", "-3"))
    if kind == "hum":
        return hum(rng) if k % 2 else espeak_hum(rng)
    if kind == "reversed":
        return _norm(_speech(k, rng)[::-1].copy())
    if kind == "distorted":
        return ring(_speech(k, rng), 900 + 200 * (k % 5))
    if kind == "gibberish":  # fluent nonsense syllables
        words = [" ".join("".join(rng.choice(GIBBERISH, int(rng.integers(1, 4))))
                          for _ in range(6)) for _ in range(5)]
        return pad(say(". ".join(words), VOICES[k % len(VOICES)], 160))
    if kind == "scrambled":
        return scrambled(_speech(k, rng), rng)
    if kind == "vocoded":
        return vocoded(_speech(k, rng), rng)
    raise ValueError(kind)


SPEECH_KINDS = {"clean": 30, "fast_slow": 14, "noisy": 30, "room": 14, "arctic": 12}
WORDLESS_KINDS = {"babble": 16, "crowd": 6, "buried": 10, "reverb": 10, "hum": 10,
                  "reversed": 10, "distorted": 10, "gibberish": 10, "scrambled": 10,
                  "vocoded": 8}
MIXED_KINDS = {"speech_then_babble": 6}


def _make(kind: str, k: int) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng([k, sum(map(ord, kind))])
    if kind in SPEECH_KINDS:
        return _make_speech(kind, k, rng)
    if kind in WORDLESS_KINDS:
        return _make_wordless(kind, k, rng), ""
    speech, text = _make_speech("clean", k, rng)  # then 10 s of babble
    return np.concatenate([speech, 0.8 * babble(rng, 4, 10.0)]), text


def label_of(kind: str) -> str:
    return ("speech" if kind in SPEECH_KINDS else
            "wordless" if kind in WORDLESS_KINDS else "mixed")


def clips(root: Path, per_kind: int | None = None,
          kinds: list[str] | None = None, first: int = 0) -> list[Clip]:
    """The set (or `per_kind` clips of each of `kinds`), made once and cached in `root`.
    `first`: the index of each kind's first clip; another `first` (bench/hallucination.py
    --held-out uses 100) makes a held-out set of the same kinds: other sentences, voices,
    speeds, noise, never seen while the thresholds were chosen."""
    counts = {**SPEECH_KINDS, **WORDLESS_KINDS, **MIXED_KINDS}
    root = Path(root) / f"v{SET_VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for kind in kinds or list(counts):
        for k in range(first, first + min(per_kind or counts[kind], counts[kind])):
            name = f"{kind}_{k:02d}"
            wav, txt = root / f"{name}.wav", root / f"{name}.txt"
            if not wav.exists():
                audio, text = _make(kind, k)
                txt.write_text(text)
                _write_wav(wav, audio)
            out.append(Clip(name, kind, label_of(kind), txt.read_text(), _read_wav(wav)))
    return out
