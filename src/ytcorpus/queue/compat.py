"""Reading an older database without upgrading it (stats, monitor, export, errors).

A read-only SQLite connection may still create TEMP objects, and SQLite looks names up in
the temp schema first. So an older `videos` table (the original tool's, or an earlier
ytcorpus release's) is shadowed by a temp view that adds every missing column with its
default, and each missing side table (workers, MinHash bands, routes, ...) by an empty
temp table. Every read query then runs unchanged; the file is never written."""

from __future__ import annotations

import re

from .schema import (COLUMNS, COMPLETION_SEQ, QUALITY_TABLES, STAGE_TABLES, WORKERS_TABLE)

_DEFAULT = re.compile(r"DEFAULT\s+('[^']*'|-?\d+(?:\.\d+)?)", re.IGNORECASE)
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def _default(decl: str) -> str:
    """A column's default as an SQL literal: 0, 'pending', or NULL (CURRENT_TIMESTAMP and
    the like: an old row simply has no such value)."""
    match = _DEFAULT.search(decl)
    return match.group(1) if match else "NULL"


def videos_view_sql(have: set[str]) -> str:
    """A temp view named videos over main.videos with this version's columns."""
    columns = ["id", "video_id"] + [name for name, _, _ in COLUMNS]
    decl = {name: sqlite_decl for name, sqlite_decl, _ in COLUMNS}
    select = ", ".join(name if name in have else f"{_default(decl[name])} AS {name}"
                       for name in columns)
    return f"CREATE TEMP VIEW videos AS SELECT {select} FROM main.videos"


def side_tables_sql() -> list[tuple[str, str]]:
    """(table, CREATE TEMP TABLE ...) for every side table of this version."""
    statements = ([WORKERS_TABLE.format(real="REAL")] + COMPLETION_SEQ
                  + [sql.format(real="REAL") for sql in STAGE_TABLES]
                  + [sql.format(blob="BLOB", without_rowid=" WITHOUT ROWID")
                     for sql in QUALITY_TABLES])
    found = []
    for sql in statements:
        match = _TABLE.search(sql)
        if match:
            found.append((match.group(1), sql.replace("CREATE TABLE", "CREATE TEMP TABLE", 1)))
    return found


def shadow_old_schema(conn) -> None:
    """Make an older SQLite database read like this version (see the module docstring)."""
    tables = {r[0] for r in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table'").fetchall()}
    have = {r[1] for r in conn.execute("PRAGMA main.table_info(videos)").fetchall()}
    if not have.issuperset({name for name, _, _ in COLUMNS} | {"id", "video_id"}):
        conn.execute(videos_view_sql(have))
    for table, sql in side_tables_sql():
        if table not in tables:
            conn.execute(sql)
