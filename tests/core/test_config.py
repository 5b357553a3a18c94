"""Settings: defaults < ytcorpus.toml < YTCORPUS_* < flags, each checked like its flag."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from ytcorpus.core import config
from ytcorpus.core.config import FetchConfig, WorkerConfig, build, settings
from ytcorpus.core.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("YTCORPUS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config.use_config_file(None)
    config._file_cache.clear()
    yield tmp_path
    config.use_config_file(None)


def test_precedence_defaults_file_env_flags(clean_env, monkeypatch):
    (clean_env / "ytcorpus.toml").write_text(
        "[work]\nbatch_size = 8\nprefetch = 4\nlease = 120\n"
        "[fetch]\nproxies = ['socks5://a:1', 'socks5://b:2']\n")
    monkeypatch.setenv("YTCORPUS_PREFETCH", "6")
    s = settings(WorkerConfig, lease=30.0)
    assert s["download_threads"] == (2, "default")
    assert s["batch_size"] == (8, "ytcorpus.toml [work]")
    assert s["prefetch"] == (6, "env YTCORPUS_PREFETCH")
    assert s["lease"] == (30.0, "flag")
    assert build(FetchConfig).proxies == ("socks5://a:1", "socks5://b:2")


@pytest.mark.parametrize("env,value,message", [
    ("YTCORPUS_BATCH_SIZE", "0", "must be more than 0"),
    ("YTCORPUS_BATCH_SIZE", "-3", "must be more than 0"),
    ("YTCORPUS_BATCH_SIZE", "8.5", "whole number"),
    ("YTCORPUS_LEASE", "soon", "a number"),
    ("YTCORPUS_MAX_VIDEOS", "-1", "0 or more"),
    ("YTCORPUS_EXIT_WHEN_EMPTY", "maybe", "true or false"),
    ("YTCORPUS_DEVICE", "tpu", "cuda:N"),
    ("YTCORPUS_ENGINE", "whisper.cpp", "ctranslate2"),
])
def test_environment_values_are_checked_like_flags(clean_env, monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        build(WorkerConfig)
    assert env in str(err.value) and message in str(err.value)


def test_file_values_are_checked_and_name_the_file(clean_env):
    (clean_env / "ytcorpus.toml").write_text("[work]\nbatch_size = 0\n")
    with pytest.raises(ConfigError, match=r"ytcorpus.toml \[work\] batch_size.*more than 0"):
        build(WorkerConfig)
    (clean_env / "ytcorpus.toml").write_text("[work]\nbatch_size = 'eight'\n")
    config._file_cache.clear()
    with pytest.raises(ConfigError, match="whole number"):
        build(WorkerConfig)


def test_unknown_keys_and_variables_are_reported(clean_env, monkeypatch):
    (clean_env / "ytcorpus.toml").write_text(
        "[work]\nbatch_sise = 8\n[wrok]\nx = 1\n[fetch]\nretries = 2\n")
    monkeypatch.setenv("YTCORPUS_BACTH_SIZE", "4")
    from ytcorpus.cli.config import unknown_settings

    warnings = "\n".join(unknown_settings())
    assert "YTCORPUS_BACTH_SIZE" in warnings
    assert "'batch_sise' in [work]" in warnings
    assert "'wrok'" in warnings
    assert "retries" not in warnings


def test_config_command_shows_sources_and_masks_secrets(tmp_path):
    (tmp_path / "prod.toml").write_text(
        'db = "postgresql://corpus:hunter2@db-host/corpus"\n'
        "[work]\nbatch_size = 8\n"
        "[fetch]\ncookies = 'cookies.txt'\nproxies = ['http://bob:pw123@10.0.0.2:3128']\n")
    env = {"YTCORPUS_PREFETCH": "5", "YTCORPUS_TYPO": "1", "YTCORPUS_DB": ""}
    out = run_cli("--config", str(tmp_path / "prod.toml"), "config", "--json", env=env,
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    work, fetch = data["settings"]["work"], data["settings"]["fetch"]
    assert work["batch_size"] == {"value": 8, "source": f"{tmp_path / 'prod.toml'} [work]"}
    assert work["prefetch"] == {"value": 5, "source": "env YTCORPUS_PREFETCH"}
    assert work["lease"]["source"] == "default"
    assert fetch["cookies"]["value"] == "***"
    assert fetch["proxies"]["value"] == ["http://bob:***@10.0.0.2:3128"]
    assert data["settings"][""]["db"]["value"] == "postgresql://corpus:***@db-host/corpus"
    assert "hunter2" not in out.stdout and "pw123" not in out.stdout
    assert any("YTCORPUS_TYPO" in w for w in data["warnings"])
    text = run_cli("--config", str(tmp_path / "prod.toml"), "config", env=env, cwd=tmp_path)
    assert "batch_size" in text.stdout and "prod.toml [work]" in text.stdout
    assert "YTCORPUS_TYPO" in text.stderr and "hunter2" not in text.stdout


def test_toml_in_cwd_is_found_and_db_taken_from_it(tmp_path):
    (tmp_path / "ytcorpus.toml").write_text('db = "corpus.db"\n')
    env = {"YTCORPUS_DB": "", "DB_URL": ""}
    assert run_cli("init", env=env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "corpus.db").exists()
    out = run_cli("config", env=env, cwd=tmp_path)
    assert "corpus.db" in out.stdout and "ytcorpus.toml" in out.stdout


def test_export_table_sets_shard_size_and_is_checked(tmp_path):
    from ytcorpus.queue import open_queue
    from ytcorpus.models import Result

    db = str(tmp_path / "data.db")
    with open_queue(db) as q:
        q.add([f"ccccccccc{i:02d}" for i in range(5)])
        q.complete_many("w", [(c.video_id, Result("some words", duration_seconds=1.0, tokens=2))
                              for c in q.claim("w", 5)])
    (tmp_path / "ytcorpus.toml").write_text("[export]\nshard_size = 2\n")
    out = run_cli("--db", db, "export", "shards", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(json.loads((tmp_path / "shards" / ".manifest.json").read_text())["shards"]) == 3
    out = run_cli("--db", db, "export", "more", cwd=tmp_path, env={"YTCORPUS_SHARD_SIZE": "lots"})
    assert out.returncode == 1 and "YTCORPUS_SHARD_SIZE" in out.stderr


@pytest.mark.parametrize("env,value", [
    ("YTCORPUS_MIN_THROUGHPUT", "fast"), ("YTCORPUS_RATE_LIMIT", "5 megs"),
    ("YTCORPUS_SOCKET_TIMEOUT", "0"), ("YTCORPUS_DOWNLOADS_PER_HOUR", "-1"),
    ("YTCORPUS_RETRIES", "-2"), ("YTCORPUS_PROXIES", "")])
def test_fetch_settings_are_checked(clean_env, monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    if value == "":  # an empty list is a valid setting: no proxies
        assert build(FetchConfig).proxies == ()
        return
    with pytest.raises(ConfigError, match=env):
        build(FetchConfig)
