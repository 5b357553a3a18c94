"""Export never loses data: shards are not overwritten unless asked, --incremental
continues from the manifest's high-water mark, loaders read the folder unfiltered."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from conftest import run_cli
from ytcorpus.output.export import export_rows
from ytcorpus.output.manifest import MANIFEST, high_water, read_manifest
from ytcorpus.models import Result
from ytcorpus.queue import open_queue


def _complete(q, ids):
    q.add(ids)
    claims = q.claim("w", len(ids))
    assert len(claims) == len(ids)
    q.complete_many("w", [(c.video_id, Result(f"text of {c.video_id}", duration_seconds=1.0,
                                              tokens=3)) for c in claims])


def _ids(n, start=0):
    return [f"v{i:010d}" for i in range(start, start + n)]


def _exported(folder):
    return [json.loads(line)["video_id"] for p in sorted(folder.glob("part-*"))
            for line in p.open()]


def test_existing_shards_are_refused_without_overwrite(tmp_path):
    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        _complete(q, _ids(5))
    assert run_cli("--db", db, "export", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.glob("part-*")}
    again = run_cli("--db", db, "export", str(out), "--since", "2999-01-01")
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    assert {p.name: p.read_bytes() for p in out.glob("part-*")} == before
    replaced = run_cli("--db", db, "export", str(out), "--overwrite", "--since", "2999-01-01")
    assert replaced.returncode == 0 and not list(out.glob("part-*"))


def test_incremental_takes_exactly_the_rows_completed_since(tmp_path):
    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        _complete(q, _ids(7))
        first = run_cli("--db", db, "export", str(out), "--incremental", "--shard-size", "5")
        assert first.returncode == 0, first.stderr
        assert high_water(read_manifest(out)) == 7
        _complete(q, _ids(4, 100))
        nothing = run_cli("--db", db, "export", str(out), "--incremental")
        assert nothing.returncode == 0
        second = run_cli("--db", db, "export", str(out), "--incremental", "--shard-size", "5")
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in out.glob("part-*")) == [
        "part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert sorted(_exported(out)) == sorted(_ids(7) + _ids(4, 100))
    manifest = read_manifest(out)
    assert manifest["rows"] == 11 and len(manifest["runs"]) == 3
    assert [s["rows"] for s in manifest["shards"]] == [5, 2, 4]


def test_rows_completed_during_an_export_are_in_the_next_one(tmp_path):
    """Rows queued first (low ids) complete while the export pages through the table: an
    id or one-second completed_at cursor would miss them; the completion number does not."""
    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        q.add(_ids(200, 1000))  # queued first, completed last
        _complete(q, _ids(300))
    started = threading.Event()

    def rows_while_writing(q_read):
        for k, row in enumerate(q_read.iter_completed(after_seq=0, page=50)):
            if k == 60:
                started.set()
                writer.join()  # the early rows complete mid-export
            yield row

    def write_more():
        started.wait()
        with open_queue(db) as w:
            for _ in range(10):
                claims = w.claim("w2", 20)
                w.complete_many("w2", [(c.video_id, Result("late", tokens=1))
                                       for c in claims])

    writer = threading.Thread(target=write_more)
    writer.start()
    with open_queue(db, read_only=True) as r:
        export_rows(rows_while_writing(r), str(out), previous={})
    first = _exported(out)
    with open_queue(db, read_only=True) as r:
        export_rows(r.iter_completed(after_seq=high_water(read_manifest(out))), str(out),
                    previous=read_manifest(out))
    every = _exported(out)
    assert len(every) == len(set(every)) == 500
    assert set(first) >= set(_ids(300))


def test_stray_shards_of_an_interrupted_export_are_not_duplicated(tmp_path):
    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        _complete(q, _ids(3))
    assert run_cli("--db", db, "export", str(out), "--incremental").returncode == 0
    with open_queue(db) as q:
        _complete(q, _ids(2, 50))
    (out / "part-00001.jsonl").write_text('{"video_id": "v0000000050"}\n')  # died here
    assert run_cli("--db", db, "export", str(out), "--incremental").returncode == 0
    assert sorted(_exported(out)) == sorted(_ids(3) + _ids(2, 50))


def test_incremental_needs_a_folder_and_a_manifest(tmp_path):
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        _complete(q, _ids(2))
    one = run_cli("--db", db, "export", str(tmp_path / "x.jsonl"), "--incremental")
    assert one.returncode == 1 and "folder" in one.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "part-00000.jsonl").write_text("{}\n")
    out = run_cli("--db", db, "export", str(bare), "--incremental")
    assert out.returncode == 1 and "no manifest" in out.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_loaders_read_the_folder_without_a_filter(tmp_path, fmt):
    pytest.importorskip("datasets")
    import datasets
    import pyarrow.dataset as pads

    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        _complete(q, _ids(6))
    r = run_cli("--db", db, "export", str(out), "--format", fmt, "--shard-size", "4")
    assert r.returncode == 0, r.stderr
    assert (out / MANIFEST).is_file()
    datasets.disable_progress_bars()
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(loaded) == 6 and "transcript" in loaded.column_names
    table = pads.dataset(str(out), format="parquet" if fmt == "parquet" else "json").to_table()
    assert table.num_rows == 6


def test_old_manifest_json_is_read_and_replaced(tmp_path):
    db, out = str(tmp_path / "q.db"), tmp_path / "corpus"
    with open_queue(db) as q:
        _complete(q, _ids(3))
    assert run_cli("--db", db, "export", str(out), "--incremental").returncode == 0
    (out / MANIFEST).rename(out / "manifest.json")  # as an older ytcorpus wrote it
    with open_queue(db) as q:
        _complete(q, _ids(1, 9))
    assert run_cli("--db", db, "export", str(out), "--incremental").returncode == 0
    assert not (out / "manifest.json").exists() and (out / MANIFEST).exists()
    assert sorted(_exported(out)) == sorted(_ids(3) + _ids(1, 9))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM videos WHERE completed_seq IS NULL "
                            "AND status = 'completed'").fetchone()[0] == 0
