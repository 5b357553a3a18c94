"""`ytcorpus cluster` flags and errors that need no Ray cluster."""

from __future__ import annotations

import sys

import pytest

from conftest import run_cli
from ytcorpus.cluster import import_ray
from ytcorpus.core.errors import ConfigError
from ytcorpus.queue import open_queue


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r'pip install "ytcorpus\[cluster\]"'):
        import_ray()


def test_fetchers_need_a_stage_store_and_a_missing_database_is_refused(tmp_path):
    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add(["aaaaaaaaaaa"])
    r = run_cli("--db", db, "cluster", "--address", "127.0.0.1:1", "--fetchers", "2")
    assert r.returncode == 2 and "--stage" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("--db", str(tmp_path / "none.db"), "cluster", "--address", "127.0.0.1:1")
    assert r.returncode != 0 and "none.db" in r.stderr and "Traceback" not in r.stderr
    help_text = run_cli("cluster", "--help").stdout
    for flag in ("--address", "--workers-per-gpu", "--cpu-workers", "--fetchers",
                 "--stage-only", "--engine", "--exit-when-empty"):
        assert flag in help_text


def test_an_address_nothing_answers_on_fails_at_once(tmp_path):
    import socket
    import time

    db = str(tmp_path / "q.db")
    with open_queue(db) as q:
        q.add(["aaaaaaaaaaa"])
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        started = time.monotonic()
        r = run_cli("--db", db, "cluster", "--address", address, timeout=60)
        assert r.returncode == 1, r.stderr
        assert "cannot reach the Ray cluster" in r.stderr and "Traceback" not in r.stderr
        assert time.monotonic() - started < 30
    r = run_cli("--db", db, "cluster", "--address", "no-port-here")
    assert r.returncode == 1 and "HOST:PORT" in r.stderr
    with open_queue(db) as q:
        assert q.stats().pending == 1  # nothing claimed


def test_worker_flags_reach_the_actors(tmp_path):
    """Every flag `cluster` shares with `work` is handed to the actors' workers
    (--diarize was once parsed and dropped)."""
    from ytcorpus.cli.cluster import actor_flags
    from ytcorpus.cli.main import build_parser

    db = str(tmp_path / "q.db")
    open_queue(db).close()
    args = build_parser().parse_args(["--db", db, "cluster", "--diarize", "--language", "de",
                                      "--batch-size", "4"])
    flags = actor_flags(args)
    assert flags["diarize"] is True and flags["language"] == "de" and flags["batch_size"] == 4
    assert flags["db"] == db
