"""Quality filters measured on a labelled corpus of real speech through the packaged
tiny.en model (CPU): espeak-ng lectures in English (two voices, two speeds), German,
Spanish, French, Italian, Portuguese and Dutch; the bundled clips; re-encoded trimmed
copies (PyAV: MP3, WebM/Opus, M4A/AAC); silence and a tone; plus three labelled
transcripts without audio (a song's chorus, a Whisper loop, stock phrases only).

Prints one line per clip (language decision, words per minute of speech, mean logprob,
flags, duplicate_of), then per `export --clean --language en` filter: rows and hours it
removed and its precision (removed rows labelled "drop" / removed rows); then the
MinHash similarity of labelled duplicate and non-duplicate pairs. `--pauses` prints the
segment gaps and VAD silences that chose the paragraph pause.

    python bench/quality.py [--pauses]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT / "src"), str(ROOT / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

import speech_texts as T  # noqa: E402
from media import espeak, tone, write_audio  # noqa: E402
from ytcorpus.work.pipeline import transcribe_arrays  # noqa: E402
from ytcorpus.core.audio import decode_to_mono16k  # noqa: E402
from ytcorpus.models import Result, Segment  # noqa: E402
from ytcorpus.quality import build_transcript, dedup  # noqa: E402
from ytcorpus.work.vad import speech_regions  # noqa: E402
from ytcorpus.output.clean import CleanFilter  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402
from ytcorpus.queue.quality import duplicate_clusters  # noqa: E402

SR = 16000
DEMO = ROOT / "src" / "ytcorpus" / "demo_data"


def corpus(root: Path) -> dict[str, tuple[np.ndarray, str]]:
    """name -> (audio, label). Labels: "en:<content>" (English speech of that text: rows
    sharing a content are duplicates of each other), "other" (another language), "none"
    (no speech)."""
    clips: dict[str, tuple[np.ndarray, str]] = {}
    english = {"press_a": T.ENGLISH_PRESS_A, "press_b": T.ENGLISH_PRESS_B,
               "cells": T.ENGLISH_CELLS}
    for wpm in (140, 170):  # the same text faster or by another voice: same content
        for name, text in english.items():
            clips[f"en-us_{name}_{wpm}"] = (_say(root, text, "en-us", wpm), f"en:{name}")
        clips[f"en-gb_cells_{wpm}"] = (_say(root, T.ENGLISH_CELLS, "en-gb", wpm), "en:cells")
        for voice, text in (("de", T.GERMAN), ("es", T.SPANISH), ("fr", T.FRENCH),
                            ("it", T.SPANISH), ("pt", T.SPANISH), ("nl", T.GERMAN)):
            clips[f"{voice}_{wpm}"] = (_say(root, text, voice, wpm), "other")
    for name in ("photosynthesis.webm", "derivatives.m4a", "arctic_a0007.wav"):
        clips[name] = (decode_to_mono16k(DEMO / name), f"en:{name}")
    # history.mp3 reads press_a's text in another voice
    clips["history.mp3"] = (decode_to_mono16k(DEMO / "history.mp3"), "en:press_a")
    a = clips["en-us_press_a_140"][0]
    b = clips["en-us_press_b_140"][0]
    for name, audio, ext, content in (
            ("copy_a_mp3_trim1.5", a[int(1.5 * SR):-SR], "mp3", "press_a"),
            ("copy_a_webm_trim2", a[2 * SR:], "webm", "press_a"),
            ("copy_a_m4a_trim1", a[SR:], "m4a", "press_a"),
            ("copy_b_webm_trim1.5", b[int(1.5 * SR):], "webm", "press_b")):
        clips[name] = (decode_to_mono16k(write_audio(root / f"{name}.{ext}", audio)),
                       f"en:{content}")
    clips["silence"] = (np.zeros(20 * SR, np.float32), "none")
    clips["tone"] = (decode_to_mono16k(write_audio(root / "tone.webm", tone(20.0))), "none")
    return clips


def synthetic() -> dict[str, tuple[list[Segment], float, str]]:
    """Labelled transcripts without audio (name -> segments, speech seconds, label): a
    song's chorus between verses (Gopher's duplicate lines), a Whisper loop over a music
    outro after a lecture (cut, then kept), stock phrases only."""
    rivers = ("Today we look at how rivers shape valleys over thousands of years. Water "
              "carries sand and stones downhill, and every flood cuts a little deeper into "
              "the rock. Where the ground is soft the valley grows wide. Where it is hard "
              "the river cuts a narrow gorge with steep walls. Next week we will visit one "
              "near the city, so bring boots and a notebook.")
    lecture = [s.strip() + "." for s in rivers.rstrip(".").split(". ")]
    chorus = "Oh we sail away tonight, over the silver sea."
    song = []
    for k in range(6):
        song += [f"Verse {k} line one of the ballad about sailors.", chorus, chorus,
                 f"Verse {k} line two, the harbour lights are low.", chorus]
    loop = lecture + ["I'll see you in the next video."] * 25
    stock = ["Thanks for watching!", "Please subscribe.", "Thank you.", "Bye."] * 8
    out = {}
    for name, lines, speech, label in (
            ("synthetic_song_chorus", song, 4.0 * len(song), "other"),
            ("synthetic_lecture_then_loop", loop, 4.0 * len(lecture), "en:rivers"),
            ("synthetic_stock_phrases", stock, 4.0 * len(stock), "none")):
        out[name] = ([Segment(4.0 * i, 4.0 * i + 3.6, text, avg_logprob=-0.3)
                      for i, text in enumerate(lines)], speech, label)
    return out


def _say(root: Path, text: str, voice: str, wpm: int) -> np.ndarray:
    return decode_to_mono16k(espeak(text, root / f"{voice}_{abs(hash(text)) % 997}_{wpm}.wav",
                                    wpm=wpm, voice=voice))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pauses", action="store_true")
    args = p.parse_args()
    from ytcorpus.engines import load_engine

    root = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    clips = corpus(root)
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    names = list(clips)
    transcripts = dict(zip(names, transcribe_arrays(engine, [clips[n][0] for n in names])))
    if args.pauses:
        return print_pauses(clips, transcripts)
    for name, (segments, speech_s, label) in synthetic().items():
        clips[name] = (np.zeros(0, np.float32), label)
        transcripts[name] = build_transcript(segments, segments[-1].end + 1, "en", speech_s)
        names.append(name)
    ids = {n: f"q{i:010d}" for i, n in enumerate(names)}
    with open_queue(str(root / "q.db")) as q:
        q.add([f"https://www.youtube.com/watch?v={ids[n]}" for n in names])
        q.claim("bench", n=len(names))
        for n in names:
            t = transcripts[n]
            q.complete("bench", ids[n], Result(
                transcript=t.text, segments=t.segments, duration_seconds=t.duration,
                language=t.language, model="tiny.en", flags=t.flags, quality=t.quality,
                language_source=t.language_source))
        clusters = duplicate_clusters(q)
        rows = {r["video_id"]: r for r in q.iter_completed()}
    print_rows(names, clips, transcripts, rows, ids)
    for language in ("en", None):
        print(f"\nexport --clean{' --language ' + language if language else ''}")
        print_filters(names, clips, rows, ids, CleanFilter(clusters, language=language))
    print_pairs(transcripts)


def print_rows(names, clips, transcripts, rows, ids) -> None:
    print(f"{'clip':22} {'label':5} {'lang':4} {'source':8} {'wpm':>6} {'logprob':>7} "
          f"{'dup5':>5}  flags / duplicate_of")
    for n in names:
        t, r = transcripts[n], rows[ids[n]]
        q = t.quality or {}
        dup = next((m for m, v in ids.items() if v == r["duplicate_of"]), "")
        print(f"{n:22} {clips[n][1]:5} {str(t.language):4} {str(t.language_source):8} "
              f"{q.get('wpm', 0):6.1f} {q.get('avg_logprob') or 0:7.2f} "
              f"{q.get('dup_5gram_share', 0):5.2f}  {','.join(t.flags)} {dup}")


def print_filters(names, clips, rows, ids, clean: CleanFilter) -> None:
    """Rows/hours each filter removed (the first filter that applies) and its precision:
    a removed row is right when it is not English speech, or (duplicate filter) when a
    kept row has the same content."""
    label = {ids[n]: clips[n][1] for n in names}
    hit: dict[str, list[str]] = {}
    for video_id, row in rows.items():
        hit.setdefault(clean.reason(row) or "kept", []).append(video_id)
    kept = hit.get("kept", [])
    kept_content = {label[v] for v in kept}
    print(f"{'filter':18} {'rows':>4} {'hours':>7} {'precision':>9}   "
          "carrying the flag (any order): rows, precision")
    for name in clean.removed:
        got = hit.get(name, [])
        hours = sum(rows[v]["duration_seconds"] or 0 for v in got) / 3600
        if name == "duplicate":
            right = sum(label[v] in kept_content for v in got)
        else:
            right = sum(not label[v].startswith("en:") for v in got)
        line = f"{name:18} {len(got):4} {hours:7.4f} {f'{right}/{len(got)}' if got else '-':>9}"
        if name in clean.flags:
            flagged = [v for v, r in rows.items() if name in (r["flags"] or [])]
            good = sum(not label[v].startswith("en:") for v in flagged)
            line += f"   {len(flagged):4}  {f'{good}/{len(flagged)}' if flagged else '-'}"
        print(line)
    contents = {x for x in label.values() if x.startswith("en:")}
    english = [v for v in kept if label[v].startswith("en:")]
    print(f"{'kept':18} {len(kept):4} "
          f"{sum(rows[v]['duration_seconds'] or 0 for v in kept) / 3600:7.4f}  "
          f"{len(english)} English, {len({label[v] for v in english})} of {len(contents)} "
          f"contents, {len(english) - len({label[v] for v in english})} duplicates missed")


def print_pairs(transcripts) -> None:
    def sim(x: str, y: str) -> float:
        a, b = (dedup.signature(transcripts[n].text) for n in (x, y))
        return dedup.similarity(a, b) if a is not None and b is not None else 0.0
    pairs = [("en-us_press_a_140", "copy_a_mp3_trim1.5", "duplicate"),
             ("en-us_press_a_140", "copy_a_webm_trim2", "duplicate"),
             ("en-us_press_a_140", "copy_a_m4a_trim1", "duplicate"),
             ("en-us_press_b_140", "copy_b_webm_trim1.5", "duplicate"),
             ("en-us_press_a_140", "en-us_press_a_170", "same text, faster"),
             ("en-us_press_a_140", "history.mp3", "same text, other voice"),
             ("en-us_cells_140", "en-gb_cells_140", "same text, other voice"),
             ("en-us_press_a_140", "en-us_press_b_140", "other lecture, same topic"),
             ("copy_a_mp3_trim1.5", "copy_b_webm_trim1.5", "other lecture, same topic"),
             ("en-us_press_a_140", "en-us_cells_140", "other topic")]
    print(f"\nMinHash Jaccard (threshold {dedup.THRESHOLD}, word {dedup.SHINGLE_WORDS}-grams)")
    for x, y, what in pairs:
        print(f"  {sim(x, y):5.2f}  {what:26} {x} / {y}")


def print_pauses(clips, transcripts) -> None:
    for n, t in transcripts.items():
        gaps = [round(b.start - a.end, 2) for a, b in zip(t.segments, t.segments[1:])]
        regions = speech_regions(clips[n][0])
        silences = [round((b["start"] - a["end"]) / SR, 2) for a, b in zip(regions, regions[1:])]
        print(f"{n:22} segment gaps > 0.5 s: {sorted(g for g in gaps if g > 0.5)}  "
              f"VAD silences > 0.5 s: {sorted(s for s in silences if s > 0.5)}")


if __name__ == "__main__":
    main()
