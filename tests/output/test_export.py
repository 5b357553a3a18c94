"""Export round trips (written, read back with `datasets`, equal to the database),
shards and manifest, flat memory, and token counts."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from conftest import run_cli
from ytcorpus.output.export import export_rows
from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue
from ytcorpus.core.tokens import count_tokens, count_tokens_batch


def _fill(db: str, n: int, text_len: int = 200) -> None:
    with open_queue(db) as q:
        q.add([Video(video_id=f"v{i:010d}", url=f"https://www.youtube.com/watch?v=v{i:010d}",
                     title=f"Lecture {i}", channel="MIT OpenCourseWare",
                     license="Creative Commons Attribution license (reuse allowed)")
               for i in range(n)], source="catalog:physics")
        while claims := q.claim("w", 500):
            q.complete_many("w", [(c.video_id, Result(
                transcript=(f"lecture {c.video_id} " + "energy is conserved " * text_len
                            )[:text_len],
                segments=[{"start": 0, "end": 1.5, "text": "lecture"},
                          {"start": 1.5, "end": 3.0, "text": c.video_id}],
                duration_seconds=60.0, processing_time_seconds=2.0,
                language="en" if int(c.video_id[1:]) % 2 == 0 else "de", model="tiny.en",
                tokens=count_tokens(c.video_id) + 10)) for c in claims])


FORMATS = [("jsonl", "json"), ("jsonl.zst", "json"), ("parquet", "parquet")]


@pytest.mark.parametrize("fmt,loader", FORMATS)
def test_round_trip_through_datasets_equals_the_database(tmp_path, fmt, loader, monkeypatch):
    from datasets import load_dataset

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    db = str(tmp_path / "data.db")
    _fill(db, 25)
    out = tmp_path / f"corpus.{fmt}"
    r = run_cli("--db", db, "export", str(out))
    assert r.returncode == 0, r.stderr
    assert "exported 25 rows" in r.stdout
    ds = load_dataset(loader, data_files=str(out), split="train",
                      cache_dir=str(tmp_path / "cache"))
    with open_queue(db) as q:
        expected = list(q.iter_completed())
    assert len(ds) == 25
    for got, row in zip(ds, expected):
        for key in ("video_id", "title", "transcript", "duration_seconds", "speed_ratio",
                    "source", "url", "channel", "license", "language", "tokens", "model"):
            assert got[key] == row[key], key
        stamp = got["completed_at"]  # the json loader parses ISO 8601 into datetime
        stamp = (stamp.strftime("%Y-%m-%d %H:%M:%S") if hasattr(stamp, "strftime")
                 else stamp.replace("T", " ").rstrip("Z"))
        assert stamp == row["completed_at"]
        assert got["segments"] == row["segments"]


def test_folder_export_shards_and_manifest(tmp_path):
    db = str(tmp_path / "data.db")
    _fill(db, 23)
    out = tmp_path / "corpus"
    r = run_cli("--db", db, "export", str(out), "--format", "jsonl", "--shard-size", "10")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [".manifest.json", "part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    manifest = json.loads((out / ".manifest.json").read_text())
    assert manifest["rows"] == 23 and [s["rows"] for s in manifest["shards"]] == [10, 10, 3]
    lines = [json.loads(line) for p in sorted(out.glob("part-*")) for line in p.open()]
    assert len(lines) == 23 and len({r["video_id"] for r in lines}) == 23
    assert manifest["tokens"] == sum(r["tokens"] for r in lines)
    assert manifest["tokenizer"]


def test_filters_since_language_min_tokens(tmp_path):
    db = str(tmp_path / "data.db")
    _fill(db, 10)
    out = tmp_path / "en.jsonl"
    assert run_cli("--db", db, "export", str(out), "--language", "en").returncode == 0
    assert {json.loads(line)["language"] for line in out.open()} == {"en"}
    assert len(out.read_text().splitlines()) == 5
    assert run_cli("--db", db, "export", str(out), "--since", "2999-01-01").returncode == 0
    assert out.read_text() == ""
    assert run_cli("--db", db, "export", str(out), "--min-tokens", "1000").returncode == 0
    assert out.read_text() == ""


def test_bad_arguments_are_clear_errors(tmp_path):
    db = str(tmp_path / "data.db")
    _fill(db, 2)
    r = run_cli("--db", db, "export", str(tmp_path / "x.jsonl"), "--format", "parquet")
    assert r.returncode == 1 and "--format" in r.stderr
    r = run_cli("--db", db, "export", str(tmp_path / "d"), "--shard-size", "lots")
    assert r.returncode == 1 and "shard-size" in r.stderr
    r = run_cli("--db", db, "export", str(tmp_path / "x.jsonl"), "--since", "yesterday")
    assert r.returncode == 1 and "since" in r.stderr


def test_no_speech_rows_are_not_exported(tmp_path):
    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
        a, b = q.claim("w", 2)
        q.complete("w", a.video_id, Result("", flags=["no_speech"], duration_seconds=20))
        q.complete("w", b.video_id, Result("words", duration_seconds=2))
        manifest = export_rows(q.iter_completed(), str(tmp_path / "o.jsonl"))
    assert manifest["rows"] == 1 and manifest["skipped_empty"] == 1


def test_quality_flags_filter(tmp_path):
    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
        a, b = q.claim("w", 2)
        q.complete("w", a.video_id, Result("loop loop", flags=["repetition_cut"]))
        q.complete("w", b.video_id, Result("clean text"))
    out = tmp_path / "o.jsonl"
    r = run_cli("--db", db, "export", str(out), "--exclude-flags",
                "repetition_cut,high_compression")
    assert r.returncode == 0 and "exported 1 rows" in r.stdout
    assert json.loads(out.read_text())["transcript"] == "clean text"


@pytest.mark.slow
def test_memory_stays_flat_on_200k_rows(tmp_path):
    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add(Video(video_id=f"m{i:010d}", url="u") for i in range(200_000))
        with q._write_tx() as cur:  # fast fill: the export path is what is measured
            cur.execute("UPDATE videos SET status='completed', transcript=hex(randomblob(500)),"
                        " segments='[]', tokens=100, completed_at='2026-01-01 00:00:00'")
        tracemalloc.start()
        manifest = export_rows(q.iter_completed(), str(tmp_path / "big"), "jsonl.zst",
                               shard_size="50000")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert manifest["rows"] == 200_000 and len(manifest["shards"]) == 4
    assert peak < 30 * 1024 * 1024, peak  # 200k x 1 KB = 200 MB of text went through


def test_token_counts_match_the_tokenizer():
    from tokenizers import Tokenizer

    from ytcorpus.core.tokens import packaged_model_dir

    tok = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
    samples = ["Hello world.", "Photosynthesis turns light into chemical energy.", "",
               "Die Ableitung misst, wie schnell sich eine Funktion ändert."]
    expected = [len(tok.encode(s, add_special_tokens=False).ids) for s in samples]
    assert [count_tokens(s) for s in samples] == expected
    assert count_tokens_batch(samples) == expected
    assert expected[0] == 3  # "Hello", " world", "."
