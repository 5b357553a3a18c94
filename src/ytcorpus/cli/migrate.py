"""`ytcorpus migrate`: copy a SQLite queue into PostgreSQL (safe to repeat)."""

from __future__ import annotations

import logging
import os

from ..core.errors import UsageError

log = logging.getLogger(__name__)


def register(sub) -> None:
    s = sub.add_parser("migrate", help="copy a SQLite queue into PostgreSQL")
    s.add_argument("--from", dest="src", required=True, metavar="SQLITE")
    s.add_argument("--to", dest="dst", required=True, metavar="URL")
    s.set_defaults(func=run)


def run(args) -> int:
    from ..queue import is_postgres, open_queue, redact
    from ..queue.migrate import migrate

    if not is_postgres(args.dst) and "://" in args.dst:
        raise UsageError("--to must be a postgresql:// URL (or a SQLite path)")
    if is_postgres(args.src):
        raise UsageError("--from must be a SQLite file")
    if not os.path.exists(args.src):
        raise UsageError(f"--from {args.src}: no such file")
    with open_queue(args.src) as src, open_queue(args.dst) as dst:
        result = migrate(src, dst, progress=lambda n: log.info("copied %d rows...", n))
    print(f"{result['source_rows']:,} rows in {args.src}: {result['copied']:,} copied, "
          f"{result['already_there']:,} already in {redact(args.dst)}; "
          f"destination now has {result['destination_rows']:,}; missing {result['missing']:,}")
    return 0 if result["missing"] == 0 else 1
