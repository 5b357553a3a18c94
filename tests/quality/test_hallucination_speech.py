"""Text only from words, end to end with the real tiny.en model on CPU: sound made now
(tests/wordless.py: espeak-ng babble of several voices, espeak-ng speech, the real
ARCTIC speaker, speech followed by babble) goes through `ytcorpus add`, `work` and
`export --clean`; the built-in engine and a plugin that returns per-segment scores as
dicts reach the same decisions; the transformers engine gives word probabilities too."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

import wordless
from conftest import run_cli, wer

pytestmark = pytest.mark.slow

# kind -> the clips of it (clean_00 says what speech_then_babble_00 says: export --clean
# would keep the longer of the two near-duplicates)
KINDS = {"babble": [0, 1], "clean": [1], "arctic": [0], "speech_then_babble": [0]}
SR = wordless.SR
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("wordless")
    out = []
    for kind, which in KINDS.items():
        made = wordless.clips(root / "cache", max(which) + 1, [kind])
        out += [made[k] for k in which]
    for c in out:
        wordless._write_wav(root / f"{c.name}.wav", c.audio)
    return root, out


def _work_and_export(tmp_path, clips, engine: str) -> tuple[dict, dict, dict]:
    root, items = clips
    db = str(tmp_path / "data.db")
    added = run_cli("--db", db, "add", *[str(root / f"{c.name}.wav") for c in items])
    assert added.returncode == 0, added.stderr
    path = os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)
    done = run_cli("--db", db, "work", "--device", "cpu", "--engine", engine, "--model",
                   "tiny.en", "--exit-when-empty", "--work-dir", str(tmp_path / "w"),
                   timeout=600, env={"PYTHONPATH": path})  # plugins: tests/ on the path
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "clean"
    exported = run_cli("--db", db, "export", str(out), "--clean")
    assert exported.returncode == 0, exported.stderr
    by_name = {c.name: c for c in items}
    kept = {}
    for part in sorted(out.glob("part-*.jsonl")):
        for line in part.read_text().splitlines():
            rec = json.loads(line)
            kept[rec["url"].rsplit("/", 1)[-1].removesuffix(".wav")] = rec
    manifest = json.loads((out / ".manifest.json").read_text())
    return by_name, kept, manifest


@pytest.mark.parametrize("engine", ["ctranslate2", "scored_engine:ScoredEngine"])
def test_babble_never_reaches_clean_real_speech_keeps_its_text(tmp_path, clips, engine):
    by_name, kept, manifest = _work_and_export(tmp_path, clips, engine)
    for name, clip in by_name.items():
        if clip.label == "wordless":
            assert name not in kept or not kept[name]["text"].strip(), kept.get(name)
        else:
            assert name in kept, (name, manifest["clean"]["removed"])
            assert wer(clip.text, kept[name]["text"]) <= 0.25, kept[name]["text"]
    assert "hallucination" in manifest["clean"]["filters"]
    assert "hallucination" in manifest["clean"]["thresholds"]


def test_speech_then_invented_text_keeps_the_speech_and_counts_the_cut(clips):
    """A video of two chunks, lecture then babble (the worker reassembles chunk results on
    the video's timeline the same way): the lecture's segments stay, what tiny.en wrote
    over the babble is cut and counted, and the row stays in export --clean."""
    from ytcorpus.engines import load_engine
    from ytcorpus.quality import build_transcript

    _, items = clips
    speech = next(c for c in items if c.kind == "clean")
    babble = next(c for c in items if c.name == "babble_01")
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=2)
    first, second = engine.transcribe_chunks([speech.audio, babble.audio])
    assert first and second, "tiny.en wrote nothing over the babble: nothing to cut"
    offset = speech.audio.size / SR
    shifted = [replace(s, start=s.start + offset, end=s.end + offset) for s in second]
    duration = offset + babble.audio.size / SR
    t = build_transcript(first + shifted, duration, "en", duration)
    assert t.segments == build_transcript(first, duration, "en", duration).segments
    assert t.quality["hallucination_cut"] >= len(second) - 1
    assert "hallucination_cut" in t.flags and "hallucination" not in t.flags
    assert wer(speech.text, t.text) <= 0.25, t.text


def test_transformers_engine_gives_word_probabilities(clips):
    from ytcorpus.engines import load_engine
    from ytcorpus.work.pipeline import transcribe_arrays

    _, items = clips
    clean = next(c for c in items if c.kind == "clean")
    engine = load_engine("transformers", "tiny.en", "cpu", batch_size=2)
    t = transcribe_arrays(engine, [clean.audio])[0]
    assert wer(clean.text, t.text) <= 0.25, t.text
    assert t.segments and all(s.mean_word_prob is not None for s in t.segments)
    assert t.quality["mean_word_prob"] > 0.7 and "hallucination" not in t.flags


def test_a_chunk_whose_greedy_decoding_loops_comes_back_as_words(tmp_path):
    """clean_21 (espeak-ng, clean): tiny.en's greedy decoding writes "The jjjjjjj..."
    (beam search too). The engine decodes a looped chunk again without repeated 3-grams:
    the words come back, and the row is not lost to the loop."""
    from faster_whisper.transcribe import get_compression_ratio

    from ytcorpus.engines import load_engine
    from ytcorpus.engines.ct2 import _loops

    clip = wordless.clips(tmp_path / "cache", 22, ["clean"])[21]
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    tokenizer = engine._tokenizer(None)
    feats = engine.prepare(clip.audio)
    _, greedy = engine.pipeline.generate_segment_batched(
        feats.mel[None], tokenizer, engine._run_options(detect=False))
    if not _loops(tokenizer, greedy[0]):
        pytest.skip("tiny.en does not loop on this clip on this machine")
    segments = engine.transcribe_chunks([clip.audio])[0]
    text = " ".join(s.text for s in segments)
    assert get_compression_ratio(text) < 2.4, text
    assert wer(clip.text, text) < 0.6, text
    assert engine.counts["looped"] == 1
    engine.second_decoding = False  # the fallback is not the second decoding: it stays
    again = " ".join(s.text for s in engine.transcribe_chunks([clip.audio])[0])
    assert get_compression_ratio(again) < 2.4, again


def test_second_decoding_gives_doubtful_segments_their_agreement(clips):
    """The second decoding (on by default): babble's doubtful chunks are decoded again;
    their segments carry the share of their words the other decoding wrote (low over
    babble), real speech keeps its words; --no-second-decoding leaves agreement out."""
    from ytcorpus.engines import load_engine

    _, items = clips
    babble = next(c for c in items if c.kind == "babble")
    clean = next(c for c in items if c.kind == "clean")
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    assert engine.second_decoding is True
    engine.second_decoding = False
    off = engine.transcribe_chunks([babble.audio[:SR * 30]])[0]
    assert all(s.agreement is None for s in off)
    engine.second_decoding = True
    on, speech = engine.transcribe_chunks([babble.audio[:SR * 30], clean.audio])
    assert engine.counts["doubtful"] >= 1
    assert any(s.agreement is not None and s.agreement < 0.5 for s in on), on
    assert wer(clean.text, " ".join(s.text for s in speech)) <= 0.25
