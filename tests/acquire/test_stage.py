"""The fetch fleet: download-only workers stage audio from a real HTTP server into a
stage folder; GPU-side readers then complete every row from the store alone."""

from __future__ import annotations

import json
import threading

from conftest import run_cli, wait_for
from ytcorpus.core.config import FetchConfig
from ytcorpus.acquire.ytdlp import Fetcher
from ytcorpus.acquire.fleet import FetchFleetWorker
from ytcorpus.models import Result
from ytcorpus.queue import open_queue
from ytcorpus.queue.staging import (download_totals, load_routes, mark_staged,
                                    save_routes, staged_backlog)
from ytcorpus.acquire.stage import StagedSource, StageStore, audio_seconds, parse_max_staged

NAMES = ["tone3.webm", "tone3.m4a", "tone3.mp3", "tone3.ogg"]


def test_staged_rows_are_claimed_apart_and_counted(queue, tmp_path, media_dir):
    queue.add(["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"])
    store = StageStore(tmp_path / "stage")
    [claim] = queue.claim("fetch", 1, 60, staged=False)
    src = tmp_path / f"{claim.video_id}.webm"
    src.write_bytes((media_dir / "tone3.webm").read_bytes())
    rel, size = store.put(src, claim.video_id)
    assert not src.exists() and store.path(rel).stat().st_size == size
    assert mark_staged(queue, "fetch", claim.video_id, staged_path=rel, seconds=3.0, size=size,
                       audio_format={"format_id": "251", "abr": 48})
    assert queue.get(claim.video_id)["status"] == "pending"  # uncharged, back for a GPU
    assert queue.get(claim.video_id)["attempts"] == 0
    assert staged_backlog(queue) == (1, 3.0, size)
    save_routes(queue, "fetch", [{"route": "direct", "state": "resting", "success": 2,
                                  "rate_limited": 1, "bot_check": 0, "failures": 0,
                                  "rest_until": 4e9, "last_error": "429"}])
    assert [(r["route"], r["state"], r["rate_limited"]) for r in load_routes(queue)] == [
        ("direct", "resting", 1)]
    # the fetch side never takes a staged row; the GPU side takes it first
    others = queue.claim("fetch", 5, 60, staged=False)
    assert claim.video_id not in {c.video_id for c in others}
    queue.release("fetch", [c.video_id for c in others])
    gpu = StagedSource(tmp_path / "stage", queue, "gpu", download_fallback=False)
    [staged] = gpu.claim(5, 60)
    assert staged.video_id == claim.video_id and staged.staged_path == rel
    got = gpu.fetch(staged)
    assert got.path == store.path(rel) and not got.owned and got.audio_bytes == size
    got.cleanup()  # the worker's temp cleanup leaves staged audio alone
    assert got.path.exists()
    assert queue.complete("gpu", staged.video_id,
                          Result("hello", duration_seconds=3.0, audio_bytes=size,
                                 audio_format={"format_id": "251"}))
    assert gpu.sweep() == 1 and not got.path.exists()  # deleted once stored
    assert staged_backlog(queue) == (0, 0.0, 0)
    totals = download_totals(queue, since=0)
    assert totals["bytes"] == size and totals["staged_videos"] == 1
    row = queue.get(staged.video_id)
    assert row["audio_bytes"] == size and json.loads(row["audio_format"])["format_id"] == "251"


def test_max_staged_parses_hours_and_sizes():
    assert parse_max_staged("10h") == (36000.0, None)
    assert parse_max_staged("90m") == (5400.0, None)
    assert parse_max_staged("50GB") == (None, 50 * 1024 ** 3)
    assert parse_max_staged(None) == (None, None)


def _db_with(tmp_path, media_server, names):
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add([media_server.url(n) for n in names])
    return db


def test_fetch_command_stages_rows_and_work_side_completes_them_offline(
        tmp_path, media_dir):
    from media import MediaServer

    server = MediaServer(media_dir)
    db = _db_with(tmp_path, server, NAMES)
    stage = tmp_path / "stage"
    r = run_cli("--db", db, "fetch", "--stage", str(stage), "--exit-when-empty",
                "--work-dir", str(tmp_path / "work"), "--download-threads", "2")
    assert r.returncode == 0, r.stderr
    with open_queue(db) as q:
        rows = [q.get(c) for c in _ids(q)]
        assert all(row["status"] == "pending" and row["staged_path"] for row in rows)
        assert all(abs(row["staged_seconds"] - 3.0) < 0.2 for row in rows)
        assert [r["route"] for r in load_routes(q)] == ["direct"]
        assert load_routes(q)[0]["success"] == len(NAMES)
    assert not list((tmp_path / "work").iterdir())
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert stats["staged_videos"] == len(NAMES) and stats["staged_hours"] > 0
    assert stats["audio_bytes_downloaded"] > 0

    server.close()  # the GPU side needs no access to the source
    with open_queue(db) as q:
        gpu = StagedSource(stage, q, "gpu", download_fallback=False)
        claims = gpu.claim(10, 60)
        assert len(claims) == len(NAMES)
        for c in claims:
            got = gpu.fetch(c)
            seconds = audio_seconds(got.path)
            assert q.complete("gpu", c.video_id, Result("t", duration_seconds=seconds,
                                                        audio_bytes=got.audio_bytes))
        assert gpu.sweep() == len(NAMES)
        assert q.stats().completed == len(NAMES)
    assert not [p for p in stage.rglob("*") if p.is_file()]


def _ids(q):
    with q._read_tx() as cur:
        cur.execute("SELECT video_id FROM videos ORDER BY id")
        return [r["video_id"] for r in cur.fetchall()]


def test_backlog_limit_pauses_fetch_and_it_resumes_below(tmp_path, media_server):
    db = _db_with(tmp_path, media_server, NAMES)
    q = open_queue(db)
    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path / "work"), retries=0))
    worker = FetchFleetWorker(q, fetcher, StageStore(tmp_path / "stage"), name="f", threads=1,
                              lease=60, exit_when_empty=True, poll_s=0.2, max_staged="5s")
    worker.backlog.every_s = 0
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    wait_for(lambda: worker.paused)
    assert worker.staged == 2  # 2 x 3 s passed the 5 s limit: no third download
    assert staged_backlog(q)[0] == 2
    gpu = StagedSource(tmp_path / "stage", q, "gpu", download_fallback=False)
    for c in gpu.claim(10, 60):  # the GPU side drains the backlog
        q.complete("gpu", c.video_id, Result("t", duration_seconds=3.0))
    runner.join(60)
    assert not runner.is_alive() and worker.staged == len(NAMES)
    q.close()


def test_work_with_stage_completes_every_row_from_the_store_alone(tmp_path, media_dir):
    """Acceptance (issue 14): `fetch` stages rows from a local HTTP server; the server is
    stopped; `work --stage DIR` completes every row from the store; the store is emptied."""
    import shutil

    from conftest import DEMO, wer
    from media import MediaServer

    root = tmp_path / "site"
    root.mkdir()
    names = ["photosynthesis.webm", "derivatives.m4a", "arctic_a0007.wav"]
    for name in names:
        shutil.copy(DEMO / name, root / name)
    server = MediaServer(root)
    db = _db_with(tmp_path, server, names)
    stage = tmp_path / "stage"
    fetched = run_cli("--db", db, "fetch", "--stage", str(stage), "--exit-when-empty",
                      "--work-dir", str(tmp_path / "fetchwork"))
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    server.close()
    done = run_cli("--db", db, "work", "--device", "cpu", "--model", "tiny.en", "--stage",
                   str(stage), "--stage-only", "--exit-when-empty", "--work-dir",
                   str(tmp_path / "gpuwork"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    refs = json.loads((DEMO / "transcripts.json").read_text())
    with open_queue(db) as q:
        rows = {r["url"].rsplit("/", 1)[1]: r for r in (q.get(v) for v in _ids(q))}
        assert q.stats().completed == len(names)
    for name in names:
        row = rows[name]
        assert row["status"] == "completed" and row["attempts"] == 0
        assert wer(refs[name], row["transcript"]) <= 0.25
        assert row["audio_bytes"] == (root / name).stat().st_size
    assert not [p for p in stage.rglob("*") if p.is_file()]  # deleted once stored
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    assert stats["staged_videos"] == 0 and stats["download_rate"]["last_1h"]["videos"] == 3
    assert stats["mb_per_audio_hour"] > 0


def test_fetch_releases_a_429_uncharged_and_exits_75_when_every_route_rests(
        tmp_path, media_server):
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add([media_server.url("tone3.webm", "flaky429") + f"?n={i}" for i in range(3)])
    env = {"YTCORPUS_PACE_HOSTS": "127.0.0.1", "YTCORPUS_DOWNLOADS_PER_HOUR": "0",
           "YTCORPUS_PACE_DIR": str(tmp_path / "pace")}  # its rest stays with this test
    r = run_cli("--db", db, "fetch", "--stage", str(tmp_path / "stage"), "--exit-when-empty",
                "--download-threads", "1", "--work-dir", str(tmp_path / "work"), env=env)
    assert r.returncode == 75, r.stderr[-2000:]
    with open_queue(db) as q:
        s = q.stats()
        assert (s.pending, s.error) == (3, 0)
        rows = [q.get(v) for v in _ids(q)]
        assert all(row["attempts"] == 0 and not row["staged_path"] for row in rows)
        [route] = load_routes(q)
        assert (route["state"], route["rate_limited"]) == ("resting", 1)
