"""Every subcommand explains itself: a description, examples, help for each argument."""

from __future__ import annotations

import argparse

from conftest import run_cli
from ytcorpus.cli.main import build_parser


def commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub
                yield from commands(sub, path + (name,))


def test_every_subcommand_has_a_description_examples_and_flag_help():
    found = dict(commands(build_parser()))
    for expected in ("init", "add", "stats", "requeue", "errors", "config", "work", "download",
                     "transcribe", "export", "monitor", "discover", "migrate"):
        assert (expected,) in found, expected
    for path, sub in found.items():
        text = sub.format_help()
        assert sub.description, path
        assert "examples:\n  ytcorpus " in text, path
        for action in sub._actions:
            if action.dest not in ("help", "db") and not isinstance(
                    action, argparse._SubParsersAction):
                assert action.help, (path, action.dest)


def test_help_runs_for_each_command_through_the_cli():
    for command in ("init", "errors", "config", "transcribe", "download", "monitor"):
        out = run_cli(command, "--help")
        assert out.returncode == 0 and "examples:" in out.stdout, command
