"""The read side of the queue: counts, errors, rows by id, completed rows for export.
Counts come from the counters (queue/counts.py), never from a scan of the table."""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

from ..core.models import Stats
from .counts import status_counts
from .patience import pages, parse_since, utc_text
from .schema import EXPORT_FIELDS


class QueueReads:
    """Mixed into queue.base.Queue: uses its read transactions and dialect helpers."""

    def errors(self, kind: str | None = None, limit: int | None = None, *,
               waiting: bool = False) -> list[dict]:
        """Failed rows, newest id first: video_id, url, error_kind, attempts, error, status,
        not_before. Rows in error (all, or one kind; a kind also lists its rows waiting
        to retry); waiting=True: only rows that failed and wait to retry (pending, with
        their next try in not_before). Read-only (`ytcorpus errors`, `requeue --dry-run`)."""
        sql = ("SELECT video_id, url, error_kind, attempts, error, status, not_before "
               "FROM videos WHERE ")
        retrying = "(status = 'pending' AND error_kind IS NOT NULL)"
        sql += retrying if waiting else f"(status = 'error' OR {retrying})" if kind \
            else "status = 'error'"
        params: tuple = ()
        if kind:
            sql += " AND error_kind = ?"
            params = (kind,)
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._read_tx() as cur:
            self._exec(cur, sql, params)
            return [dict(r) for r in cur.fetchall()]

    def stats(self) -> Stats:
        """Counts by status, completed audio and tokens, errors by kind (from the
        counters: constant time at any size), rows waiting to retry, live workers."""
        s = status_counts(self)
        s.active_workers = sum(1 for w in self.workers() if w["alive"])
        return s

    def completions_by_worker(self, since_ts: float) -> dict[str, tuple[int, float, int]]:
        """Per worker since a time: (videos, audio seconds, tokens). Index-only."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT worker, COUNT(*) AS n, COALESCE(SUM(duration_seconds), 0) "
                            "AS a, COALESCE(SUM(tokens), 0) AS t FROM videos"
                            f"{self._indexed('idx_videos_completed_at')} "
                            "WHERE status = 'completed' AND completed_at >= ? GROUP BY worker",
                       (utc_text(since_ts),))
            return {r["worker"] or "?": (int(r["n"]), float(r["a"]), int(r["t"]))
                    for r in cur.fetchall()}

    def completions_by_minute(self, since_ts: float) -> dict[str, float]:
        """Audio seconds completed per minute ('YYYY-MM-DD HH:MM') since a time."""
        with self._read_tx() as cur:
            self._exec(cur, "SELECT substr(completed_at, 1, 16) AS m, "
                            "COALESCE(SUM(duration_seconds), 0) AS a FROM videos"
                            f"{self._indexed('idx_videos_completed_at')} "
                            "WHERE status = 'completed' AND completed_at >= ? "
                            "GROUP BY substr(completed_at, 1, 16)", (utc_text(since_ts),))
            return {r["m"]: float(r["a"]) for r in cur.fetchall()}

    def known(self, video_ids: Sequence[str]) -> set[str]:
        """Which of these ids are already queued (any status)."""
        found: set[str] = set()
        with self._read_tx() as cur:
            for chunk in pages(list(video_ids), 500):
                marks = ",".join("?" * len(chunk))
                self._exec(cur, f"SELECT video_id FROM videos WHERE video_id IN ({marks})",
                           chunk)
                found.update(r["video_id"] for r in cur.fetchall())
        return found

    def get(self, video_id: str) -> dict | None:
        with self._read_tx() as cur:
            self._exec(cur, "SELECT * FROM videos WHERE video_id = ?", (video_id,))
            row = cur.fetchone()
        return dict(row) if row is not None else None

    def iter_completed(self, since: str | None = None, *, min_tokens: int | None = None,
                       language: str | None = None, page: int = 1000,
                       after_seq: int | None = None) -> Iterator[dict]:
        """Stream completed rows in id order, one page at a time (flat memory).
        after_seq: only rows completed after that completion number, in completion order
        (export --incremental; numbers are handed out in commit order, see schema.py)."""
        key = "id" if after_seq is None else "completed_seq"
        where = ["status = 'completed'", f"{key} > ?"]
        extra: list[Any] = []
        settled = self._settled_seq() if after_seq is not None else None
        if settled is not None:  # numbers still held by open transactions wait for later
            where.append("completed_seq <= ?")
            extra.append(settled)
        if since:
            where.append("completed_at > ?")
            extra.append(parse_since(since))
        if min_tokens is not None:
            where.append("tokens >= ?")
            extra.append(min_tokens)
        if language:
            where.append("language = ?")
            extra.append(language)
        sql = (f"SELECT {', '.join(EXPORT_FIELDS)} FROM videos WHERE {' AND '.join(where)} "
               f"ORDER BY {key} LIMIT {int(page)}")
        last = after_seq or 0
        while True:
            with self._read_tx() as cur:
                self._exec(cur, sql, (last, *extra))
                rows = cur.fetchall()
            if not rows:
                return
            for row in rows:
                record = dict(row)
                record["segments"] = json.loads(record["segments"] or "[]")
                record["flags"] = json.loads(record["flags"] or "[]")
                record["quality"] = json.loads(record["quality"] or "null")
                yield record
            last = rows[-1][key]
