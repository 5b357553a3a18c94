"""`ytcorpus errors`: failed rows with their reasons, without sqlite3. Rows in error, and
(`--waiting`, or with `--kind`) rows that failed and wait to retry, with their next try."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone


def register(sub) -> None:
    import argparse

    from .args import positive_int

    s = sub.add_parser("errors", help="list failed rows with their reasons",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Rows in error, newest first: URL, kind, attempts, message. "
                       "With --kind, rows of that kind waiting to retry too; --waiting: every "
                       "row waiting to retry, with its next try. "
                       "Read-only; `requeue --errors KIND` sends them back.",
                       epilog="examples:\n  ytcorpus errors --kind network --limit 20\n"
                              "  ytcorpus errors --waiting\n"
                              "  ytcorpus errors --json | jq -r '.[].url'")
    s.add_argument("--kind", metavar="K", help="only this error kind (e.g. network, private)")
    s.add_argument("--waiting", action="store_true",
                   help="rows that failed and wait to retry (pending), with their next try")
    s.add_argument("--limit", type=positive_int, metavar="N", help="at most N rows")
    s.add_argument("--json", action="store_true", help="print one JSON array")
    s.set_defaults(func=errors_command)


def check_kind(kind: str | None) -> None:
    """An error kind must be one ytcorpus files rows under (a typo would match nothing)."""
    from ..core.errors import KINDS, UsageError

    if kind and kind not in KINDS:
        raise UsageError(f"unknown error kind {kind!r} (known: {', '.join(sorted(KINDS))})")


def _short(text: str | None, width: int = 100) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _next_try(row: dict, now: float) -> str:
    """'error' (no more tries), 'now' (claimable) or 'in 4m10s'."""
    if row.get("status") == "error":
        return "error"
    left = (row.get("not_before") or 0) - now
    if left <= 0:
        return "now"
    minutes, seconds = divmod(int(left + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return "in " + (f"{hours}h{minutes:02d}m" if hours else
                    f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")


def _iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def errors_command(args) -> int:
    from ..queue import open_queue

    check_kind(args.kind)
    waiting = getattr(args, "waiting", False)
    with open_queue(args.db, create=False, read_only=True) as q:  # never migrates
        rows = q.errors(args.kind, args.limit, waiting=waiting)
    now = time.time()
    if args.json:
        print(json.dumps([{"video_id": r["video_id"], "url": r["url"], "kind": r["error_kind"],
                           "attempts": r["attempts"], "message": r["error"],
                           "status": r["status"],
                           "next_try": None if r["status"] == "error" else
                           _iso(max(r["not_before"] or 0, now))} for r in rows],
                         indent=2, ensure_ascii=False))
        return 0
    if not rows:
        what = "no rows waiting to retry" if waiting else "no rows in error"
        print(what + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    print(f"{'KIND':<14} {'TRIES':>5}  {'NEXT TRY':<10} URL  MESSAGE")
    for r in rows:
        print(f"{r['error_kind'] or 'unknown':<14} {r['attempts'] or 0:>5}  "
              f"{_next_try(r, now):<10} {r['url'] or r['video_id']}  {_short(r['error'])}")
    return 0
