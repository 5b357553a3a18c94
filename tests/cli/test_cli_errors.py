"""Every bad invocation ends in one line on stderr and a non-zero exit: no tracebacks."""

from __future__ import annotations

import pytest

from conftest import run_cli


@pytest.fixture
def junk(tmp_path):
    binary = tmp_path / "binary.dat"
    binary.write_bytes(bytes(range(256)) * 40)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio\n")
    return {"binary": str(binary), "not_audio": str(not_audio), "tmp": str(tmp_path)}


BAD = [
    # (argv with {placeholders}, extra env, text expected on stderr)
    (["--db", "postgresql://u:secret@[bad/db", "stats"], {}, "Invalid IPv6 URL"),
    (["--db", "postgresql://u:secret@localhost:abc/db", "stats"], {}, "Port"),
    (["--db", "postgresql://u:secret@127.0.0.1:1/db", "stats"], {}, "127.0.0.1"),
    (["--db", "{tmp}/no/such/dir/x.db", "stats"], {}, "database"),
    (["--db", "{tmp}/q.db", "add", "--from-file", "{binary}"], {}, "not UTF-8 text"),
    (["--db", "{tmp}/q.db", "add", "--from-file", "{tmp}/missing.txt"], {}, "missing.txt"),
    (["--db", "{tmp}/q.db", "config"], {"YTCORPUS_BATCH_SIZE": "0"}, "YTCORPUS_BATCH_SIZE"),
    (["--db", "{tmp}/q.db", "work"], {"YTCORPUS_BATCH_SIZE": "0"}, "must be more than 0"),
    (["transcribe", "{not_audio}"], {"YTCORPUS_BATCH_SIZE": "-1"}, "YTCORPUS_BATCH_SIZE"),
    (["--db", "{tmp}/q.db", "monitor", "--once"], {"YTCORPUS_INTERVAL": "0"}, "INTERVAL"),
    (["--db", "{tmp}/q.db", "config"], {"YTCORPUS_PREFETCH": "many"}, "whole number"),
    (["--db", "{tmp}/q.db", "config"], {"YTCORPUS_DEVICE": "gpu"}, "cuda:N"),
    (["--config", "{tmp}/missing.toml", "config"], {}, "does not exist"),
    (["--config", "{binary}", "config"], {}, "config file"),
    (["transcribe", "{tmp}/missing.wav"], {}, "missing.wav"),
    (["transcribe", "{not_audio}"], {}, "notes.wav"),
    (["transcribe", "--device", "cuda", "{not_audio}"], {}, "cuda"),
    (["--db", "{tmp}/q.db", "export", "{tmp}/out.parquet"], {}, "database"),
    (["--db", "{tmp}/q.db", "monitor", "--once", "--target", "lots"], {}, "--target"),
]


@pytest.mark.parametrize("argv,env,expected", BAD, ids=[" ".join(b[0][-2:]) for b in BAD])
def test_bad_invocation_is_one_line(junk, argv, env, expected):
    out = run_cli(*[a.format(**junk) for a in argv], env=env, timeout=120)
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert errors, out.stderr
    assert expected in out.stderr, out.stderr
    assert "secret" not in out.stderr and "Errno" not in out.stderr


def test_bad_setting_only_matters_where_used(junk):
    """YTCORPUS_BATCH_SIZE belongs to work/transcribe; `errors` still runs."""
    db = f"{junk['tmp']}/q.db"
    assert run_cli("--db", db, "init").returncode == 0
    out = run_cli("--db", db, "errors", env={"YTCORPUS_BATCH_SIZE": "0"})
    assert out.returncode == 0, out.stderr
    assert "no rows in error" in out.stdout
