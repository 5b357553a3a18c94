"""PostgreSQL backend: many machines share one queue; claims use FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

from ..errors import QueueError
from .base import Queue
from .schema import SCHEMA_VERSION, create_videos_sql, upgrade_statements

_INSERT = (
    "INSERT INTO videos (video_id, url, title, course, university, duration_seconds, "
    "priority, source, channel, license) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::float8[], %s::int[], %s::text[], %s::text[], %s::text[]) "
    "ON CONFLICT (video_id) DO NOTHING"
)
_CLAIM = (
    "UPDATE videos SET status = 'processing', worker = %s, lease_until = %s "
    "WHERE id = ANY(ARRAY(SELECT id FROM videos WHERE status = 'pending' AND not_before <= %s "
    "ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED)) "
    "RETURNING id, video_id, url, title, duration_seconds, attempts, priority"
)
_SCHEMA_LOCK = 0x79746370  # advisory lock id: one process migrates at a time


@lru_cache(maxsize=256)
def _to_pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresQueue(Queue):
    backend = "postgres"
    _for_update = " FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        from . import redact

        self.url = url
        self._safe = redact(url)
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - requirements install it
            raise QueueError("PostgreSQL needs psycopg and psycopg-pool installed") from exc
        self._errors = (psycopg.Error,)
        try:
            self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                       kwargs={"row_factory": dict_row})
            self.pool.open(wait=True, timeout=15)
            self._ensure_schema()
        except Exception as exc:
            raise QueueError(f"cannot open PostgreSQL queue {self._safe}: "
                             f"{redact(str(exc)) or type(exc).__name__}") from None

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
        with self.pool.connection() as conn:  # commits on success, rolls back on error
            with conn.cursor() as cur:
                yield cur

    _read_tx = _write_tx

    def _insert_new(self, cur, rows: list[tuple]) -> int:
        columns = [list(col) for col in zip(*rows)]
        cur.execute(_INSERT, columns)
        return cur.rowcount

    def _claim_rows(self, cur, worker: str, n: int, lease_until: float, now: float) -> list:
        cur.execute(_CLAIM, (worker, lease_until, now, n))
        return cur.fetchall()

    def _ensure_schema(self) -> None:
        with self._write_tx() as cur:
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
