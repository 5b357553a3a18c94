"""Shared fixtures: real queues on real databases (SQLite files, a PostgreSQL cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgserver import PostgresServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _own_pace_dir(tmp_path_factory):
    """Route pace and rests are shared by a host's processes (ytcorpus.pacing): tests keep
    theirs apart from the user's, and a test's rest never reaches another test's route."""
    os.environ["YTCORPUS_PACE_DIR"] = str(tmp_path_factory.mktemp("pace"))
    yield


@pytest.fixture(scope="session")
def pg_server():
    if os.environ.get("YTCORPUS_SKIP_POSTGRES"):
        pytest.skip("YTCORPUS_SKIP_POSTGRES is set")
    try:
        server = PostgresServer()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL here: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh, empty database address for each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "queue.db")
    return request.getfixturevalue("pg_server").new_database()


@pytest.fixture
def sqlite_db(tmp_path) -> str:
    return str(tmp_path / "queue.db")


@pytest.fixture
def queue(db_url):
    from ytcorpus.queue import open_queue

    q = open_queue(db_url, retry_base_s=30.0)
    yield q
    q.close()


def run_cli(*args: str, env: dict | None = None, timeout: float = 300,
            cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run `python -m ytcorpus ARGS` as a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ytcorpus", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """Generated audio in every container the tests use (made once per session)."""
    from media import FORMATS, tone, write_audio

    root = tmp_path_factory.mktemp("media")
    for ext in FORMATS:
        write_audio(root / f"tone3.{ext}", tone(3.0))
    write_audio(root / "tone10.webm", tone(10.0, freq=300))
    (root / "page.html").write_text("<html><body><p>No media here.</p></body></html>")
    (root / "two.html").write_text(
        '<html><body><audio src="tone3.mp3"></audio><audio src="tone3.ogg"></audio></body></html>')
    (root / "notes.txt").write_text("plain text, not audio\n" * 50)
    (root / "empty.mp3").write_bytes(b"")
    return root


@pytest.fixture(scope="session")
def media_server(media_dir):
    from media import MediaServer

    server = MediaServer(media_dir)
    yield server
    server.close()


DEMO = ROOT / "src" / "ytcorpus" / "demo_data"


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory):
    """(name, samples, reference text): the bundled clips (espeak-ng speech and one real
    CMU ARCTIC speaker) plus one espeak-ng clip made now, when espeak-ng is installed."""
    import json as _json

    from media import espeak
    from ytcorpus.audio import decode_to_mono16k

    refs = _json.loads((DEMO / "transcripts.json").read_text())
    clips = [(name, decode_to_mono16k(DEMO / name), text) for name, text in refs.items()]
    text = ("Water boils at one hundred degrees Celsius at sea level. At higher altitude the "
            "air pressure is lower, so water boils at a lower temperature.")
    try:
        path = espeak(text, tmp_path_factory.mktemp("speech") / "boiling.wav")
        clips.append(("boiling.wav", decode_to_mono16k(path), text))
    except RuntimeError:
        if os.environ.get("CI"):
            raise
    return clips


def wer(reference: str, hypothesis: str) -> float:
    import re

    import jiwer

    def norm(t: str) -> str:
        t = re.sub(r"[^a-z0-9' ]", " ", t.lower().replace("-", " "))
        return re.sub(r"\s+", " ", t).strip()

    return jiwer.wer(norm(reference), norm(hypothesis))
