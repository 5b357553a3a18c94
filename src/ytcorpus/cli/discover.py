"""`ytcorpus discover`: its arguments, and the run with progress and a summary."""

from __future__ import annotations

import argparse
import logging
from typing import Callable

from ..discover.crawl import (DiscoverOptions, Discoverer, NetworkDown, Summary, catalog_channels,
                       catalog_queries, load_catalog)
from ..core.errors import YtcorpusError
from ..core.langtag import language_arg

log = logging.getLogger("ytcorpus.discover")


def register(sub) -> None:
    add_discover_parser(sub, discover_command)


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
                        help="keep only videos whose own page says Creative Commons (one page "
                             "read per new video; the licence is stored with source 'page')")
    common.add_argument("--language", metavar="CODE", type=language_arg,
                        help="skip videos whose metadata names another spoken language "
                             "(e.g. en; one page read per new video; unknown ones are kept)")
    common.add_argument("--dry-run", action="store_true", help="find and count, queue nothing")
    common.add_argument("--limit", type=int, help="at most this many entries per source")
    s = kinds.add_parser("search", parents=[common], help="YouTube searches")
    s.add_argument("queries", nargs="+", metavar="QUERY")
    s = kinds.add_parser("channel", parents=[common], help="all uploads of channels")
    s.add_argument("channels", nargs="+", metavar="URL_OR_HANDLE")
    s.add_argument("--include-shorts", action="store_true")
    s.add_argument("--include-live", action="store_true", help="also the live/streams tab")
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
    s.add_argument("--list", action="store_true", help="print the catalog's sources and exit")
    for p in kinds.choices.values():
        p.set_defaults(func=func)


def discover_command(args, ydl_factory=None) -> int:
    import sys

    from rich.console import Console

    from ..queue import open_queue

    options = DiscoverOptions(
        min_duration=args.min_duration, max_duration=args.max_duration, priority=args.priority,
        cc_only=args.cc_only, dry_run=args.dry_run, limit=args.limit,
        language=getattr(args, "language", None),
        incremental=not getattr(args, "full", False))
    console = Console(stderr=True)
    stopped: NetworkDown | None = None
    with open_queue(args.db) as q, console.status("discovering...") as status:
        d = Discoverer(q, options, ydl_factory,
                       on_progress=_reporter(status, console.is_terminal))
        try:
            if args.kind == "search":
                d.summary.total = len(args.queries)
                d.search(args.queries)
            elif args.kind == "channel":
                tabs = 1 + bool(args.include_shorts) + bool(args.include_live)
                d.summary.total = len(args.channels) * tabs
                d.channels(args.channels, shorts=args.include_shorts, live=args.include_live)
            elif args.kind == "playlist":
                d.summary.total = len(args.playlists)
                d.playlists(args.playlists)
            else:
                _run_catalog(d, args, console)
        except NetworkDown as exc:
            stopped = exc
    prefix = "dry run, nothing queued: " if options.dry_run else ""
    print(prefix + d.summary.line())
    for label, reason in d.summary.failed.items():
        print(f"failed: {label}: {reason}")
    sys.stdout.flush()
    if stopped is not None:
        raise stopped
    return 1 if d.summary.failed and not d.summary.found else 0


def _reporter(status, terminal: bool) -> Callable[[Summary], None]:
    """A live status line on a terminal; off it, one log line per finished source."""
    logged = [0]

    def report(summary: Summary) -> None:
        if terminal:
            status.update(f"discovering... {summary.line()}")
        elif summary.done != logged[0]:
            logged[0] = summary.done
            log.info("discover: %s", summary.line())
    return report


def _run_catalog(d: Discoverer, args, console) -> None:
    catalog = load_catalog(args.catalog_file)
    subjects = [s.strip() for s in args.subjects.split(",")] if args.subjects else None
    if subjects:
        unknown = set(subjects) - set(catalog.get("subjects", {}))
        if unknown:
            raise YtcorpusError(f"unknown subjects: {', '.join(sorted(unknown))}; known: "
                                f"{', '.join(sorted(catalog.get('subjects', {})))}")
    queries = [] if args.no_queries else catalog_queries(catalog, subjects)
    channels = [] if args.no_channels else catalog_channels(catalog, subjects)
    if args.list:
        for query, priority in queries:
            print(f"search\t{priority}\t{query}")
        for c in channels:
            print(f"channel\t{c.get('priority', 0)}\t{c['handle']}\t{c.get('name', '')}")
        return
    d.summary.total = len(channels) + len(queries)
    for c in sorted(channels, key=lambda c: -int(c.get("priority", 0))):
        d.channels([c["handle"]], priority=args.priority or int(c.get("priority", 0)))
    for query, priority in sorted(queries, key=lambda qp: -qp[1]):
        d.search([query], priority=args.priority or priority)
