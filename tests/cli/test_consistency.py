"""One command line: usage errors exit 2 everywhere, typos get the nearest name, fixed sets of
names refuse unknown ones, and --db/--config work before or after the subcommand."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "data.db")
    assert run_cli("--db", path, "init").returncode == 0
    return path


def test_a_mistyped_subcommand_names_the_nearest():
    out = run_cli("stauts")
    assert out.returncode == 2
    assert "did you mean stats?" in out.stderr


def test_a_mistyped_flag_names_the_nearest(db):
    out = run_cli("--db", db, "stats", "--jsn")
    assert out.returncode == 2
    assert "did you mean --json?" in out.stderr


@pytest.mark.parametrize("argv, named", [
    (["export", "out/", "--exclude-flags", "low_wpm,no_such_flag"], "no_such_flag"),
    (["errors", "--kind", "netwrk"], "netwrk"),
    (["requeue", "--errors", "netwrk"], "netwrk"),
    (["add"], "SOURCE"),
    (["requeue"], "--errors"),
])
def test_usage_errors_exit_2_and_change_nothing(db, tmp_path, argv, named):
    out = run_cli("--db", db, *argv, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert named in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()


def test_known_names_are_accepted(db):
    assert run_cli("--db", db, "errors", "--kind", "network").returncode == 0
    assert run_cli("--db", db, "requeue", "--errors", "network", "-n").returncode == 0


def test_db_and_config_after_the_subcommand(db, tmp_path):
    config = tmp_path / "prod.toml"
    config.write_text("[export]\nshard_size = 7\n")
    out = run_cli("config", "--json", "--config", str(config), "--db", db)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["config_file"] == str(config)
    assert str(data["settings"]["export"]["shard_size"]["value"]) == "7"
    assert data["settings"][""]["db"]["value"] == db
    assert json.loads(run_cli("stats", "--json", "--db", db).stdout)["total"] == 0
