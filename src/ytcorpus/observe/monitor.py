"""Numbers about the queue (`stats`) and a live dashboard over them (`monitor`).

Read-only on the database: it never claims, reaps or writes.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from ..queue import Queue
from ..queue.staging import fetch_stats
from ..core.tokens import TOKENIZER_NAME

WINDOWS = {"last_5m": 300.0, "last_1h": 3600.0}
HISTORY_BUCKETS = 30  # one bar per 2 minutes over the last hour
SPARK = " ▁▂▃▄▅▆▇█"


def _ts(text: str | None) -> float:
    if not text:
        return 0.0
    return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")))


def collect(q: Queue, *, target_tokens: float = 100e9, now: float | None = None) -> dict[str, Any]:
    """Everything `stats --json` and the monitor show, as one plain dict."""
    now = time.time() if now is None else now
    s = q.stats()
    workers = q.workers()
    by_worker = {key: q.completions_by_worker(now - span) for key, span in WINDOWS.items()}
    data: dict[str, Any] = {
        "total": s.total, "pending": s.pending, "processing": s.processing,
        "completed": s.completed, "error": s.error,
        "waiting_retry": s.waiting_retry,
        "audio_seconds_completed": round(s.audio_seconds_completed, 3),
        "audio_hours_completed": round(s.audio_seconds_completed / 3600, 3),
        "tokens_completed": s.tokens_completed,
        "tokenizer": TOKENIZER_NAME,
        "errors_by_kind": s.errors_by_kind,
        "active_workers": sum(1 for w in workers if w["alive"]),
        "database": q.describe(),
    }
    for key, span in WINDOWS.items():
        videos = sum(n for n, _, _ in by_worker[key].values())
        audio = sum(a for _, a, _ in by_worker[key].values())
        tokens = sum(t for _, _, t in by_worker[key].values())
        lived = max(1.0, min(span, now - fleet_start(workers, now, span)))
        data[key] = {"videos": videos, "audio_seconds": round(audio, 3),
                     "tokens": tokens, "x_realtime": round(audio / lived, 3),
                     "tokens_per_second": round(tokens / lived, 3),
                     "videos_per_second": round(videos / lived, 6)}
    data["x_realtime_5m"] = data["last_5m"]["x_realtime"]
    data["x_realtime_1h"] = data["last_1h"]["x_realtime"]
    rate = data["last_1h"]["tokens_per_second"] or data["last_5m"]["tokens_per_second"]
    remaining = max(0.0, target_tokens - s.tokens_completed)
    data["target_tokens"] = int(target_tokens)
    data["eta_seconds"] = round(remaining / rate) if rate > 0 else None
    # the queue's own ETA: rows left over the rate of videos finished lately
    video_rate = data["last_1h"]["videos_per_second"] or data["last_5m"]["videos_per_second"]
    left = s.pending + s.processing
    data["queue_eta_seconds"] = (0 if left == 0 else
                                 round(left / video_rate) if video_rate > 0 else None)
    data["workers"] = [_worker_row(w, by_worker, now) for w in workers]
    # live workers whose node circuit is open: which, and why (the worker's heartbeat)
    data["circuits"] = {w["worker"]: w["state"] for w in workers
                        if w["alive"] and w["state"] not in (None, "running")}
    data["history"] = _history(q.completions_by_minute(now - 3600), now)
    data.update(fetch_stats(q, now))  # bytes downloaded, staged backlog, download rate
    return data


def fleet_start(workers: list[dict], now: float, span: float) -> float:
    """When the fleet that worked in the last `span` seconds started: workers gone before
    the window do not count, so a fleet younger than the window is measured over its age."""
    recent = [w["started_at"] or now for w in workers
              if w["alive"] or (w["last_seen"] or 0) >= now - span]
    return min(recent, default=now - span)


def _worker_row(w: dict, by_worker: dict[str, dict], now: float) -> dict:
    row = {"worker": w["worker"], "alive": w["alive"], "state": w["state"],
           "device": w["device"],
           "model": w["model"], "last_seen_s_ago": round(now - (w["last_seen"] or now), 1)}
    for key, span in WINDOWS.items():
        audio = by_worker[key].get(w["worker"], (0, 0.0, 0))[1]
        # a worker that started inside the window is measured over its own lifetime
        lived = max(1.0, min(span, now - (w["started_at"] or now)))
        row[f"x_realtime_{key[5:]}"] = round(audio / lived, 3)
    return row


def _history(per_minute: dict[str, float], now: float) -> list[float]:
    """Audio seconds completed per bucket over the last hour, oldest first."""
    width = 3600.0 / HISTORY_BUCKETS
    buckets = [0.0] * HISTORY_BUCKETS
    for minute, audio in per_minute.items():
        age = now - _ts(minute + ":00")
        if 0 <= age < 3600:
            buckets[HISTORY_BUCKETS - 1 - int(age // width)] += audio
    return [round(b, 1) for b in buckets]


def sparkline(values: list[float]) -> str:
    top = max(values) if values else 0
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(8, int(round(v / top * 8)))] for v in values)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a (no recent throughput)"
    if seconds < 60:
        return f"{int(seconds)}s"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m" if days else f"{hours}h {rest // 60}m"


OPTIONAL_KEYS = ("circuit", "circuits", "proxies", "routes")


def _brief(value) -> str:
    if isinstance(value, dict):
        return "  ".join(f"{k}: {_brief(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_brief(v) for v in value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def extra_rows(d: dict) -> list[tuple[str, str]]:
    """Rows for keys other parts add to stats when they know them (downloads, staging,
    circuits, proxies)."""
    rows = []
    if d.get("audio_bytes_downloaded"):
        per_hour = d.get("mb_per_audio_hour")
        rows.append(("downloaded", f"{d['audio_gb_downloaded']:,.3f} GB"
                     + (f" ({per_hour:,.1f} MB per audio hour)" if per_hour else "")))
    if d.get("staged_videos"):
        rate = (d.get("download_rate") or {}).get("last_5m", {}).get("x_realtime")
        rows.append(("staged", f"{d['staged_videos']:,} videos, {d['staged_hours']:,.2f} h "
                     "ready for GPU workers"
                     + (f", staging at {rate:,.1f}x realtime (5 min)" if rate else "")))
    for key in OPTIONAL_KEYS:
        if d.get(key) not in (None, {}, []):
            rows.append((key.replace("_", " "), _brief(d[key])))
    return rows


def format_stats(d: dict) -> str:
    lines = [
        f"database      {d['database']}",
        f"videos        {d['total']:,} total: {d['pending']:,} pending "
        f"({d['waiting_retry']:,} waiting retry), {d['processing']:,} processing, "
        f"{d['completed']:,} completed, {d['error']:,} error",
        f"audio done    {d['audio_hours_completed']:,.2f} h",
        f"tokens done   {d['tokens_completed']:,} ({d['tokenizer']})",
        f"throughput    {d['x_realtime_5m']:,.1f}x realtime (5 min), "
        f"{d['x_realtime_1h']:,.1f}x (1 h)",
        f"workers       {d['active_workers']:,} active",
        f"queue ETA     {_duration(d['queue_eta_seconds'])}",
    ]
    lines += [f"{label:<13} {text}" for label, text in extra_rows(d)]
    if d["errors_by_kind"]:
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(d["errors_by_kind"].items()))
        lines.append(f"errors        {kinds}")
    return "\n".join(lines)


def render(d: dict):
    """One dashboard frame as a rich renderable."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("videos", f"{d['total']:,} total  [yellow]{d['pending']:,} pending[/] "
                 f"({d['waiting_retry']:,} waiting retry)  [cyan]{d['processing']:,} processing"
                 f"[/]  [green]{d['completed']:,} completed[/]  [red]{d['error']:,} error[/]")
    head.add_row("audio", f"{d['audio_hours_completed']:,.2f} hours completed")
    pct = 100.0 * d["tokens_completed"] / d["target_tokens"] if d["target_tokens"] else 0.0
    head.add_row("tokens", f"{d['tokens_completed']:,} of {d['target_tokens']:,} "
                 f"({pct:.6f}%)  tokenizer: {d['tokenizer']}")
    head.add_row("speed", f"{d['x_realtime_5m']:,.1f}x realtime (5 min)   "
                 f"{d['x_realtime_1h']:,.1f}x realtime (1 h)")
    head.add_row("queue ETA", f"{_duration(d['queue_eta_seconds'])} to finish the "
                 f"{d['pending'] + d['processing']:,} videos left")
    head.add_row("target ETA", _duration(d["eta_seconds"]) + " to the token target")
    for label, text in extra_rows(d):
        head.add_row(label, text)
    head.add_row("last hour", sparkline(d["history"]))
    if d["errors_by_kind"]:
        head.add_row("errors", "  ".join(f"{k}: {v:,}" for k, v in
                                          sorted(d["errors_by_kind"].items())))
    workers = Table(title=f"workers ({d['active_workers']:,} active)", expand=True)
    for col in ("worker", "state", "device", "model", "x RT 5m", "x RT 1h", "seen"):
        workers.add_column(col)
    for w in d["workers"]:
        state = ("[red]gone[/]" if not w["alive"] else "[green]active[/]"
                 if w.get("state") in (None, "running") else "[yellow]blocked[/]")
        workers.add_row(w["worker"], state, w["device"] or "", w["model"] or "",
                        f"{w['x_realtime_5m']:,.1f}", f"{w['x_realtime_1h']:,.1f}",
                        f"{w['last_seen_s_ago']:,.0f}s ago")
    return Panel(Group(head, workers), title=f"ytcorpus — {d['database']}")


def parse_count(text: str | float) -> float:
    """100B, 10M, 1.5K, 2e9 or 1000000 -> a number (the --target token count)."""
    from ..core.errors import UsageError

    raw = str(text).strip().replace(",", "").replace("_", "")
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}.get(raw[-1:].upper(), 1.0)
    try:
        value = float(raw[:-1] if scale != 1.0 else raw) * scale
    except ValueError:
        raise UsageError(f"--target {text!r}: give a token count like 100B, 10M, 1.5K "
                          "or 1000000") from None
    if value <= 0:
        raise UsageError(f"--target {text!r}: must be more than 0")
    return value


def plain_line(d: dict) -> str:
    """One line per interval when stdout is not a terminal (logs, `| tee`)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f"{stamp} videos {d['total']:,} total, {d['pending']:,} pending, "
            f"{d['processing']:,} processing, {d['completed']:,} completed, "
            f"{d['error']:,} error | {d['audio_hours_completed']:,.2f} h audio | "
            f"{d['x_realtime_5m']:,.1f}x realtime (5 min) | "
            f"queue ETA {_duration(d['queue_eta_seconds'])} | "
            f"{d['active_workers']:,} workers | tokens {d['tokens_completed']:,}")
