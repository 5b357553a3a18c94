"""`ytcorpus init`: create or upgrade the schema."""

from __future__ import annotations

from .args import open_db


def register(sub) -> None:
    s = sub.add_parser("init", help="create or upgrade the database schema")
    s.set_defaults(func=run)


def run(args) -> int:
    with open_db(args, create=True) as q:
        print(f"ready: {q.describe()}")
    return 0
