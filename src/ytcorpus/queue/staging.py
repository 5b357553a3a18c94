"""Queue side of the fetch fleet (ytcorpus.stage): rows staged by download-only workers,
the staged backlog, bytes downloaded, and per-route pacing counters for the monitor.

A staged row is `pending` with `staged_path` set: GPU workers claim it (claim(...,
staged=True)) and read the audio from the store instead of downloading it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from . import summary_counts
from .hooks import CompletionHook, register

if TYPE_CHECKING:
    from ..core.models import Result
    from .base import Queue


def store_audio(q: Queue, cur, video_id: str, result: Result, _prepared=None) -> None:
    """Inside complete_many's transaction: what the download cost."""
    if result.audio_bytes is None and not result.audio_format:
        return
    q._exec(cur, "UPDATE videos SET audio_bytes = COALESCE(?, audio_bytes), "
                 "audio_format = COALESCE(?, audio_format) WHERE video_id = ?",
            (result.audio_bytes, json.dumps(result.audio_format) if result.audio_format
             else None, video_id))


register(CompletionHook("audio", store_audio))


def mark_staged(q: Queue, worker: str, video_id: str, *, staged_path: str, seconds: float,
                size: int, audio_format: dict | None = None,
                metadata: dict[str, Any] | None = None) -> bool:
    """A fetch worker staged this row's audio: the row goes back to pending (no attempt
    charged), staged, for a GPU worker. False if the worker no longer held it."""
    meta = metadata or {}
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL, lease_until = NULL, "
                     "staged_path = ?, staged_seconds = ?, staged_bytes = ?, staged_at = ?, "
                     "audio_bytes = ?, audio_format = ?, duration_seconds = ?, "
                     "title = COALESCE(title, ?), channel = COALESCE(channel, ?), "
                     "license = COALESCE(license, ?) "
                     "WHERE video_id = ? AND status = 'processing' AND worker = ?",
                (staged_path, seconds, size, time.time(), size,
                 json.dumps(audio_format) if audio_format else None, seconds,
                 meta.get("title"), meta.get("channel"), meta.get("license"),
                 video_id, worker))
        return cur.rowcount == 1


def unstage(q: Queue, worker: str, video_id: str) -> bool:
    """The staged file is gone: forget it, so a fetch worker stages the row again."""
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET staged_path = NULL, staged_seconds = NULL, "
                     "staged_bytes = NULL WHERE video_id = ? AND worker = ?",
                (video_id, worker))
        return cur.rowcount == 1


def staged_backlog(q: Queue) -> tuple[int, float, int]:
    """(videos, audio seconds, bytes) staged and not yet transcribed."""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT COUNT(*) AS n, COALESCE(SUM(staged_seconds), 0) AS s, "
                     "COALESCE(SUM(staged_bytes), 0) AS b FROM videos"
                     f"{q._indexed('idx_videos_staged_backlog')} "
                     "WHERE staged_path IS NOT NULL AND status IN ('pending', 'processing')")
        r = cur.fetchone()
    return int(r["n"]), float(r["s"]), int(r["b"])


def download_totals(q: Queue, since: float | None = None) -> dict[str, float]:
    """Bytes downloaded over audio seconds (every row that recorded its bytes), and the
    fetch fleet's staging rate since a time."""
    with q._read_tx() as cur:
        counted = summary_counts.read(q, cur, ("downloaded",))
        if counted is not None:  # the counters (queue/summary_counts.py)
            n, s, b = counted.get(("downloaded", ""), (0, 0.0, 0))
            out = {"videos": n, "bytes": b, "seconds": s}
        else:  # an older database read as it is: the partial index
            q._exec(cur, "SELECT COUNT(*) AS n, COALESCE(SUM(audio_bytes), 0) AS b, "
                         "COALESCE(SUM(duration_seconds), 0) AS s FROM videos"
                         f"{q._indexed('idx_videos_audio_bytes')} WHERE audio_bytes IS NOT NULL")
            r = cur.fetchone()
            out = {"videos": int(r["n"]), "bytes": int(r["b"]), "seconds": float(r["s"])}
        if since is not None:
            q._exec(cur, "SELECT COUNT(*) AS n, COALESCE(SUM(staged_seconds), 0) AS s FROM videos"
                         f"{q._indexed('idx_videos_staged_at')} WHERE staged_at >= ?", (since,))
            r = cur.fetchone()
            out.update(staged_videos=int(r["n"]), staged_seconds=float(r["s"]))
    return out


def save_routes(q: Queue, worker: str, routes: list[dict]) -> None:
    """Per-route pacing counters of one worker (RoutePool.snapshot()) for the monitor."""
    now = time.time()
    with q._write_tx() as cur:
        q._exec(cur, "DELETE FROM routes WHERE worker = ?", (worker,))
        for r in routes:
            q._exec(cur, "INSERT INTO routes (worker, route, state, success, rate_limited, "
                         "bot_check, failures, rest_until, last_error, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (worker, r["route"], r["state"], r["success"], r["rate_limited"],
                     r["bot_check"], r["failures"], r["rest_until"], r["last_error"], now))


def load_routes(q: Queue) -> list[dict]:
    """Every worker's routes, freshest first; [] on a database without the table."""
    try:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT worker, route, state, success, rate_limited, bot_check, "
                         "failures, rest_until, last_error, updated_at FROM routes "
                         "ORDER BY worker, route")
            rows = [dict(r) for r in cur.fetchall()]
    except Exception:  # noqa: BLE001 - an older read-only database: nothing to show
        return []
    now = time.time()
    for r in rows:
        if r["state"] == "resting" and (r["rest_until"] or 0) <= now:
            r["state"] = "ready"
    return rows


def fetch_stats(q: Queue, now: float | None = None) -> dict[str, Any]:
    """The stats keys of downloading: bytes and MB per audio hour, the staged backlog
    (hours ready for GPU workers), the fetch fleet's staging rate, per-route counters."""
    now = time.time() if now is None else now
    out: dict[str, Any] = {"audio_bytes_downloaded": 0, "audio_gb_downloaded": 0.0,
                           "mb_per_audio_hour": None, "staged_videos": 0,
                           "staged_seconds": 0.0, "staged_hours": 0.0, "staged_bytes": 0,
                           "download_rate": {}, "routes": []}
    try:
        totals = download_totals(q)
        videos, seconds, size = staged_backlog(q)
        rates = {key: download_totals(q, since=now - span)
                 for key, span in (("last_5m", 300), ("last_1h", 3600))}
    except Exception:  # noqa: BLE001 - a database from before these columns: zeros
        return out
    out.update(audio_bytes_downloaded=totals["bytes"],
               audio_gb_downloaded=round(totals["bytes"] / 1e9, 3),
               mb_per_audio_hour=(round(totals["bytes"] / 1e6 / (totals["seconds"] / 3600), 2)
                                  if totals["seconds"] > 0 else None),
               staged_videos=videos, staged_seconds=round(seconds, 3),
               staged_hours=round(seconds / 3600, 3), staged_bytes=size,
               routes=routes_by_name(load_routes(q)))
    for key, span in (("last_5m", 300), ("last_1h", 3600)):
        r = rates[key]
        out["download_rate"][key] = {"videos": r["staged_videos"],
                                     "audio_seconds": round(r["staged_seconds"], 3),
                                     "x_realtime": round(r["staged_seconds"] / span, 3)}
    return out


def routes_by_name(rows: list[dict]) -> list[dict]:
    """One entry per route (a proxy may serve several workers): counters summed, state
    `resting` while any worker rests it."""
    out: dict[str, dict] = {}
    for r in rows:
        agg = out.setdefault(r["route"], {"route": r["route"], "state": "ready", "workers": 0,
                                          "success": 0, "rate_limited": 0, "bot_check": 0,
                                          "failures": 0})
        agg["workers"] += 1
        for k in ("success", "rate_limited", "bot_check", "failures"):
            agg[k] += int(r[k] or 0)
        if r["state"] == "resting":
            agg["state"] = "resting"
    return list(out.values())
