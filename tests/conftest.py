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
# subprocesses that load test plugins (free_engine:..., fault_engines:...) find tests/, and
# still import the ytcorpus that this session imports
PLUGIN_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"),
                                                          os.environ.get("PYTHONPATH")]))}


@pytest.fixture(autouse=True, scope="session")
def _own_pace_dir(tmp_path_factory):
    """Route pace and rests are shared by a host's processes (ytcorpus.acquire.pacing): tests keep
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
    from ytcorpus.core.audio import decode_to_mono16k

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


_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1000000}


def numbers_to_digits(words: list[str]) -> list[str]:
    """Spelled-out English numbers as digits ("one hundred and five" -> "105"), as
    Whisper's English normaliser does, so that "100" and "one hundred" score the same."""
    out: list[str] = []
    total = current = None

    def flush():
        nonlocal total, current
        if current is not None or total is not None:
            out.append(str((total or 0) + (current or 0)))
        total = current = None

    for i, w in enumerate(words):
        in_number = current is not None or total is not None
        after_scale = (current or 0) % 100 == 0 and in_number and (current or total or 0) >= 100
        if w in _SMALL or w in _TENS:
            value = _SMALL.get(w, _TENS.get(w))
            if current is None and total is not None:
                current = value
            elif current is not None and (current % 100 == 0 or (
                    current % 10 == 0 and current % 100 >= 20 and value < 10)):
                current += value
            else:
                flush()
                current = value
        elif w in _SCALES and in_number:
            scale = _SCALES[w]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total = (total or 0) + (current or 1) * scale
                current = None
        elif w == "and" and after_scale and i + 1 < len(words) and (
                words[i + 1] in _SMALL or words[i + 1] in _TENS):
            continue
        else:
            flush()
            out.append(w)
    flush()
    return out


def wer(reference: str, hypothesis: str) -> float:
    import re

    import jiwer

    def norm(t: str) -> str:
        t = re.sub(r"[^a-z0-9' ]", " ", t.lower().replace("-", " "))
        return " ".join(numbers_to_digits(t.split()))

    return jiwer.wer(norm(reference), norm(hypothesis))
