"""Discovery: yt-dlp flat extraction of searches, channels and playlists into the queue."""

from __future__ import annotations

import argparse


def add_discover_parser(sub, func) -> None:
    d = sub.add_parser("discover", help="find videos (search, channel, playlist, catalog)",
                       description="Find videos with yt-dlp's flat extraction and queue them.")
    kinds = d.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--min-duration", type=float, default=60.0,
                        help="skip videos shorter than this many seconds (default 60: no shorts)")
    common.add_argument("--max-duration", type=float, default=4 * 3600.0,
                        help="skip videos longer than this (default 4 h: no 10-hour streams)")
    common.add_argument("--priority", type=int, help="priority of queued rows")
    common.add_argument("--cc-only", action="store_true",
                        help="keep only Creative Commons videos (where the listing says so)")
    common.add_argument("--dry-run", action="store_true", help="find and count, queue nothing")
    common.add_argument("--limit", type=int, help="at most this many entries per source")
    s = kinds.add_parser("search", parents=[common], help="YouTube searches")
    s.add_argument("queries", nargs="+", metavar="QUERY")
    s = kinds.add_parser("channel", parents=[common], help="all uploads of channels")
    s.add_argument("channels", nargs="+", metavar="URL_OR_HANDLE")
    s.add_argument("--include-shorts", action="store_true")
    s.add_argument("--include-live", action="store_true")
    s.add_argument("--full", action="store_true",
                   help="crawl every page even when ids are already known")
    s = kinds.add_parser("playlist", parents=[common], help="playlists")
    s.add_argument("playlists", nargs="+", metavar="URL")
    s = kinds.add_parser("catalog", parents=[common],
                         help="the built-in educational catalog (queries and channels)")
    s.add_argument("--subjects", help="comma-separated subjects (default: all)")
    s.add_argument("--catalog-file", help="a custom catalog JSON file")
    s.add_argument("--no-channels", action="store_true")
    s.add_argument("--no-queries", action="store_true")
    for p in kinds.choices.values():
        p.set_defaults(func=func)


def discover_command(args) -> int:
    from .errors import YtcorpusError

    raise YtcorpusError("discover is not available in this build yet")
