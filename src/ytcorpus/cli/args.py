"""Argument types and flag groups that several subcommands share."""

from __future__ import annotations

import argparse

from ..core.langtag import language_arg


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return value


def open_db(args, *, create: bool = False, read_only: bool = False):
    """Only `init` and `add` create a database; the rest fail on a missing one."""
    from ..queue import open_queue

    return open_queue(args.db, create=create, read_only=read_only)


def add_queue_flags(s: argparse.ArgumentParser, when_empty: str, name: str,
                    language: str) -> None:
    """The flags `work`, `fetch` and `cluster` share: claiming, leases and downloading."""
    s.add_argument("--download-threads", type=positive_int, help="parallel downloads (default 2)")
    s.add_argument("--lease", type=positive_float, help="lease seconds, renewed by heartbeat (600)")
    s.add_argument("--work-dir", help="temp audio folder (default ./work)")
    s.add_argument("--max-videos", type=positive_int, help="stop after this many videos")
    s.add_argument("--exit-when-empty", action="store_true", default=None, help=when_empty)
    s.add_argument("--name", help=name)
    s.add_argument("--language", type=language_arg,
                   help=f"target language (en, en-US, EN, eng: one language): {language}")
    s.add_argument("--audio-format", metavar="SELECTOR",
                   help="yt-dlp format selector (default: smallest audio-only stream >= "
                        "32 kbps opus / 48 kbps other)")


def add_engine_flags(s: argparse.ArgumentParser) -> None:
    """The flags that pick and size the speech-to-text engine (`work`, `cluster`)."""
    s.add_argument("--device", help="auto|cpu|cuda|cuda:N (default auto)")
    s.add_argument("--engine", metavar="ENGINE",
                   help="transformers, ctranslate2 or a plugin package.module:ClassName "
                        "(default: transformers on CUDA, ctranslate2 on CPU)")
    s.add_argument("--model", help="hub id, local directory, or a packaged short name "
                                   "(tiny.en)")
    s.add_argument("--batch-size", type=positive_int,
                   help="audio chunks per engine batch (default 16)")
