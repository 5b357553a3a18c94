"""The counters behind `quality_summary` (stats' "quality": flags, languages and their
sources, duplicate rows) and `download_totals` (the monitor's bytes per audio hour),
kept like queue/counts.py's: by triggers, in the transaction of every change, so neither
reader counts the table at any size.

summary_counts holds one row per (counter, item, shard); n counts rows:

    counter          item                       n                seconds / amount
    language         language ('' if none)      completed rows
    language_source  its source ('' if none)    completed rows
    duplicate        ''                         completed rows with duplicate_of set
    downloaded       ''                         rows with audio_bytes  SUM(duration_seconds)
                                                                       / SUM(audio_bytes)
    flag             the flag                   video_flags rows
    built            ''                         VERSION: the marker (these counters exist)

A table of its own, not more rows of queue_counts: an older ytcorpus reading the same
database (a fleet part-way through an upgrade) adds every queue_counts row into its total.

SQLite: row-level triggers on shard 0; the UPDATE trigger fires only when a counted value
of the row changed (a claim changes none) and writes only the counters that changed.
PostgreSQL: statement-level triggers with transition tables add one delta per (counter,
item) to the backend's own shard (shard = pg_backend_pid(), in key order: no transaction
ever waits on another's counter rows); counts.fold_statement() folds ended backends'
rows into shard 0, from every worker's checkpoint.

A database made before these counters (no table, or no marker) gets them at its next
writable open (SQLite: in the schema transaction; PostgreSQL: under the schema advisory
lock, writers of videos and video_flags blocked until it commits), without a schema
version bump: a read-only open of such a database (or a reader without SELECT on the
table) reads by counting, as before.
"""

from __future__ import annotations

from typing import Any

from .counts import fold_statement as _fold

Queue = Any  # base.Queue (not imported: base imports the backends' modules)

TABLE_NAME = "summary_counts"
VERSION = 1  # the marker's n: a later set of counters bumps it and is rebuilt on open

TABLE = (
    "CREATE TABLE IF NOT EXISTS summary_counts (counter TEXT NOT NULL, item TEXT NOT NULL, "
    "shard INTEGER NOT NULL, n BIGINT NOT NULL DEFAULT 0, seconds {real} NOT NULL DEFAULT 0, "
    "amount BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (counter, item, shard))"
)

# (counter, condition on a videos row r, item, seconds, amount): a row r adds 1 to n
# (and seconds, amount) of (counter, item) while the condition holds. Conditions are
# never NULL (IS, IS NOT), so SQLite's guards below are plain booleans.
_COMPLETED = "{r}.status IS NOT NULL AND {r}.status = 'completed'"
VIDEO_COUNTERS: list[tuple[str, str, str, str, str]] = [
    ("language", _COMPLETED, "COALESCE({r}.language, '')", "0", "0"),
    ("language_source", _COMPLETED, "COALESCE({r}.language_source, '')", "0", "0"),
    ("duplicate", _COMPLETED + " AND {r}.duplicate_of IS NOT NULL", "''", "0", "0"),
    ("downloaded", "{r}.audio_bytes IS NOT NULL", "''",
     "COALESCE({r}.duration_seconds, 0)", "{r}.audio_bytes"),
]
# the columns those read (SQLite's UPDATE OF list)
VIDEO_COLUMNS = ("status", "language", "language_source", "duplicate_of", "audio_bytes",
                 "duration_seconds")

_ADD = ("ON CONFLICT (counter, item, shard) DO UPDATE SET n = n + excluded.n, "
        "seconds = seconds + excluded.seconds, amount = amount + excluded.amount;")


# ---- SQLite: row-level triggers -------------------------------------------------------------

def _varies(x: str) -> bool:
    return "{r}" in x


def _same(cond: str, item: str, seconds: str, amount: str) -> str:
    """SQLite: the row counts the same before and after (nothing to write)."""
    c_old, c_new = cond.format(r="OLD"), cond.format(r="NEW")
    same = "".join(f" AND {v.format(r='OLD')} IS {v.format(r='NEW')}"
                   for v in (item, seconds, amount) if _varies(v))
    return f"((NOT ({c_old}) AND NOT ({c_new})) OR (({c_old}) AND ({c_new}){same}))"


def _sqlite_add(counter: str, cond: str, item: str, seconds: str, amount: str, r: str,
                sign: str, guard: str = "") -> str:
    # (INSERT ... SELECT needs its WHERE before ON CONFLICT: SQLite's parser says so)
    value = {v: f"{sign}{v.format(r=r)}" if _varies(v) else v for v in (seconds, amount)}
    return (f"INSERT INTO summary_counts (counter, item, shard, n, seconds, amount) "
            f"SELECT '{counter}', {item.format(r=r)}, 0, {sign}1, {value[seconds]}, "
            f"{value[amount]} WHERE ({cond.format(r=r)}){guard} " + _ADD)


def _sqlite_flag(r: str, sign: str) -> str:
    return (f"INSERT INTO summary_counts (counter, item, shard, n, seconds, amount) "
            f"VALUES ('flag', {r}.flag, 0, {sign}1, 0, 0) " + _ADD)


def _sqlite_triggers() -> list[str]:
    insert = " ".join(_sqlite_add(*c, "NEW", "") for c in VIDEO_COUNTERS)
    delete = " ".join(_sqlite_add(*c, "OLD", "-") for c in VIDEO_COUNTERS)
    update = " ".join(_sqlite_add(*c, r, sign, f" AND NOT {_same(*c[1:])}")
                      for c in VIDEO_COUNTERS for r, sign in (("OLD", "-"), ("NEW", "")))
    changed = " AND ".join(_same(*c[1:]) for c in VIDEO_COUNTERS)
    out = [f"DROP TRIGGER IF EXISTS {name}" for name in (
        "videos_summary_insert", "videos_summary_update", "videos_summary_delete",
        "video_flags_counts_insert", "video_flags_counts_update", "video_flags_counts_delete")]
    return out + [
        f"CREATE TRIGGER videos_summary_insert AFTER INSERT ON videos BEGIN {insert} END",
        f"CREATE TRIGGER videos_summary_update AFTER UPDATE OF {', '.join(VIDEO_COLUMNS)} "
        f"ON videos WHEN NOT ({changed}) BEGIN {update} END",
        f"CREATE TRIGGER videos_summary_delete AFTER DELETE ON videos BEGIN {delete} END",
        "CREATE TRIGGER video_flags_counts_insert AFTER INSERT ON video_flags BEGIN "
        + _sqlite_flag("NEW", "") + " END",
        "CREATE TRIGGER video_flags_counts_update AFTER UPDATE OF flag ON video_flags "
        "WHEN OLD.flag IS NOT NEW.flag BEGIN " + _sqlite_flag("OLD", "-") + " "
        + _sqlite_flag("NEW", "") + " END",
        "CREATE TRIGGER video_flags_counts_delete AFTER DELETE ON video_flags BEGIN "
        + _sqlite_flag("OLD", "-") + " END",
    ]


# ---- PostgreSQL: statement-level triggers -----------------------------------------------------

def _pg_video_sides(table: str, sign: str) -> list[str]:
    out = []
    for counter, cond, item, seconds, amount in VIDEO_COUNTERS:
        s, b = (f"{sign}{v.format(r='r')}" if _varies(v) else v for v in (seconds, amount))
        out.append(f"SELECT '{counter}'::text AS counter, {item.format(r='r')}::text AS item, "
                   f"{sign}1 AS n, ({s})::float8 AS s, ({b})::bigint AS b "
                   f"FROM {table} r WHERE {cond.format(r='r')}")
    return out


def _pg_flag_side(table: str, sign: str) -> str:
    return (f"SELECT 'flag'::text AS counter, r.flag::text AS item, {sign}1 AS n, "
            f"0::float8 AS s, 0::bigint AS b FROM {table} r")


def _pg_video_skip(tables: list[str]) -> str:
    """No row of the statement is counted (a claim, an add of pending rows): return before
    the counting query (measured: a third of the trigger's cost on a one-row claim)."""
    counted = " OR ".join(dict.fromkeys(f"({cond.format(r='r')})"
                                        for _, cond, *_ in VIDEO_COUNTERS))
    return ("IF " + " AND ".join(f"NOT EXISTS (SELECT 1 FROM {t} r WHERE {counted})"
                                 for t in tables) + " THEN RETURN NULL; END IF; ")


def _pg_function(name: str, sides: list[str], skip: str = "") -> str:
    # the shard is the backend's own, rows in key order (as queue/counts.py's)
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        + skip + "INSERT INTO summary_counts AS c (counter, item, shard, n, seconds, amount) "
        "SELECT counter, item, pg_backend_pid(), SUM(n), SUM(s), SUM(b) FROM ("
        + " UNION ALL ".join(sides) + ") d GROUP BY counter, item "
        "HAVING SUM(n) <> 0 OR SUM(s) <> 0 OR SUM(b) <> 0 ORDER BY counter, item "
        "ON CONFLICT (counter, item, shard) DO UPDATE SET n = c.n + EXCLUDED.n, "
        "seconds = c.seconds + EXCLUDED.seconds, amount = c.amount + EXCLUDED.amount; "
        "RETURN NULL; END $$"
    )


_REFS = {"insert": "NEW TABLE AS new_rows",
         "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
         "delete": "OLD TABLE AS old_rows"}


def _pg_sides(event: str, side) -> list[str]:
    out: list[str] = []
    if event in ("update", "delete"):
        out += side("old_rows", "-")
    if event in ("insert", "update"):
        out += side("new_rows", "")
    return out


def _pg_triggers() -> list[str]:
    out = []
    for table, prefix, side in (
            ("videos", "videos_summary", _pg_video_sides),
            ("video_flags", "video_flags_counts", lambda t, s: [_pg_flag_side(t, s)])):
        for event, refs in _REFS.items():
            function = f"ytcorpus_{prefix}_{event}"
            tables = [t for t in ("old_rows", "new_rows") if t in refs]
            skip = _pg_video_skip(tables) if table == "videos" else ""
            out += [_pg_function(function, _pg_sides(event, side), skip),
                    f"DROP TRIGGER IF EXISTS {prefix}_{event} ON {table}",
                    f"CREATE TRIGGER {prefix}_{event} AFTER {event.upper()} ON {table} "
                    f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"]
    return out


# ---- building, folding, reading ----------------------------------------------------------------

def _rebuild() -> list[str]:
    """The counters from the rows as they are (in the transaction that installs the
    triggers, writers blocked), then the marker."""
    insert = "INSERT INTO summary_counts (counter, item, shard, n, seconds, amount) "
    out = ["DELETE FROM summary_counts"]
    for counter, cond, item, seconds, amount in VIDEO_COUNTERS:
        key = item.format(r="videos")
        sums = ", ".join(f"COALESCE(SUM({v.format(r='videos')}), 0)" if _varies(v) else v
                         for v in (seconds, amount))
        out.append(insert + f"SELECT '{counter}', {key}, 0, COUNT(*), {sums} FROM videos "
                   f"WHERE {cond.format(r='videos')}"
                   + (f" GROUP BY {key}" if _varies(item) else ""))
    out.append(insert + "SELECT 'flag', flag, 0, COUNT(*), 0, 0 FROM video_flags GROUP BY flag")
    out.append(insert + f"VALUES ('built', '', 0, {VERSION}, 0, 0)")
    return out


def schema_statements(backend: str) -> list[str]:
    """The table, its triggers and the counters built once (after video_flags exists)."""
    real = "REAL" if backend == "sqlite" else "DOUBLE PRECISION"
    if backend == "sqlite":
        return [TABLE.format(real=real)] + _sqlite_triggers() + _rebuild()
    return ([TABLE.format(real=real),
             "LOCK TABLE videos, video_flags IN SHARE ROW EXCLUSIVE MODE"]
            + _pg_triggers() + _rebuild())


def fold_statement() -> str:
    """PostgreSQL: this table's rows of ended backends, summed into shard 0."""
    return _fold(TABLE_NAME, ("counter", "item"), ("n", "seconds", "amount"))


def _table_readable(q: Queue, cur) -> bool:
    if q.backend == "sqlite":
        q._exec(cur, "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' "
                     f"AND name = '{TABLE_NAME}'")
        return bool(cur.fetchone()["n"])
    # a read-only role granted SELECT before the table existed cannot read it: count
    q._exec(cur, f"SELECT CASE WHEN to_regclass('{TABLE_NAME}') IS NULL THEN false ELSE "
                 f"has_table_privilege(to_regclass('{TABLE_NAME}'), 'SELECT') END AS ok")
    return bool(cur.fetchone()["ok"])


def built(q: Queue, cur) -> bool:
    """The counters are there and complete (the writable open's check)."""
    if not _table_readable(q, cur):
        return False
    q._exec(cur, "SELECT COALESCE(SUM(n), 0) AS n FROM summary_counts "
                 "WHERE counter = 'built' AND item = ''")
    return int(cur.fetchone()["n"]) >= VERSION


def read(q: Queue, cur, counters: tuple[str, ...]) -> dict[tuple[str, str], tuple] | None:
    """{(counter, item): (n, seconds, amount)} of these counters, items of no rows left out
    (n counts rows: at 0, the seconds left are float rounding); None when this database has
    no such counters (the caller counts the rows then)."""
    if getattr(q, "_shadowed", False):
        return None
    if not getattr(q, "_summary_counts", False):  # a table, once there, stays
        if not _table_readable(q, cur):
            return None
    marks = ", ".join(f"'{c}'" for c in (*counters, "built"))
    q._exec(cur, "SELECT counter, item, SUM(n) AS n, SUM(seconds) AS s, SUM(amount) AS b "
                 f"FROM summary_counts WHERE counter IN ({marks}) "
                 "GROUP BY counter, item ORDER BY counter, item")
    out: dict[tuple[str, str], tuple] = {}
    for r in cur.fetchall():
        n = int(r["n"] or 0)
        if n:
            out[(r["counter"], r["item"])] = (n, float(r["s"] or 0), int(r["b"] or 0))
    if out.pop(("built", ""), (0,))[0] < VERSION:
        return None
    q._summary_counts = True
    return out
