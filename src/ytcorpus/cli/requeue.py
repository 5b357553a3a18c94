"""`ytcorpus requeue`: failed or stale rows back to pending."""

from __future__ import annotations

from ..core.errors import UsageError
from .args import open_db


def register(sub) -> None:
    s = sub.add_parser("requeue", help="send failed or stale rows back to pending")
    s.add_argument("--errors", nargs="?", const="", metavar="KIND",
                   help="requeue rows in error (only KIND if given, e.g. network)")
    s.add_argument("--stale", action="store_true",
                   help="return rows whose worker's lease ran out")
    s.add_argument("-n", "--dry-run", action="store_true",
                   help="only say how many rows would be requeued")
    s.set_defaults(func=run)


def run(args) -> int:
    if args.errors is None and not args.stale:
        raise UsageError("requeue: say what to requeue: --errors [KIND] and/or --stale")
    if args.errors:
        from .errors import check_kind

        check_kind(args.errors)
    with open_db(args) as q:
        if args.dry_run:
            return _dry_run(q, args)
        if args.stale:
            print(f"stale leases returned to pending: {q.reap_expired()}")
        if args.errors is not None:
            kind = args.errors or None
            n = q.requeue_errors(kind)
            print(f"errors requeued{' (' + kind + ')' if kind else ''}: {n}")
    return 0


def _dry_run(q, args) -> int:
    """Say what requeue would do, change nothing."""
    if args.stale:
        print(f"would return stale leases to pending: {q.expired_leases()}")
    if args.errors is not None:
        kind = args.errors or None
        rows = q.errors(kind)
        by_kind: dict[str, int] = {}
        for r in rows:
            by_kind[r["error_kind"] or "unknown"] = by_kind.get(r["error_kind"] or "unknown", 0) + 1
        detail = ", ".join(f"{k} {n:,}" for k, n in sorted(by_kind.items()))
        print(f"would requeue errors{' (' + kind + ')' if kind else ''}: {len(rows):,}"
              + (f" ({detail})" if detail else ""))
    return 0
