"""Quality decisions on real speech through the packaged tiny.en model: espeak-ng in
English, German, Spanish and French, a re-encoded and trimmed copy of a lecture (PyAV),
a different lecture on the same topic, silence and a tone."""

from __future__ import annotations

import pytest

from media import espeak, tone, write_audio
from speech_texts import ENGLISH_PRESS_A, ENGLISH_PRESS_B, FRENCH, GERMAN, SPANISH

pytestmark = pytest.mark.slow

SR = 16000
CLIPS = {  # name -> (voice, text)
    "en_a": ("en-us", ENGLISH_PRESS_A), "en_b": ("en-us", ENGLISH_PRESS_B),
    "de": ("de", GERMAN), "es": ("es", SPANISH), "fr": ("fr", FRENCH),
}


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> dict:
    """name -> (audio path, Transcript), transcribed once per session in one engine call."""
    import numpy as np

    from ytcorpus.core.audio import decode_to_mono16k
    from ytcorpus.engines import load_engine

    root = tmp_path_factory.mktemp("speech")
    paths = {name: espeak(text, root / f"{name}.wav", wpm=150, voice=voice)
             for name, (voice, text) in CLIPS.items()}
    original = decode_to_mono16k(paths["en_a"])
    # a re-upload: trimmed by 1.5 s at the start and 1 s at the end, re-encoded as MP3
    paths["en_a_copy"] = write_audio(root / "en_a_copy.mp3",
                                     original[int(1.5 * SR):-SR])
    # two paragraphs: lecture A, a 2 s pause, lecture B
    paths["two_paragraphs"] = write_audio(root / "two.wav", np.concatenate(
        [original, np.zeros(2 * SR, np.float32), decode_to_mono16k(paths["en_b"])]))
    paths["silence"] = write_audio(root / "silence.wav", np.zeros(20 * SR, dtype=np.float32))
    paths["tone"] = write_audio(root / "tone.webm", tone(20.0, freq=330))
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    names = list(paths)
    from ytcorpus.work.pipeline import transcribe_arrays
    transcripts = transcribe_arrays(engine, [decode_to_mono16k(paths[n]) for n in names])
    return {n: (paths[n], t) for n, t in zip(names, transcripts)}


def test_paragraph_breaks_at_the_long_pause_only(speech):
    from ytcorpus.core.audio import decode_to_mono16k
    from ytcorpus.quality import build_transcript
    from ytcorpus.work.vad import speech_regions

    for name, breaks in (("two_paragraphs", 1), ("en_a", 0), ("en_b", 0)):
        path, t = speech[name]
        regions = speech_regions(decode_to_mono16k(path))
        again = build_transcript(t.segments, t.duration, "en", t.quality["speech_s"],
                                 regions=regions)
        assert again.text.count("\n\n") == breaks, (name, again.text)
    first, second = _paragraphs(speech)
    assert "newspapers" in first and second.startswith("Today we study")  # at the pause


def _paragraphs(speech) -> list[str]:
    from ytcorpus.core.audio import decode_to_mono16k
    from ytcorpus.quality import build_transcript
    from ytcorpus.work.vad import speech_regions

    path, t = speech["two_paragraphs"]
    return build_transcript(t.segments, t.duration, "en", t.quality["speech_s"],
                            regions=speech_regions(decode_to_mono16k(path))).text.split("\n\n")


def test_english_speech_is_english_and_clean(speech):
    for name in ("en_a", "en_b", "en_a_copy"):
        t = speech[name][1]
        assert t.language == "en" and t.language_source == "signals", (name, t.quality)
        assert t.quality["wpm"] > 100 and not {"low_wpm", "low_logprob"} & set(t.flags)


@pytest.mark.parametrize("name", ["de", "es", "fr"])
def test_other_languages_through_an_english_only_model_are_not_english(speech, name):
    t = speech[name][1]
    assert t.language not in ("en", None) and t.language_source == "signals", t
    assert "language_uncertain" in t.flags  # flagged, never failed on signals alone


def test_silence_and_music_give_no_text(speech):
    for name in ("silence", "tone"):
        t = speech[name][1]
        assert t.text == "" and t.no_speech and "no_speech" in t.flags


def _complete_all(queue, speech, names) -> dict[str, str]:
    """Queue, claim and complete the named clips' transcripts; name -> video_id."""
    from ytcorpus.models import Result

    ids = {n: n.ljust(11, "x")[:11] for n in names}
    queue.add([f"https://www.youtube.com/watch?v={ids[n]}" for n in names])
    queue.claim("w", n=len(names) + 10)  # also any other pending rows: ours are among them
    for n in names:
        t = speech[n][1]
        queue.complete("w", ids[n], Result(
            transcript=t.text, segments=t.segments, duration_seconds=t.duration,
            language=t.language, flags=t.flags, quality=t.quality,
            language_source=t.language_source))
    return ids


def test_a_reencoded_trimmed_copy_is_a_duplicate_and_another_lecture_is_not(queue, speech):
    from ytcorpus.quality import dedup
    from ytcorpus.queue.quality import duplicates_of, quality_summary

    a, copy, b = (speech[n][1].text for n in ("en_a", "en_a_copy", "en_b"))
    assert dedup.similarity(dedup.signature(a), dedup.signature(copy)) >= dedup.THRESHOLD
    assert dedup.similarity(dedup.signature(a), dedup.signature(b)) < 0.1
    ids = _complete_all(queue, speech, ["en_a", "en_b", "en_a_copy", "de"])
    assert queue.get(ids["en_a_copy"])["duplicate_of"] == ids["en_a"]
    assert queue.get(ids["en_a"])["duplicate_of"] is None
    assert queue.get(ids["en_b"])["duplicate_of"] is None
    assert duplicates_of(queue, ids["en_a"]) == [ids["en_a_copy"]]
    assert duplicates_of(queue, ids["en_b"]) == []
    summary = quality_summary(queue)
    assert summary["duplicates"] == 1 and summary["languages"]["en"] == 3
    assert summary["languages"]["und"] == 1 and summary["language_sources"]["signals"] == 4


def test_stats_show_quality(tmp_path, speech):
    import json

    from conftest import run_cli
    from ytcorpus.queue import open_queue

    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        _complete_all(q, speech, ["en_a", "en_a_copy", "fr"])
    data = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert data["completed"] == 3 and data["quality"]["duplicates"] == 1
    assert data["quality"]["languages"] == {"en": 2, "und": 1}
    text = run_cli("--db", db, "stats").stdout
    assert "languages     en 2, und 1" in text and "duplicates    1" in text


def test_export_clean_keeps_english_once_and_counts_what_it_removed(tmp_path, speech):
    import json

    from conftest import run_cli
    from ytcorpus.queue import open_queue

    names = ["en_a", "en_b", "en_a_copy", "de", "es", "fr", "silence", "tone"]
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        ids = _complete_all(q, speech, names)
    out = tmp_path / "clean"
    done = run_cli("--db", db, "export", str(out), "--clean", "--language", "en")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "part-00000.jsonl").open()]
    assert sorted(r["id"] for r in records) == sorted([ids["en_a"], ids["en_b"]])
    assert all(r["text"] == r["transcript"] and r["quality"]["wpm"] > 100 for r in records)
    manifest = json.loads((out / ".manifest.json").read_text())
    removed = manifest["clean"]["removed"]
    assert removed["duplicate"]["rows"] == 1 and removed["no_text"]["rows"] >= 2
    assert removed["language"]["rows"] + removed["no_text"]["rows"] == 5  # de es fr, silences
    assert manifest["rows"] == 2 and manifest["ytcorpus_version"]
    assert manifest["clean"]["thresholds"]["gopher_repetition"]["dup_5gram_share"] == 0.15
    plain = run_cli("--db", db, "export", str(tmp_path / "all.jsonl"))
    with_text = 8 - removed["no_text"]["rows"]  # without --clean: every row with text, as before
    assert plain.returncode == 0 and f"exported {with_text} rows" in plain.stdout


def test_work_language_en_us_flags_other_languages_and_export_drops_them(
        tmp_path, speech, media_dir, media_server):
    """End to end: `ytcorpus work --language en-US` over served audio. en-US is en (before:
    every English row failed as wrong_language). German and French speech through the
    English-only model are flagged language_uncertain, not failed (signals alone never
    fail a row); `export --clean --language EN` ships only the English lecture."""
    import json
    import shutil

    from conftest import run_cli
    from ytcorpus.queue import open_queue

    urls = {}
    for name in ("en_a", "de", "fr"):
        served = media_dir / f"quality_{name}{speech[name][0].suffix}"
        shutil.copy(speech[name][0], served)
        urls[name] = media_server.url(served.name)
    db = str(tmp_path / "data.db")
    assert run_cli("--db", db, "add", *urls.values()).returncode == 0
    done = run_cli("--db", db, "work", "--device", "cpu", "--model", "tiny.en",
                   "--exit-when-empty", "--language", "en-US", "--work-dir",
                   str(tmp_path / "work"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open_queue(db) as q:
        rows = {r["url"]: r for r in q.iter_completed()}
    assert set(rows) == set(urls.values())  # nothing failed
    english = rows[urls["en_a"]]
    assert english["language"] == "en" and english["language_source"] == "signals"
    assert english["quality"]["wpm"] > 100 and "language_uncertain" not in english["flags"]
    for name in ("de", "fr"):
        assert "language_uncertain" in rows[urls[name]]["flags"], rows[urls[name]]
    out = tmp_path / "clean.jsonl"
    assert run_cli("--db", db, "export", str(out), "--clean", "--language", "EN"
                   ).returncode == 0
    assert [json.loads(line)["url"] for line in out.open()] == [urls["en_a"]]
    plain = tmp_path / "eng.jsonl"  # without --clean: the rows whose language is en
    assert run_cli("--db", db, "export", str(plain), "--language", "eng").returncode == 0
    assert [json.loads(line)["url"] for line in plain.open()] == [urls["en_a"]]


def _ids_by_url(q, urls: dict) -> dict:
    with q._read_tx() as cur:
        q._exec(cur, "SELECT video_id, url FROM videos")
        by_url = {r["url"]: r["video_id"] for r in cur.fetchall()}
    return {name: by_url[url] for name, url in urls.items()}


def test_migrating_to_postgres_keeps_duplicate_lookups(tmp_path, speech, pg_server):
    from conftest import run_cli
    from ytcorpus.queue import open_queue
    from ytcorpus.queue.quality import duplicates_of, quality_summary

    src = str(tmp_path / "data.db")
    with open_queue(src) as q:
        q.add(["https://www.youtube.com/watch?v=zzfirst0000"])  # shifts the ids on PostgreSQL
        ids = _complete_all(q, speech, ["en_a", "en_b", "fr"])
    url = pg_server.new_database()
    with open_queue(url) as q:
        q.add(["https://www.youtube.com/watch?v=pgonly00000"])
    out = run_cli("migrate", "--from", src, "--to", url)
    assert out.returncode == 0, out.stderr
    with open_queue(src) as q:
        flags = quality_summary(q)["flags"]
    with open_queue(url) as q:
        assert duplicates_of(q, ids["en_a"]) == [] and quality_summary(q)["flags"] == flags
        ids.update(_complete_all(q, speech, ["en_a_copy"]))  # a re-upload, after the move
        assert q.get(ids["en_a_copy"])["duplicate_of"] == ids["en_a"]
        assert duplicates_of(q, ids["en_a"]) == [ids["en_a_copy"]]
