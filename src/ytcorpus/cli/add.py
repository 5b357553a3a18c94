"""`ytcorpus add`: queue sources (URLs, ids, files); invalid ones named, the rest added."""

from __future__ import annotations

import sys

from ..core.errors import UsageError
from .args import open_db


def register(sub) -> None:
    s = sub.add_parser("add", help="queue videos: YouTube URLs/ids, http(s) URLs, local files",
                       description="Queue videos. A YouTube video is one row whatever URL form "
                       "names it. Exits 2 if any source was invalid (the valid ones are added).")
    s.add_argument("sources", nargs="*", metavar="SOURCE")
    s.add_argument("--from-file", action="append", metavar="F",
                   help="read one source per line ('-' for stdin; # comments)")
    s.add_argument("--priority", type=int, default=0, help="higher is claimed first (default 0)")
    s.add_argument("--source", metavar="LABEL", help="label stored with each row")
    s.set_defaults(func=run)


def run(args) -> int:
    from ..discover.sources import read_sources

    if not args.sources and not args.from_file:
        raise UsageError("add: give at least one SOURCE or --from-file")
    bad: list = []  # each invalid source, with where it came from; the rest are added
    with open_db(args, create=True) as q:
        result = q.add(read_sources(args.sources, args.from_file or [], bad),
                       priority=args.priority, source=args.source)
    for item in bad:
        print(item.line(), file=sys.stderr)
    print(f"added {result.added}, already queued {result.duplicates}, invalid {len(bad)}")
    return 2 if bad else 0
