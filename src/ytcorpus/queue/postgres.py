"""PostgreSQL backend: many machines share one queue; claims use FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from functools import lru_cache, partial

from ..core.errors import DatabaseUnavailableError, QueueError
from . import counts, summary_counts
from .base import Queue
from .compat import postgres_shadow_sql
from .schema import SCHEMA_VERSION, create_videos_sql, upgrade_statements

_INSERT = (
    "INSERT INTO videos (video_id, url, title, course, university, duration_seconds, "
    "priority, source, channel, license, license_source) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::float8[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[]) "
    "ON CONFLICT (video_id) DO NOTHING"
)
_CLAIM = (
    "UPDATE videos SET status = 'processing', worker = %s, lease_until = %s "
    "WHERE id = ANY(ARRAY(SELECT id FROM videos WHERE status = 'pending' AND not_before <= %s "
    "ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED)) "
    "RETURNING id, video_id, url, title, duration_seconds, attempts, priority, crashes, "
    "staged_path"
)
# ytcorpus fetch: staged rows only, or unstaged rows only
_CLAIM_STAGED = _CLAIM.replace("WHERE status = 'pending'",
                               "WHERE status = 'pending' AND staged_path IS NOT NULL")
_CLAIM_UNSTAGED = _CLAIM.replace("WHERE status = 'pending'",
                                 "WHERE status = 'pending' AND staged_path IS NULL")
assert _CLAIM_STAGED != _CLAIM and _CLAIM_UNSTAGED != _CLAIM
log = logging.getLogger(__name__)

_SCHEMA_LOCK = 0x79746370  # advisory lock id: one process migrates at a time


@lru_cache(maxsize=256)
def _to_pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresQueue(Queue):
    backend = "postgres"
    _shadowed = False  # an older schema read through temp views (queue/compat.py)
    _for_update = " FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 4, create: bool = True,
                 read_only: bool = False, connect_timeout: int = 10, **kwargs):
        """create=False: a database without the ytcorpus tables is an error; read_only:
        every transaction is read-only and the schema is never upgraded."""
        super().__init__(**kwargs)
        from . import redact

        self.url = url
        self._safe = redact(url)
        self._clock_offset, self._clock_checked = 0.0, float("-inf")
        self.read_only = read_only
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError as exc:  # pragma: no cover - requirements install it
            raise QueueError("PostgreSQL needs psycopg and psycopg-pool installed") from exc
        self._psycopg = psycopg
        self._unavailable = (psycopg.OperationalError, PoolTimeout)
        options = {"row_factory": dict_row, "connect_timeout": connect_timeout}
        try:  # one plain connection first: an unreachable server fails now, in one line
            psycopg.connect(url, connect_timeout=connect_timeout).close()
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"cannot reach PostgreSQL at {self._safe}: {_first_line(exc)}") from None
        configure = _read_only if read_only else None
        if read_only:  # an older queue is read through temp views, never upgraded
            try:
                with psycopg.connect(url, connect_timeout=connect_timeout) as conn:
                    shadow = postgres_shadow_sql(conn)
            except psycopg.Error as exc:
                raise QueueError(f"cannot read the schema of {self._safe}: "
                                 f"{_first_line(exc)}") from None
            if shadow:
                self._shadowed = True
                configure = partial(_read_only_shadowed, shadow)
        try:
            # check: a connection broken by a server restart is replaced, not handed out
            self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                       kwargs=options, timeout=connect_timeout,
                                       check=_check_connection,
                                       configure=configure)
            self.pool.open(wait=True, timeout=connect_timeout)
            self._ensure_schema(create)
        except QueueError:
            self.pool.close()
            raise
        except Exception as exc:
            raise QueueError(f"cannot open PostgreSQL queue {self._safe}: "
                             f"{redact(_first_line(exc))}") from None

    def describe(self) -> str:
        return self._safe

    def close(self) -> None:
        self.pool.close()

    def _q(self, sql: str) -> str:
        return _to_pyformat(sql)

    def _exec(self, cur, sql: str, params=()):
        cur.execute(self._q(sql), tuple(params) if params else None)
        return cur

    @contextmanager
    def _write_tx(self):
        try:
            with self.pool.connection() as conn:  # commits on success, rolls back on error
                with conn.cursor() as cur:
                    yield cur
        except self._unavailable as exc:  # server gone, restarting, or no connection free
            raise DatabaseUnavailableError(f"{self._safe}: {_first_line(exc)}") from exc
        except self._psycopg.Error as exc:
            raise QueueError(f"{self._safe}: {_first_line(exc)}") from exc

    _read_tx = _write_tx

    CLOCK_CHECK_S = 60.0

    def _now(self, cur) -> float:
        """The server's clock, so leases and backoffs mean the same on every node: this
        host's clock plus its offset from the server's, measured once a minute (a query
        per claim would double the claim's round trips)."""
        if time.monotonic() - self._clock_checked > self.CLOCK_CHECK_S:
            sent = time.time()
            cur.execute("SELECT extract(epoch from clock_timestamp())::float8 AS now")
            server = float(cur.fetchone()["now"])
            back = time.time()
            self._clock_offset = server - (sent + back) / 2
            self._clock_checked = time.monotonic()
        return time.time() + self._clock_offset

    # the transaction's id first, then its numbers: a transaction holding a number below
    # what the sequence handed out is one that _settled_seq sees in progress
    _NUMBERS = ("WITH x AS MATERIALIZED (SELECT pg_current_xact_id() AS x) "
                "SELECT nextval('completion_numbers') AS v FROM x, generate_series(1, %s)")

    def _completion_numbers(self, cur, n: int) -> list[int]:
        """n numbers from the completion_numbers SEQUENCE: no row lock shared by the fleet
        (the locked counter row serialised every completion of every node)."""
        cur.execute(self._NUMBERS, (n,))
        return sorted(int(r["v"]) for r in cur.fetchall())

    SETTLE_WAIT_S = 300.0

    def _settled_seq(self) -> int | None:
        """Numbers come from a sequence, so they are not in commit order: read the last
        number handed out, then wait until every transaction open at that moment has ended
        (each took its id before its numbers). Then every number up to it is committed or
        lost, and an export that reads up to it misses nothing later."""
        if self._shadowed:  # an older queue: its counter row numbered in commit order
            return None
        with self._read_tx() as cur:
            cur.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS s "
                        "FROM completion_numbers")
            settled = int(cur.fetchone()["s"])
            cur.execute("SELECT pg_snapshot_xip(pg_current_snapshot())::text AS x")
            open_ = [r["x"] for r in cur.fetchall()]
        deadline = time.monotonic() + self.SETTLE_WAIT_S
        while open_:
            if time.monotonic() > deadline:
                raise QueueError(f"{self._safe}: transactions {', '.join(open_[:5])} have "
                                 f"been open over {self.SETTLE_WAIT_S:.0f} s; an incremental "
                                 "export waits for them to end (try again later)")
            time.sleep(0.02)
            with self._read_tx() as cur:
                cur.execute("SELECT x::text AS x FROM unnest(%s::text[]::xid8[]) AS x "
                            "WHERE pg_xact_status(x) = 'in progress'", (open_,))
                open_ = [r["x"] for r in cur.fetchall()]
        return settled

    def _insert_new(self, cur, rows: list[tuple]) -> int:
        columns = [list(col) for col in zip(*rows)]
        cur.execute(_INSERT, columns)
        return cur.rowcount

    def _claim_rows(self, cur, worker: str, n: int, lease_until: float, now: float,
                    staged: bool | None = None) -> list:
        sql = _CLAIM if staged is None else _CLAIM_STAGED if staged else _CLAIM_UNSTAGED
        cur.execute(sql, (worker, lease_until, now, n))
        return cur.fetchall()

    def _ensure_schema(self, create: bool = True) -> None:
        with self._write_tx() as cur:
            cur.execute("SELECT to_regclass('schema_version') IS NOT NULL AS have")
            current = None
            if cur.fetchone()["have"]:
                cur.execute("SELECT MAX(version) AS v FROM schema_version")
                current = cur.fetchone()["v"]
            if current is not None and current >= SCHEMA_VERSION:
                if not self.read_only:
                    self._replace_old_functions(cur)
                    self._build_summary_counts(cur)
                return
            if self.read_only and self._shadowed:  # queue/compat.py
                return
            if current is None and not create:
                raise QueueError(f"no ytcorpus queue in {self._safe}: run `ytcorpus init`")
            if self.read_only:
                raise QueueError(f"{self._safe} has schema {current}, this ytcorpus needs "
                                 f"{SCHEMA_VERSION}: run `ytcorpus init` to upgrade it")
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) AS v FROM schema_version")
            current = cur.fetchone()["v"]
            if current is not None and current >= SCHEMA_VERSION:
                return
            cur.execute(create_videos_sql("postgres"))
            cur.execute("SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'videos' AND table_schema = current_schema()")
            have = {r["column_name"] for r in cur.fetchall()}
            for sql in upgrade_statements("postgres", have):
                cur.execute(sql)
            cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))


    def _replace_old_functions(self, cur) -> None:
        """A queue whose counter triggers still share shards between backends (pid % 32:
        two backends on one counter row could deadlock) gets the per-backend functions;
        the counters stay exact (readers sum every shard)."""
        cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ytcorpus_counts_update'")
        row = cur.fetchone()
        if row is None or counts.OLD_SHARD not in row["prosrc"]:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ytcorpus_counts_update'")
        if counts.OLD_SHARD in cur.fetchone()["prosrc"]:
            for sql in counts.pg_functions():
                cur.execute(sql)

    def _build_summary_counts(self, cur) -> None:
        """A queue made before the counters of quality_summary and download_totals gets
        them, built once under the schema lock (queue/summary_counts.py)."""
        if summary_counts.built(self, cur):
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        if not summary_counts.built(self, cur):
            for sql in summary_counts.schema_statements("postgres"):
                cur.execute(sql)

    def checkpoint(self) -> None:
        """Worth calling now and then on a long run (every worker's reaper does): the
        counter rows of connections that ended are summed into one (queue/counts.py)."""
        try:
            with self._write_tx() as cur:
                cur.execute(counts.fold_statement())
                cur.execute(summary_counts.fold_statement())
        except QueueError as exc:  # the next checkpoint tries again
            log.debug("counter fold skipped: %s", exc)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _read_only(conn) -> None:
    # BEGIN READ ONLY on every transaction (not a startup option: pgbouncer refuses those)
    conn.read_only = True


def _read_only_shadowed(statements: list[str], conn) -> None:
    """A read-only pool connection over an older queue: temp views first (a read-only
    transaction may not create them), then read-only like _read_only."""
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    conn.commit()
    conn.read_only = True


def _check_connection(conn) -> None:
    """The pool's check before lending a connection: one that a server restart has cut is
    replaced instead of failing its next query. An idle connection has nothing to read
    unless the server spoke (a termination notice, or EOF when the socket closed): only
    then does it cost a round trip (psycopg_pool's own check_connection)."""
    import select

    from psycopg_pool import ConnectionPool

    if conn.closed or getattr(conn, "broken", False):
        raise ConnectionError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
