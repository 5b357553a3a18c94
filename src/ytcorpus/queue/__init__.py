"""The video queue. `open_queue(db)` picks the backend from the address."""

from __future__ import annotations

import os

from ..core.errors import ConfigError
from . import quality, staging  # noqa: F401  (they register their completion hooks)
from .base import Queue, parse_since, utc_text

DEFAULT_DB = "./data.db"

__all__ = ["Queue", "open_queue", "resolve_db", "redact", "is_postgres", "parse_since",
           "utc_text"]


def resolve_db(db: str | os.PathLike | None = None) -> str:
    """--db flag < YTCORPUS_DB < DB_URL (the original's name) < ./data.db"""
    if db:
        return str(db)
    return os.environ.get("YTCORPUS_DB") or os.environ.get("DB_URL") or DEFAULT_DB


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def redact(db: str) -> str:
    """A database address with any password replaced, fit for logs and errors: URL
    userinfo, `?password=` and key=value (`password=...`) forms alike."""
    from ..core.errors import redact as redact_text

    return redact_text(db)


def open_queue(db: str | os.PathLike | None = None, *, create: bool = True,
               read_only: bool = False, **options) -> Queue:
    """Open the queue at a SQLite path or postgresql:// URL, upgrading its schema.

    create=True (the Python API's default, as before) creates a missing SQLite file and
    the tables; the command line passes create=False for every command but `init` and
    `add`, so a mistyped --db fails naming the path instead of reporting zeros.
    read_only=True (stats, monitor, export) never writes and never migrates."""
    options.update(create=create, read_only=read_only)
    address = resolve_db(db)
    if is_postgres(address):
        from .postgres import PostgresQueue

        q: Queue = PostgresQueue(address, **options)
    elif "://" in address:
        raise ConfigError(f"unsupported database address {redact(address)!r}: "
                          "use a SQLite file path or postgresql://...")
    else:
        from .sqlite import SqliteQueue

        q = SqliteQueue(address, **options)
    if not read_only:  # signatures made by an older ytcorpus: made again (once)
        from .duplicates import resign

        try:
            resign(q)
        except BaseException:
            q.close()
            raise
    return q
