"""`ytcorpus errors`: failed rows with their reasons, without sqlite3."""

from __future__ import annotations

import json


def register(sub) -> None:
    import argparse

    from .args import positive_int

    s = sub.add_parser("errors", help="list failed rows with their reasons",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Rows in error, newest first: URL, kind, attempts, message. "
                       "Read-only; `requeue --errors KIND` sends them back.",
                       epilog="examples:\n  ytcorpus errors --kind network --limit 20\n"
                              "  ytcorpus errors --json | jq -r '.[].url'")
    s.add_argument("--kind", metavar="K", help="only this error kind (e.g. network, private)")
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


def errors_command(args) -> int:
    from ..queue import open_queue

    check_kind(args.kind)
    with open_queue(args.db, create=False, read_only=True) as q:  # never migrates
        rows = q.errors(args.kind, args.limit)
    if args.json:
        print(json.dumps([{"video_id": r["video_id"], "url": r["url"], "kind": r["error_kind"],
                           "attempts": r["attempts"], "message": r["error"]} for r in rows],
                         indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no rows in error" + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    print(f"{'KIND':<14} {'TRIES':>5}  URL  MESSAGE")
    for r in rows:
        print(f"{r['error_kind'] or 'unknown':<14} {r['attempts'] or 0:>5}  "
              f"{r['url'] or r['video_id']}  {_short(r['error'])}")
    return 0
