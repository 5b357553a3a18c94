"""`ytcorpus stats`: counts by status, hours and tokens (read-only)."""

from __future__ import annotations

import json

from .args import open_db


def register(sub) -> None:
    s = sub.add_parser("stats", help="counts by status, hours and tokens completed")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run)


def run(args) -> int:
    from ..observe.monitor import collect, format_stats
    from ..queue.quality import format_quality, quality_summary

    with open_db(args, read_only=True) as q:
        data = collect(q)
        data["quality"] = quality_summary(q)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_stats(data) + format_quality(data["quality"]))
    return 0
