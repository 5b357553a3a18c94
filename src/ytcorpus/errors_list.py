"""`ytcorpus errors`: failed rows with their reasons, without sqlite3."""

from __future__ import annotations

import json


def _short(text: str | None, width: int = 100) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def errors_command(args) -> int:
    from .queue import open_queue

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
