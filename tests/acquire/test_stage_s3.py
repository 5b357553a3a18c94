"""Staged audio in object storage (S3 through moto's server mode on 127.0.0.1) and the
checks on staged copies: length and checksum verified on read, one name per staging, paths
confined to the store, --stage-only never downloads."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import PLUGIN_ENV, run_cli, wait_for
from ytcorpus.acquire.stage import StageCopyError, StageStore, confine
from ytcorpus.core.errors import NodeFault
from ytcorpus.queue import open_queue

pytest.importorskip("s3fs")
pytest.importorskip("moto")

NAMES = ["tone3.webm", "tone3.m4a", "tone3.mp3"]
PLUGIN = ["--device", "cpu", "--engine", "free_engine:FreeEngine", "--prepare-threads", "1"]


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """One moto server for the session; the standard AWS environment points at it."""
    from s3server import MotoServer

    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.close()


@pytest.fixture
def bucket(s3):
    """A fresh bucket per test: s3://<name>, and an s3fs filesystem to look into it."""
    import s3fs

    name = f"t{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(name)
    return f"s3://{name}", fs


def _env() -> dict:
    return PLUGIN_ENV  # tests/ on the path: the free_engine plugin


def _db(tmp_path, server, names) -> str:
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add([server.url(n) for n in names])
    return db


def _rows(db: str) -> list[dict]:
    with open_queue(db) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT video_id, status, attempts, crashes, staged_path, "
                     "duration_seconds, error_kind FROM videos ORDER BY id")
        return [dict(r) for r in cur.fetchall()]


def _objects(fs, url: str) -> list[str]:
    fs.invalidate_cache()
    return [p for p in fs.find(url.removeprefix("s3://")) if not p.endswith("/")]


def _fetch(db, stage, tmp_path, *extra, timeout=180):
    return run_cli("--db", db, "fetch", "--stage", stage, "--exit-when-empty", "--work-dir",
                   str(tmp_path / f"fetch-{uuid.uuid4().hex[:6]}"), *extra, env=_env(),
                   timeout=timeout)


def _work(db, stage, tmp_path, *extra):
    return run_cli("--db", db, "work", *PLUGIN, "--stage", stage, "--exit-when-empty",
                   "--work-dir", str(tmp_path / f"gpu-{uuid.uuid4().hex[:6]}"), *extra,
                   env=_env(), timeout=300)


def test_fetch_to_s3_then_stage_only_work_completes_offline(tmp_path, media_dir, bucket):
    from media import MediaServer

    url, fs = bucket
    stage = f"{url}/stage"
    server = MediaServer(media_dir)
    db = _db(tmp_path, server, NAMES)
    r = _fetch(db, stage, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = _rows(db)
    assert all(row["status"] == "pending" and row["staged_path"] for row in rows)
    assert len(_objects(fs, stage)) == len(NAMES)
    server.close()  # the GPU side never needs the source
    done = _work(db, stage, tmp_path, "--stage-only")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(db)
    assert [(r["status"], r["attempts"]) for r in rows] == [("completed", 0)] * len(NAMES)
    assert all(abs(r["duration_seconds"] - 3.0) < 0.2 for r in rows)
    assert _objects(fs, stage) == []  # deleted once stored
    for text in (r.stderr + done.stderr, open(db, "rb").read().decode("latin-1")):
        assert "testing-secret" not in text and os.environ["AWS_ENDPOINT_URL"] not in text


def _corrupt(fs, key: str, how: str) -> None:
    data = fs.cat_file(key)
    fs.pipe_file(key, {"truncated": data[:1000], "empty": b"",
                       "random": os.urandom(len(data))}[how])


def test_bad_staged_copies_are_released_uncharged_then_fetched_again(
        tmp_path, media_dir, bucket):
    """Truncated, empty and random staged objects: --stage-only releases each row
    uncharged and unstaged (nothing completed as silence, nothing downloaded); a worker
    that may download then completes them from the source."""
    from media import MediaServer

    url, fs = bucket
    stage = f"{url}/stage"
    server = MediaServer(media_dir)
    db = _db(tmp_path, server, NAMES)
    assert _fetch(db, stage, tmp_path).returncode == 0
    for row, how in zip(_rows(db), ("truncated", "empty", "random")):
        _corrupt(fs, f"{stage.removeprefix('s3://')}/{row['staged_path']}", how)
    hits = sum(server.hits.values())
    r = _work(db, stage, tmp_path, "--stage-only")
    assert r.returncode == 0, r.stderr[-3000:]
    assert sum(server.hits.values()) == hits  # --stage-only never downloads
    rows = _rows(db)
    assert [(x["status"], x["attempts"], x["crashes"], x["staged_path"]) for x in rows] == \
        [("pending", 0, 0, None)] * len(NAMES)
    assert _objects(fs, stage) == []  # the bad copies are gone
    for reason in ("has 1000 bytes", "has 0 bytes", "does not match its checksum"):
        assert reason in r.stderr
    again = _work(db, stage, tmp_path)  # may download: fetches them again
    assert again.returncode == 0, again.stderr[-3000:]
    rows = _rows(db)
    assert [(x["status"], x["attempts"]) for x in rows] == [("completed", 0)] * len(NAMES)
    assert all(abs(x["duration_seconds"] - 3.0) < 0.2 for x in rows)
    server.close()


class _Slow(SimpleHTTPRequestHandler):
    """Serves half a file, waits, then the rest: a download that takes a while."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        data = (self.directory_path / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "audio/webm")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        time.sleep(2.0)
        self.wfile.write(data[len(data) // 2:])


def test_a_fetcher_frozen_past_its_lease_only_removes_its_own_copy(
        tmp_path, media_dir, bucket):
    from pathlib import Path

    url, fs = bucket
    stage = f"{url}/stage"
    handler = type("H", (_Slow,), {"directory_path": Path(media_dir)})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(media_dir)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add([f"http://127.0.0.1:{httpd.server_address[1]}/tone3.webm"])
    late = subprocess.Popen(
        [sys.executable, "-m", "ytcorpus", "--db", db, "fetch", "--stage", stage,
         "--exit-when-empty", "--lease", "1", "--name", "late", "--work-dir",
         str(tmp_path / "late")], env={**os.environ, **_env()},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _rows(db)[0]["status"] == "processing", timeout=60, interval=0.05)
        for _ in range(50):  # frozen mid-download, past its 1 s lease; not while it holds
            late.send_signal(signal.SIGSTOP)  # SQLite's write lock (a heartbeat's moment)
            if _writable(db):
                break
            late.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        time.sleep(2.5)
        owner = _fetch(db, stage, tmp_path, "--name", "owner")
        assert owner.returncode == 0, owner.stderr[-2000:]
        [row] = _rows(db)
        assert row["staged_path"] and row["status"] == "pending"
        late.send_signal(signal.SIGCONT)
        _, err = late.communicate(timeout=60)
        assert late.returncode == 0, err[-2000:]
        assert "removed its own copy" in err
    finally:
        if late.poll() is None:
            late.send_signal(signal.SIGCONT)
            late.kill()
            late.wait()
        httpd.shutdown()
        httpd.server_close()
    [row2] = _rows(db)
    assert row2["staged_path"] == row["staged_path"]
    assert _objects(fs, stage) == [f"{stage.removeprefix('s3://')}/{row['staged_path']}"]
    done = _work(db, stage, tmp_path, "--stage-only")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _rows(db)[0]["status"] == "completed" and _objects(fs, stage) == []


def test_staged_paths_outside_the_store_are_refused(tmp_path, media_dir):
    for bad in ("../x.webm", "/etc/passwd", "a/../../x", "", "s3://b/k", "a//b", "./a"):
        with pytest.raises(StageCopyError):
            confine(bad)
    assert issubclass(StageCopyError, NodeFault)
    assert confine("ab/abc.webm") == "ab/abc.webm"
    store_dir = tmp_path / "stage"
    victim = tmp_path / "victim.webm"
    shutil.copy(media_dir / "tone3.webm", victim)
    StageStore(store_dir)
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add(["http://127.0.0.1:9/a.webm", "http://127.0.0.1:9/b.webm"])
        with q._write_tx() as cur:
            for vid, path in zip(_ids(q), ("../victim.webm", str(victim))):
                q._exec(cur, "UPDATE videos SET staged_path = ? WHERE video_id = ?",
                        (path, vid))
    r = _work(db, str(store_dir), tmp_path, "--stage-only")
    assert r.returncode == 0, r.stderr[-2000:]
    assert victim.exists() and victim.stat().st_size > 0  # neither read as audio nor deleted
    assert "outside the stage store" in r.stderr
    assert [(x["status"], x["attempts"], x["staged_path"]) for x in _rows(db)] == \
        [("pending", 0, None)] * 2


def _ids(q) -> list[str]:
    with q._read_tx() as cur:
        q._exec(cur, "SELECT video_id FROM videos ORDER BY id")
        return [r["video_id"] for r in cur.fetchall()]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_to_s3_loads_with_datasets(tmp_path, bucket, fmt):
    import datasets

    from ytcorpus.output.manifest import MANIFEST
    from ytcorpus.models import Result

    url, fs = bucket
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add([f"http://127.0.0.1:9/v{i}.webm" for i in range(5)])
        for c in q.claim("w", 5, 60):
            q.complete("w", c.video_id, Result(f"text of {c.video_id} here",
                                               duration_seconds=3.0, tokens=4))
    out = f"{url}/corpus"
    r = run_cli("--db", db, "export", out, "--format", fmt, "--shard-size", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    fs.invalidate_cache()
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(out.removeprefix("s3://")))
    ext = ".parquet" if fmt == "parquet" else ".jsonl"
    assert names == [MANIFEST] + [f"part-{i:05d}{ext}" for i in range(3)]
    again = run_cli("--db", db, "export", out, "--format", fmt)
    assert again.returncode != 0 and "--overwrite" in again.stderr  # shards never clobbered
    ds = datasets.load_dataset(fmt if fmt == "parquet" else "json",
                               data_files=f"{out}/*{ext}", split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert sorted(ds["text"]) == sorted(f"text of {v} here" for v in ds["id"])
    assert len(ds) == 5 and not list(tmp_path.glob("ytcorpus-export-*"))


def test_incremental_export_to_s3_adds_only_new_rows(tmp_path, bucket):
    import json

    from ytcorpus.models import Result

    url, fs = bucket
    db = str(tmp_path / "q.db")
    out = f"{url}/inc"

    def complete(ids):
        with open_queue(db) as q:
            q.add(ids)
            for c in q.claim("w", len(ids), 60):
                q.complete("w", c.video_id, Result(f"words of {c.video_id}",
                                                   duration_seconds=1.0, tokens=3))

    complete([f"a{i:010d}" for i in range(3)])
    assert run_cli("--db", db, "export", out, "--incremental").returncode == 0
    complete([f"b{i:010d}" for i in range(2)])
    r = run_cli("--db", db, "export", out, "--incremental")
    assert r.returncode == 0, r.stderr[-2000:]
    key = out.removeprefix("s3://")
    fs.invalidate_cache()
    manifest = json.loads(fs.cat_file(f"{key}/.manifest.json"))
    assert manifest["rows"] == 5 and [s["rows"] for s in manifest["shards"]] == [3, 2]
    second = fs.cat_file(f"{key}/{manifest['shards'][1]['file']}").decode().splitlines()
    assert sorted(json.loads(line)["id"] for line in second) == ["b0000000000", "b0000000001"]


def _writable(db: str) -> bool:
    """Can another process take SQLite's write lock now?"""
    import sqlite3

    con = sqlite3.connect(db, timeout=0.2)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()
