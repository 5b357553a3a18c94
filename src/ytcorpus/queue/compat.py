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


def _sql_type(decl: str) -> str:
    return re.split(r"\s+(?:NOT NULL|DEFAULT)\b", decl, maxsplit=1)[0]


def videos_view_sql(have: set[str], backend: str = "sqlite",
                    table: str = "main.videos") -> str:
    """A temp view named videos over the old table with this version's columns
    (PostgreSQL: each missing column cast to its type, so SUM(tokens) still works)."""
    columns = ["id", "video_id"] + [name for name, _, _ in COLUMNS]
    decl = {c[0]: c[1] if backend == "sqlite" else c[2] for c in COLUMNS}

    def missing(name: str) -> str:
        value = _default(decl[name])
        if backend != "sqlite":
            value = f"CAST({value} AS {_sql_type(decl[name])})"
        return f"{value} AS {name}"

    select = ", ".join(name if name in have else missing(name) for name in columns)
    return f"CREATE TEMP VIEW videos AS SELECT {select} FROM {table}"


def side_tables_sql(backend: str = "sqlite") -> list[tuple[str, str]]:
    """(table, CREATE TEMP TABLE ...) for every side table of this version."""
    real = "REAL" if backend == "sqlite" else "DOUBLE PRECISION"
    statements = ([WORKERS_TABLE.format(real=real)] + COMPLETION_SEQ
                  + [sql.format(real=real) for sql in STAGE_TABLES]
                  + [sql.format(blob="BLOB" if backend == "sqlite" else "BYTEA",
                                without_rowid=" WITHOUT ROWID" if backend == "sqlite" else "")
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


def postgres_shadow_sql(conn) -> list[str]:
    """What makes an older PostgreSQL queue read like this version on one connection
    (run by the read-only pool's configure hook before the connection turns read-only);
    [] when nothing is missing. `conn` is a plain psycopg connection, rows as tuples."""
    with conn.cursor() as cur:
        cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema()")
        found = cur.fetchall()
        cur.execute("SELECT current_schema()")
        schema = cur.fetchone()[0]
    tables = {t for t, _ in found}
    have = {c for t, c in found if t == "videos"}
    if "videos" not in tables:  # not a queue at all: the caller says so
        return []
    statements = []
    if not have.issuperset(
            {name for name, _, _ in COLUMNS} | {"id", "video_id"}):
        statements.append(videos_view_sql(have, "postgres", f'"{schema}".videos'))
    return statements + [sql for table, sql in side_tables_sql("postgres")
                         if table not in tables]
