"""SQLite backend: one file in WAL mode, claims under BEGIN IMMEDIATE."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import DatabaseUnavailableError, QueueError
from . import summary_counts
from .base import Queue
from .compat import shadow_old_schema
from .schema import SCHEMA_VERSION, create_videos_sql, upgrade_statements

log = logging.getLogger(__name__)

# OperationalErrors that are a mistake in SQL or schema, not an unusable file
_SCHEMA_MISTAKE = re.compile(r"no such (table|column|index)|syntax error|has no column",
                             re.IGNORECASE)

BUSY_TIMEOUT_MS = 30_000  # lock waits of 0.7-3.2 s were measured with 4+ writers

# status spelled out: a table made by the original tool has no default for it (and an
# upgrade cannot add one), so a row added without it would be NULL, never claimed
_INSERT = (
    "INSERT OR IGNORE INTO videos (video_id, url, title, course, university, "
    "duration_seconds, priority, source, channel, license, license_source, status) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,'pending')"
)
# INDEXED BY: without table statistics the planner prefers idx_videos_status and sorts
# every pending row (measured: 89 claims/s instead of thousands).
CLAIMABLE = (
    "SELECT id FROM videos INDEXED BY idx_videos_pending WHERE status = 'pending' "
    "AND not_before <= ? ORDER BY priority DESC, id LIMIT ?"
)
_CLAIM = (
    "UPDATE videos SET status = 'processing', worker = ?, lease_until = ? "
    f"WHERE id IN ({CLAIMABLE}) "
    "RETURNING id, video_id, url, title, duration_seconds, attempts, priority, crashes, "
    "staged_path"
)
# ytcorpus fetch: staged rows only (their own partial index), or unstaged rows only
_CLAIM_STAGED = _CLAIM.replace("INDEXED BY idx_videos_pending WHERE status = 'pending'",
                               "INDEXED BY idx_videos_staged WHERE status = 'pending' "
                               "AND staged_path IS NOT NULL")
_CLAIM_UNSTAGED = _CLAIM.replace("WHERE status = 'pending'",
                                 "WHERE status = 'pending' AND staged_path IS NULL")
assert _CLAIM_STAGED != _CLAIM and _CLAIM_UNSTAGED != _CLAIM


class SqliteQueue(Queue):
    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, *, create: bool = True,
                 read_only: bool = False, **kwargs):
        """create=False: a missing file is an error (only `init` and `add` create one).
        read_only=True: no writes and no schema upgrade (stats, monitor, export)."""
        super().__init__(**kwargs)
        self.path = str(path)
        self.read_only = read_only
        file = Path(self.path).expanduser()
        if (read_only or not create) and not file.is_file():
            raise QueueError(f"no database at {self.path}: the file does not exist (run "
                             "`ytcorpus init` to create "
                             "one, or give the right --db / YTCORPUS_DB)")
        parent = file.resolve().parent
        if not parent.is_dir():
            raise QueueError(f"cannot create database {self.path}: folder {parent} does not exist")
        self._lock = threading.RLock()
        try:
            if read_only:
                self._conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True,
                                             timeout=BUSY_TIMEOUT_MS / 1000,
                                             isolation_level=None, check_same_thread=False)
            else:
                self._conn = sqlite3.connect(str(file), timeout=BUSY_TIMEOUT_MS / 1000,
                                             isolation_level=None, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema()
        except sqlite3.Error as exc:
            raise self._typed(exc, "cannot open SQLite database") from None

    def _typed(self, exc: sqlite3.Error, doing: str = "") -> QueueError:
        """sqlite3 errors as ytcorpus errors: an unusable file (full disk, I/O error,
        locked for good, gone) is DatabaseUnavailableError (a node fault: pause and retry);
        anything else is a QueueError."""
        text = str(exc) or type(exc).__name__
        where = f"{doing} {self.path}" if doing else self.path
        if isinstance(exc, sqlite3.OperationalError) and not _SCHEMA_MISTAKE.search(text):
            return DatabaseUnavailableError(f"{where}: {text}")
        return QueueError(f"{where}: {text}")

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    _shadowed = False  # an older schema read through temp views (queue/compat.py)

    def _indexed(self, index: str) -> str:
        if self._shadowed:  # a view has no indexes (an old file may lack this one)
            return ""
        # without ANALYZE statistics the planner prefers idx_videos_status and then reads
        # every completed row, transcript included
        return f" INDEXED BY {index}"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write_tx(self):
        if self.read_only:
            raise QueueError(f"{self.path} was opened read-only")
        with self._lock:
            self._begin_immediate()
            try:
                yield self._conn.cursor()
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:  # the failure already ended the transaction
                        pass
                if isinstance(exc, sqlite3.Error):
                    raise self._typed(exc) from exc
                raise

    def _begin_immediate(self) -> None:
        # busy_timeout covers ordinary waits; a few retries cover pathological ones.
        for attempt in range(5):
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise self._typed(exc) from exc
                if attempt == 4:
                    raise DatabaseUnavailableError(
                        f"{self.path}: database stayed locked: {exc}") from exc
                time.sleep(0.1 * (attempt + 1))

    @contextmanager
    def _read_tx(self):
        with self._lock:
            try:
                yield self._conn.cursor()
            except sqlite3.Error as exc:
                raise self._typed(exc) from exc

    def _insert_new(self, cur, rows: list[tuple]) -> int:
        cur.executemany(_INSERT, rows)
        return cur.rowcount  # the rows inserted (total_changes would count triggers too)

    def _claim_rows(self, cur, worker: str, n: int, lease_until: float, now: float,
                    staged: bool | None = None) -> list:
        sql = _CLAIM if staged is None else _CLAIM_STAGED if staged else _CLAIM_UNSTAGED
        cur.execute(sql, (worker, lease_until, now, n))
        return cur.fetchall()

    def _ensure_schema(self) -> None:
        conn = self._conn
        if self.read_only:
            have = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'schema_version'").fetchone()
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone() \
                if have else (None,)
            if row[0] is None or row[0] < SCHEMA_VERSION:
                videos = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                      "AND name = 'videos'").fetchone()
                if videos is None:
                    raise QueueError(f"{self.path} is not a ytcorpus database (no videos "
                                     "table): run `ytcorpus init` to create one")
                # an older schema (the original tool's, an earlier release's): read it as
                # this version through temp views, without upgrading the file
                shadow_old_schema(conn)
                self._shadowed = True
            return
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        if row[0] is not None and row[0] >= SCHEMA_VERSION:
            if not summary_counts.built(self, conn.cursor()):  # made before these counters
                with self._write_tx() as cur:
                    if not summary_counts.built(self, cur):
                        for sql in summary_counts.schema_statements("sqlite"):
                            cur.execute(sql)
            return
        with self._write_tx() as cur:
            cur.execute(create_videos_sql("sqlite"))
            have = {r[1] for r in cur.execute("PRAGMA table_info(videos)").fetchall()}
            for sql in upgrade_statements("sqlite", have):
                cur.execute(sql)
            cur.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def checkpoint(self) -> None:
        """Shrink the WAL; worth calling now and then on a long run."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:  # busy readers: try again next time
                log.debug("WAL checkpoint skipped: %s", exc)
