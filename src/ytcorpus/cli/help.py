"""Descriptions, examples and flag help for every subcommand, applied after the parser is
built (so a subcommand defined anywhere gets them without touching its definition)."""

from __future__ import annotations

import argparse

# command path -> (description, examples); a description given where the parser is built wins
COMMANDS: dict[tuple[str, ...], tuple[str, list[str]]] = {
    ("init",): ("Create the database (SQLite file or PostgreSQL) or upgrade its schema. Only "
                "init and add create a database; other commands need one to exist.",
                ["ytcorpus init", "ytcorpus --db postgresql://user@host/ytcorpus init"]),
    ("add",): ("", ["ytcorpus add https://youtu.be/VIDEOID lecture.mp4 --priority 5",
                    "ytcorpus add --from-file ids.txt --source lectures-2026",
                    "cat urls.txt | ytcorpus add --from-file -"]),
    ("stats",): ("Counts by status, audio hours and tokens completed, speed, workers. Read-only."
                 " --json keys: total, pending, processing, completed, error, "
                 "audio_seconds_completed, tokens_completed, errors_by_kind, ...",
                 ["ytcorpus stats", "ytcorpus stats --json | jq .completed"]),
    ("requeue",): ("Send rows in error (all, or one kind) back to pending with a fresh attempt "
                   "count, and/or rows whose worker's lease ran out (--stale). --dry-run only "
                   "counts.", ["ytcorpus requeue --errors network --dry-run",
                               "ytcorpus requeue --errors", "ytcorpus requeue --stale"]),
    ("work",): ("", ["ytcorpus work --exit-when-empty",
                     "ytcorpus work --device cuda:0 --batch-size 32 --metrics-port 9101",
                     "CUDA_VISIBLE_DEVICES=1 ytcorpus work --name node7"]),
    ("export",): ("", ["ytcorpus export corpus/ --format parquet --shard-size 500MB",
                       "ytcorpus export corpus.jsonl.zst --language en --min-tokens 200",
                       "ytcorpus export - | head -n 1 | jq .text"]),
    ("discover",): ("", ["ytcorpus discover catalog --dry-run",
                         "ytcorpus discover search 'linear algebra lecture' --limit 200",
                         "ytcorpus discover channel @mitocw --cc-only"]),
    ("discover", "search"): ("YouTube searches: each QUERY is one source (--limit results).",
                             ["ytcorpus discover search 'organic chemistry lecture' --limit 300"]),
    ("discover", "channel"): ("Every upload of each channel, newest first; a re-crawl stops at "
                              "the first run of already-known videos (--full crawls all).",
                              ["ytcorpus discover channel @mitocw @3blue1brown",
                               "ytcorpus discover channel UCEBb1b_L6zDS3xTUrIALZOw --full"]),
    ("discover", "playlist"): ("Every video of each playlist.",
                               ["ytcorpus discover playlist "
                                "'https://www.youtube.com/playlist?list=PLxxxx'"]),
    ("discover", "catalog"): ("The built-in educational catalog: its channels, then its "
                              "search queries, by priority.",
                              ["ytcorpus discover catalog --list",
                               "ytcorpus discover catalog --subjects math,physics --dry-run"]),
    ("migrate",): ("Copy every row of a SQLite queue into a PostgreSQL database (created with "
                   "`init` first); the SQLite file is left as it was.",
                   ["ytcorpus migrate --from data.db --to postgresql://user@dbhost/ytcorpus"]),
}

# (command path, dest) -> help, for arguments defined without one
FLAGS: dict[tuple[tuple[str, ...], str], str] = {
    (("add",), "sources"): "YouTube URL or id, any http(s) URL, or a local file",
    (("download",), "sources"): "YouTube URL or id, or any http(s) URL",
    (("transcribe",), "inputs"): "audio/video files, folders (searched recursively), URLs",
    (("export",), "out"): "a file (.jsonl, .jsonl.zst, .parquet), a folder of shards, or - "
                          "for JSONL on stdout",
    (("export",), "format"): "shard format for a folder (default jsonl)",
    (("discover", "search"), "queries"): "search text, one source per QUERY",
    (("discover", "channel"), "channels"): "@handle, channel id (UC...) or channel URL",
    (("discover", "channel"), "include_shorts"): "also the shorts tab",
    (("discover", "playlist"), "playlists"): "playlist URL",
    (("discover", "catalog"), "no_channels"): "skip the catalog's channels",
    (("discover", "catalog"), "no_queries"): "skip the catalog's search queries",
    (("migrate",), "src"): "the SQLite file to copy",
    (("migrate",), "dst"): "the postgresql:// URL to copy into",
}


class Formatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps text with line breaks (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def document(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Fill in descriptions, example epilogs and missing flag help, recursively."""
    parser.formatter_class = Formatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                _describe(sub, path + (name,), helps.get(name))
                document(sub, path + (name,))
        elif action.help is None and (path, action.dest) in FLAGS:
            action.help = FLAGS[(path, action.dest)]


def _describe(sub: argparse.ArgumentParser, path: tuple[str, ...], short: str | None) -> None:
    description, examples = COMMANDS.get(path, ("", []))
    if not sub.description:
        sub.description = description or (short[:1].upper() + short[1:] + "." if short else None)
    if not sub.epilog and examples:
        sub.epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
