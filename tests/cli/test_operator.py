"""Operator's tools: errors, requeue --dry-run, export - (stdout), typed Parquet."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from ytcorpus.core.errors import PermanentError
from ytcorpus.models import Result
from ytcorpus.queue import open_queue


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "data.db")
    with open_queue(path) as q:
        q.add([f"https://youtu.be/aaaaaaaaaa{i}" for i in range(6)])
        claims = q.claim("w", 6, lease_s=0.01)
        q.complete_many("w", [(c.video_id, Result(f"text number {i}", [
            {"start": 0.0, "end": 1.5, "text": f"text number {i}"}], duration_seconds=1.5,
            processing_time_seconds=0.1, tokens=3)) for i, c in enumerate(claims[:3])])
        q.fail("w", claims[3].video_id, PermanentError("Private video. Sign in", kind="private"))
        q.fail("w", claims[4].video_id,
               PermanentError("Video unavailable\nremoved", kind="unavailable"))
        # claims[5] keeps its (expired) lease: a stale row
    return path


def test_errors_lists_rows_with_reasons(db):
    out = run_cli("--db", db, "errors")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["KIND", "TRIES"] and len(lines) == 3
    assert any("private" in x and "youtube.com/watch?v=aaaaaaaaaa3" in x
               and "Private video. Sign in" in x for x in lines)
    rows = json.loads(run_cli("--db", db, "errors", "--kind", "unavailable", "--json").stdout)
    assert rows == [{"video_id": "aaaaaaaaaa4", "url": rows[0]["url"], "kind": "unavailable",
                     "attempts": rows[0]["attempts"], "message": "Video unavailable\nremoved"}]
    assert len(json.loads(run_cli("--db", db, "errors", "--limit", "1", "--json").stdout)) == 1
    assert "no rows in error" in run_cli("--db", db, "errors", "--kind", "network").stdout


def test_requeue_dry_run_changes_nothing(db):
    before = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    out = run_cli("--db", db, "requeue", "--errors", "--stale", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would return stale leases to pending: 1" in out.stdout
    assert "would requeue errors: 2 (private 1, unavailable 1)" in out.stdout
    after = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert {k: after[k] for k in ("pending", "processing", "error")} == \
        {k: before[k] for k in ("pending", "processing", "error")}
    out = run_cli("--db", db, "requeue", "--errors", "private")
    assert "errors requeued (private): 1" in out.stdout


def test_export_dash_writes_jsonl_to_stdout(db, tmp_path):
    out = run_cli("--db", db, "export", "-", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["transcript"] for r in records] == [f"text number {i}" for i in range(3)]
    assert not (tmp_path / "-").exists()
    assert "exported 3 rows" in out.stderr
    bad = run_cli("--db", db, "export", "-", "--format", "parquet", cwd=tmp_path)
    assert bad.returncode == 2 and "JSONL only" in bad.stderr


def test_parquet_types_and_metadata(db, tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "out.parquet"
    assert run_cli("--db", db, "export", str(path)).returncode == 0
    table = pq.read_table(path)
    assert pa.types.is_timestamp(table.schema.field("completed_at").type)
    assert table.schema.field("completed_at").type.tz == "UTC"
    assert table.schema.field("channel").type == pa.string()  # all null, still a string
    assert b"ytcorpus.version" in table.schema.metadata
    frame = pd.read_parquet(path)
    assert str(frame["completed_at"].dtype).startswith("datetime64")
    assert frame["channel"].isna().all() and not pd.api.types.is_float_dtype(frame["channel"])
    assert frame["tokens"].tolist() == [3, 3, 3]


def test_export_dash_into_a_closed_pipe_is_quiet(db, tmp_path):
    import subprocess
    import sys

    with open_queue(db) as q:  # enough rows to outlast the pipe buffer
        q.add([f"bbbbbbb{i:04d}" for i in range(500)])
        claims = q.claim("w2", 500)
        q.complete_many("w2", [(c.video_id, Result("words " * 100, duration_seconds=1.0,
                                                   tokens=100)) for c in claims])
    proc = subprocess.run(f"{sys.executable} -m ytcorpus --db {db} export - | head -n 1",
                          shell=True, capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(proc.stdout)["video_id"]
    assert proc.stderr == "", proc.stderr
