"""Counts in constant time: per-status rows, audio seconds and tokens, kept as the queue
changes by triggers on the videos table, so `stats`, the monitor, Prometheus and worker
progress read a few dozen counter rows instead of counting 30 million.

Every change of a row's status (add, claim, complete, fail, release, requeue, reap,
migrate, staging, anything a later module writes) goes through the triggers, in the
same transaction as the change: the counters are exact by construction, and code that
changes a status never has to remember them.

queue_counts holds one row per (status, kind, shard); kind is the error_kind of rows in
error ('' otherwise). SQLite has one writer: shard 0. PostgreSQL: a statement-level
trigger adds one delta per (status, kind) to the shard of its backend (the shard IS
pg_backend_pid()): a backend runs one transaction at a time, so no two transactions ever
wait on the same counter row. (Shards pid % 32 let two backends share a shard; a
transaction of two statements (reap, then claim) could then take two counter rows in the
other order than a neighbour: a deadlock, seen under eight concurrent claimers.) Readers
sum the shards; `fold_statement()` moves the rows of backends that ended into shard 0
(SKIP LOCKED: it never waits on a live backend, so it cannot deadlock either), run by
every worker's periodic checkpoint, so the table holds about ten rows per live
connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.models import Stats

# base.Queue (not imported: base imports this module)
Queue = Any

# the trigger's shard before version 7's fix (found in an existing function: replaced)
OLD_SHARD = "pg_backend_pid() % 32"

TABLE = (
    "CREATE TABLE IF NOT EXISTS queue_counts (status TEXT NOT NULL, kind TEXT NOT NULL, "
    "shard INTEGER NOT NULL, n BIGINT NOT NULL DEFAULT 0, audio_seconds {real} NOT NULL "
    "DEFAULT 0, tokens BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (status, kind, shard))"
)

# the key of a row (r: NEW, OLD, or a transition table's alias)
_STATUS = "COALESCE({r}.status, '')"
_KIND = "CASE WHEN {r}.status = 'error' THEN COALESCE({r}.error_kind, 'unknown') ELSE '' END"


def _key(r: str) -> tuple[str, str]:
    return _STATUS.format(r=r), _KIND.format(r=r)


def _sqlite_upsert(r: str, sign: str) -> str:
    status, kind = _key(r)
    return (f"INSERT INTO queue_counts (status, kind, shard, n, audio_seconds, tokens) "
            f"VALUES ({status}, {kind}, 0, {sign}1, {sign}COALESCE({r}.duration_seconds, 0), "
            f"{sign}COALESCE({r}.tokens, 0)) ON CONFLICT (status, kind, shard) DO UPDATE SET "
            "n = n + excluded.n, audio_seconds = audio_seconds + excluded.audio_seconds, "
            "tokens = tokens + excluded.tokens;")


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in
                          ("status", "error_kind", "duration_seconds", "tokens"))
    return [
        "CREATE TRIGGER IF NOT EXISTS videos_counts_insert AFTER INSERT ON videos BEGIN "
        + _sqlite_upsert("NEW", "") + " END",
        "CREATE TRIGGER IF NOT EXISTS videos_counts_update AFTER UPDATE OF status, error_kind, "
        f"duration_seconds, tokens ON videos WHEN {changed} BEGIN "
        + _sqlite_upsert("OLD", "-") + " " + _sqlite_upsert("NEW", "") + " END",
        "CREATE TRIGGER IF NOT EXISTS videos_counts_delete AFTER DELETE ON videos BEGIN "
        + _sqlite_upsert("OLD", "-") + " END",
    ]


def _pg_side(table: str, sign: str) -> str:
    status, kind = _key("r")
    return (f"SELECT {status} AS status, {kind} AS kind, {sign}1 AS n, "
            f"{sign}COALESCE(r.duration_seconds, 0) AS a, {sign}COALESCE(r.tokens, 0) AS t "
            f"FROM {table} r")


def _pg_function(name: str, sides: list[str]) -> str:
    # the shard is the backend's own: no other transaction waits on its counter rows
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO queue_counts AS c (status, kind, shard, n, audio_seconds, tokens) "
        f"SELECT status, kind, pg_backend_pid(), SUM(n), SUM(a), SUM(t) FROM ("
        + " UNION ALL ".join(sides) + ") d GROUP BY status, kind "
        "HAVING SUM(n) <> 0 OR SUM(a) <> 0 OR SUM(t) <> 0 ORDER BY status, kind "
        "ON CONFLICT (status, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n, "
        "audio_seconds = c.audio_seconds + EXCLUDED.audio_seconds, "
        "tokens = c.tokens + EXCLUDED.tokens; RETURN NULL; END $$"
    )


def pg_functions() -> list[str]:
    """The trigger functions (CREATE OR REPLACE: a queue made by an older version gets
    them at its next writable open, postgres.py)."""
    return [
        _pg_function("ytcorpus_counts_insert", [_pg_side("new_rows", "")]),
        _pg_function("ytcorpus_counts_update", [_pg_side("old_rows", "-"),
                                                _pg_side("new_rows", "")]),
        _pg_function("ytcorpus_counts_delete", [_pg_side("old_rows", "-")]),
    ]


def _pg_triggers() -> list[str]:
    out = pg_functions()
    for event, refs in (("insert", "NEW TABLE AS new_rows"),
                        ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                        ("delete", "OLD TABLE AS old_rows")):
        out += [f"DROP TRIGGER IF EXISTS videos_counts_{event} ON videos",
                f"CREATE TRIGGER videos_counts_{event} AFTER {event.upper()} ON videos "
                f"REFERENCING {refs} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION ytcorpus_counts_{event}()"]
    return out


def schema_statements(backend: str) -> list[str]:
    """The counter table, its triggers, and the counters built once from the rows (in the
    upgrade's transaction; PostgreSQL first blocks writers of videos until it commits)."""
    real = "REAL" if backend == "sqlite" else "DOUBLE PRECISION"
    status, kind = _key("videos")
    rebuild = ["DELETE FROM queue_counts",
               "INSERT INTO queue_counts (status, kind, shard, n, audio_seconds, tokens) "
               f"SELECT {status}, {kind}, 0, COUNT(*), COALESCE(SUM(duration_seconds), 0), "
               f"COALESCE(SUM(tokens), 0) FROM videos GROUP BY {status}, {kind}"]
    if backend == "sqlite":
        return [TABLE.format(real=real)] + _sqlite_triggers() + rebuild
    return ([TABLE.format(real=real), "LOCK TABLE videos IN SHARE ROW EXCLUSIVE MODE"]
            + _pg_triggers() + rebuild)


def fold_statement(table: str = "queue_counts", keys: tuple[str, ...] = ("status", "kind"),
                   values: tuple[str, ...] = ("n", "audio_seconds", "tokens")) -> str:
    """PostgreSQL: the counter rows of backends that ended, summed into shard 0 (no backend
    has pid 0). Rows a live backend holds are skipped, never waited for. (The other counter
    table, queue/summary_counts.py, is folded by the same statement over its columns.)"""
    k, v = ", ".join(keys), ", ".join(values)
    return (
        f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {table} WHERE shard <> 0 AND shard NOT IN "
        "(SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL) "
        f"FOR UPDATE SKIP LOCKED)) RETURNING {k}, {v}) "
        f"INSERT INTO {table} AS c ({k}, shard, {v}) "
        f"SELECT {k}, 0, " + ", ".join(f"SUM({c})" for c in values) + " FROM gone "
        f"GROUP BY {k} ORDER BY {k} "
        f"ON CONFLICT ({k}, shard) DO UPDATE SET "
        + ", ".join(f"{c} = c.{c} + EXCLUDED.{c}" for c in values)
    )


def read_counts(q: Queue, cur, s: Stats) -> None:
    """Fill the status counts, completed totals and errors by kind of `s` from the
    counters (a few dozen rows at any queue size)."""
    q._exec(cur, "SELECT status, kind, SUM(n) AS n, SUM(audio_seconds) AS a, "
                 "SUM(tokens) AS t FROM queue_counts GROUP BY status, kind")
    kinds: dict[str, int] = {}
    for r in cur.fetchall():
        n = int(r["n"] or 0)
        if n == 0 and not r["a"] and not r["t"]:
            continue
        s.total += n
        if r["status"] in ("pending", "processing", "completed", "error"):
            setattr(s, r["status"], getattr(s, r["status"]) + n)
        if r["status"] == "completed":
            s.audio_seconds_completed += float(r["a"] or 0)
            s.tokens_completed += int(r["t"] or 0)
        if r["status"] == "error" and n:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + n
    s.errors_by_kind = kinds


def _scan_counts(q: Queue, cur, s: Stats) -> None:
    """An older database read as it is (no counters): count the rows."""
    q._exec(cur, "SELECT status, COUNT(*) AS n FROM videos GROUP BY status")
    for r in cur.fetchall():
        if r["status"] in ("pending", "processing", "completed", "error"):
            setattr(s, r["status"], int(r["n"]))
        s.total += int(r["n"])
    q._exec(cur, "SELECT COALESCE(SUM(duration_seconds), 0) AS a, COALESCE(SUM(tokens), 0) "
                 "AS t FROM videos WHERE status = 'completed'")
    r = cur.fetchone()
    s.audio_seconds_completed = float(r["a"] or 0)
    s.tokens_completed = int(r["t"] or 0)
    q._exec(cur, "SELECT COALESCE(error_kind, 'unknown') AS k, COUNT(*) AS n "
                 "FROM videos WHERE status = 'error' GROUP BY error_kind")
    s.errors_by_kind = {r["k"]: int(r["n"]) for r in cur.fetchall()}


def status_counts(q: Queue, *, retry: bool = True) -> Stats:
    """Stats without the workers: counts from the counters (an older database read
    as it is: by counting), and rows waiting out a retry backoff (their own index)."""
    from ..core.models import Stats

    s = Stats()
    with q._read_tx() as cur:
        if getattr(q, "_shadowed", False):
            _scan_counts(q, cur, s)
        else:
            read_counts(q, cur, s)
        if retry:
            q._exec(cur, "SELECT COUNT(*) AS n FROM videos"
                         f"{q._indexed('idx_videos_retry')}"
                         " WHERE status = 'pending' AND not_before > 0 AND not_before > ?",
                    (q._now(cur),))
            s.waiting_retry = int(cur.fetchone()["n"])
    return s
