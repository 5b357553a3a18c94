"""README.md's commands: the tour runs for real, offline; every other `ytcorpus` line in a
code block parses with the real command line (a renamed flag breaks this test)."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def _commands(block: str) -> list[list[str]]:
    out = []
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("ytcorpus "):
            out.append(shlex.split(line)[1:])
    return out


def _tour() -> list[list[str]]:
    section = README.split("## A short tour", 1)[1]
    return _commands(_blocks(section)[0])


def test_readme_is_short_and_names_both_commands():
    assert len(README.splitlines()) <= 155
    assert "make demo" in README and "make test" in README


@pytest.mark.parametrize("argv", [c for b in _blocks(README) for c in _commands(b)],
                         ids=lambda argv: " ".join(argv)[:60])
def test_every_readme_command_parses(argv):
    from ytcorpus.cli.main import build_parser

    args = build_parser().parse_args(argv)
    assert callable(args.func)


@pytest.mark.slow
def test_the_tour_runs_offline_as_printed(tmp_path):
    (tmp_path / "src").symlink_to(ROOT / "src")
    env = {"YTCORPUS_DB": "", "DB_URL": "", "YTCORPUS_CONFIG": ""}
    outputs = []
    for argv in _tour():
        got = run_cli(*argv, cwd=tmp_path, env=env, timeout=600)
        assert got.returncode == 0, (argv, got.stderr[-2000:])
        outputs.append(got.stdout)
    stats = outputs[3]
    assert "2 completed, 0 error" in stats and "languages     en 2" in stats
    assert (tmp_path / "corpus" / ".manifest.json").exists()
    assert "superlative degree" in (tmp_path / "corpus" / "part-00000.jsonl").read_text()
    assert "00:00:00" in outputs[5] and "superlative degree" in outputs[5]
