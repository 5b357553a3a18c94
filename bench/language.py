"""The English-only language decision (quality/language.py) measured on real-ish speech
through the packaged tiny.en model (CPU): espeak-ng English in many accents (English
voices, and other languages' voices reading English), slow maths-lecture speech, dictated
code, noisy speech, the bundled clips (the real CMU ARCTIC recording among them), and
other languages (de, fr, es, it, pt, nl, pl, sv).

Prints one line per clip (its signals and the decision under the old and the current
thresholds), then false rejections (English judged not English) and false acceptances
(another language judged English) for each. Before: a rejection failed the row as
wrong_language under `work --language en`; now it only flags it language_uncertain
(the row is kept; `export --clean --language en` leaves it out).

    python bench/language.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

import speech_texts as T  # noqa: E402
from media import espeak  # noqa: E402
from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.quality import language as L  # noqa: E402
from ytcorpus.work.pipeline import transcribe_arrays  # noqa: E402

SR = 16000
DEMO = ROOT / "src" / "ytcorpus" / "demo_data"
MATHS = ("So, let us take the function f of x equals x squared, plus three x, minus four. "
         "To find the derivative, we bring down the power: two x. Then the three x term "
         "gives three. The constant, minus four, gives zero. So f prime of x is two x plus "
         "three. Now, where is the slope equal to zero? We set two x plus three equal to "
         "zero, and we get x equals minus three halves. Let me write that on the board. "
         "Minus three over two. And the value of the function there is, let us see, "
         "nine quarters minus nine halves minus four, which is minus twenty five quarters.")
CODE = ("def area open paren radius close paren colon. Return math dot pi times radius "
        "star star two. Next line. For i in range open paren ten close paren colon, print "
        "open paren area open paren i close paren close paren. If radius is less than zero "
        "colon raise value error open paren quote negative radius quote close paren. "
        "Import numpy as n p. Array equals n p dot zeros open paren one hundred close paren.")
OTHER = {
    "it": ("La stampa ha cambiato la storia del mondo. Prima della sua invenzione i libri "
           "venivano copiati a mano, ed era un lavoro lento e costoso. Verso il millequattro"
           "centocinquanta Gutenberg costruì una pressa con caratteri mobili di metallo. "
           "Una bottega poteva produrre centinaia di copie in poche settimane, e molte più "
           "persone impararono a leggere."),
    "pt": ("A imprensa mudou a história do mundo. Antes da sua invenção, os livros eram "
           "copiados à mão, o que era lento e caro. Por volta de mil quatrocentos e "
           "cinquenta, Gutenberg construiu uma prensa com tipos móveis de metal. Uma oficina "
           "podia produzir centenas de cópias em poucas semanas, e muitas mais pessoas "
           "aprenderam a ler."),
    "nl": ("De drukpers heeft de geschiedenis van de wereld veranderd. Voor de uitvinding "
           "werden boeken met de hand overgeschreven, wat langzaam en duur was. Rond "
           "veertienhonderdvijftig bouwde Gutenberg een pers met losse letters van metaal. "
           "Een werkplaats kon honderden kopieën maken in een paar weken, en veel meer "
           "mensen leerden lezen."),
    "pl": ("Prasa drukarska zmieniła historię świata. Zanim ją wynaleziono, książki "
           "przepisywano ręcznie, co było powolne i drogie. Około roku tysiąc czterysta "
           "pięćdziesiątego Gutenberg zbudował prasę z ruchomymi czcionkami z metalu. "
           "Warsztat mógł wykonać setki kopii w kilka tygodni i wielu ludzi nauczyło się "
           "czytać."),
    "sv": ("Boktryckarkonsten förändrade världens historia. Innan den uppfanns skrevs "
           "böcker av för hand, vilket var långsamt och dyrt. Omkring år fjortonhundra"
           "femtio byggde Gutenberg en press med lösa typer av metall. En verkstad kunde "
           "göra hundratals kopior på några veckor, och många fler lärde sig läsa."),
}

# (name, min_logprob, min_wpm, max_dup_5gram): before, and what language.py uses now
BEFORE = ("before", -0.75, 60.0, 0.5)
NOW = ("now", L.LANG_MIN_LOGPROB, L.MIN_WPM, L.LANG_MAX_DUP_5GRAM)


def _say(root: Path, text: str, voice: str, wpm: int) -> np.ndarray:
    path = root / f"{voice}_{abs(hash(text)) % 9973}_{wpm}.wav"
    return decode_to_mono16k(espeak(text, path, wpm=wpm, voice=voice))


def _noisy(audio: np.ndarray, snr_db: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    power = float(np.mean(audio ** 2))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), audio.size)
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def corpus(root: Path) -> dict[str, tuple[np.ndarray, str]]:
    """name -> (audio, "en" | "other")."""
    clips: dict[str, tuple[np.ndarray, str]] = {}
    for voice, text in (("en-us", T.ENGLISH_PRESS_A), ("en-gb", T.ENGLISH_CELLS),
                        ("en-gb-scotland", T.ENGLISH_PRESS_B), ("en-029", T.ENGLISH_CELLS),
                        ("en-us-nyc", T.ENGLISH_PRESS_B), ("en-gb-x-rp", T.ENGLISH_PRESS_A)):
        clips[f"en:{voice}"] = (_say(root, text, voice, 150), "en")
    for voice in ("de", "fr", "es", "hi", "ru", "vi"):  # English read with their accents
        clips[f"en:accent-{voice}"] = (_say(root, T.ENGLISH_PRESS_A, voice, 140), "en")
    for wpm in (90, 120):
        clips[f"en:maths-{wpm}wpm"] = (_say(root, MATHS, "en-us", wpm), "en")
    clips["en:code-130wpm"] = (_say(root, CODE, "en-gb", 130), "en")
    base = clips["en:en-us"][0]
    for snr in (10, 3):
        clips[f"en:noise-{snr}dB"] = (_noisy(base, snr), "en")
    clips["en:slow-accent-de-100wpm"] = (_say(root, MATHS, "de", 100), "en")
    for name in ("arctic_a0007.wav", "history.mp3", "derivatives.m4a", "photosynthesis.webm"):
        clips[f"en:{name}"] = (decode_to_mono16k(DEMO / name), "en")
    for voice, text in (("de", T.GERMAN), ("fr-fr", T.FRENCH), ("es", T.SPANISH),
                        *((v, t) for v, t in OTHER.items())):
        clips[f"other:{voice}"] = (_say(root, text, voice, 150), "other")
    clips["other:de-slow"] = (_say(root, T.GERMAN, "de", 110), "other")
    return clips


def english(q: dict, rule: tuple) -> bool | None:
    """The English-only decision under one set of thresholds."""
    _, min_logprob, min_wpm, max_dup = rule
    return L.signals_say_english(q, min_logprob=min_logprob, min_wpm=min_wpm,
                                 max_dup_5gram=max_dup)


def main() -> None:
    from ytcorpus.engines import load_engine

    root = Path(tempfile.mkdtemp(prefix="bench-language-"))
    clips = corpus(root)
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    names = list(clips)
    transcripts = dict(zip(names, transcribe_arrays(engine, [clips[n][0] for n in names])))
    print(f"{'clip':28} {'speech':>6} {'wpm':>5} {'logprob':>7} {'dup5':>5} "
          f"{'en-words':>8}  before  now   now: language / flags")
    counts = {r[0]: {"false_rejections": 0, "false_acceptances": 0, "undecided": 0}
              for r in (BEFORE, NOW)}
    for name in names:
        label = clips[name][1]
        t = transcripts[name]
        q = t.quality or {}
        decisions = []
        for rule in (BEFORE, NOW):
            said = english(q, rule) if t.text else False
            decisions.append({True: "en", False: "not", None: "?"}[said])
            c = counts[rule[0]]
            if said is None:
                c["undecided"] += 1
            elif label == "en" and said is False:
                c["false_rejections"] += 1
            elif label == "other" and said is True:
                c["false_acceptances"] += 1
        flags = ",".join(f for f in t.flags if f in ("language_uncertain", "low_wpm",
                                                       "low_logprob", "no_speech"))
        print(f"{name:28} {q.get('speech_s', 0):6.1f} {q.get('wpm', 0):5.0f} "
              f"{q.get('avg_logprob') or 0:7.2f} {q.get('dup_5gram_share', 0):5.2f} "
              f"{q.get('english_word_share', 0):8.2f}  {decisions[0]:6}  {decisions[1]:4}  "
              f"{t.language} / {flags}  | {t.text[:50]!r}")
    n_en = sum(1 for n in names if clips[n][1] == "en")
    n_other = len(names) - n_en
    print(f"\n{n_en} English clips, {n_other} in other languages")
    for rule in (BEFORE, NOW):
        c = counts[rule[0]]
        print(f"{rule[0]:6} thresholds (logprob < {rule[1]}, wpm < {rule[2]}, dup5 > "
              f"{rule[3]}): false rejections {c['false_rejections']}/{n_en}, false "
              f"acceptances {c['false_acceptances']}/{n_other}, too short to tell "
              f"{c['undecided']}")
    print("before: a false rejection failed the row (wrong_language); now it is kept, "
          "flagged language_uncertain")


if __name__ == "__main__":
    main()
