"""What a completion stores besides the transcript: the quality JSON, language and
licence sources, flags (one row each, for stats), and the MinHash signature and LSH bands
that find the row's near-duplicates with bounded indexed lookups (queue/duplicates.py).
Dialect-free: runs inside the completing transaction of either backend."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..core.models import Result
from ..quality import dedup
from . import summary_counts
from .duplicates import clusters, duplicates_of, settle
from .hooks import CompletionHook, register

__all__ = ["signature_of", "store_completion", "forget", "duplicates_of", "settle",
           "duplicate_clusters", "quality_summary", "format_quality", "copy_side_tables"]

if TYPE_CHECKING:
    from .base import Queue

_STORE = (
    "UPDATE videos SET quality = ?, language_source = ?, "
    "license_source = COALESCE(?, license_source), "
    # licence truth: a licence nobody read from the video itself is not kept
    "license = CASE WHEN COALESCE(?, license_source) IS NULL THEN NULL ELSE license END, "
    "duplicate_of = ? WHERE id = ?"
)


def signature_of(result: Result):
    """The transcript's MinHash (or None), computed before the write transaction opens."""
    return dedup.signature(result.transcript) if isinstance(result, Result) else None


def store_completion(q: Queue, cur, video_id: str, result: Result, sig=None) -> None:
    """Call after the completing UPDATE of `video_id` succeeded, in its transaction;
    `sig` is signature_of(result)."""
    q._exec(cur, "SELECT id FROM videos WHERE video_id = ?", (video_id,))
    rowid = int(cur.fetchone()["id"])
    forget(q, cur, rowid)
    if result.flags:
        cur.executemany(q._q("INSERT INTO video_flags (video_rowid, flag) VALUES (?, ?)"),
                        [(rowid, f) for f in sorted(set(result.flags))])
    duplicate_of = None  # linked after commit, outside the transaction (duplicates.settle)
    if sig is not None:
        bands = dedup.band_hashes(sig)
        q._exec(cur, "INSERT INTO minhash_signatures (video_rowid, signature) VALUES (?, ?)",
                (rowid, dedup.to_bytes(sig)))
        cur.executemany(q._q("INSERT INTO minhash_bands (video_rowid, band, hash) "
                             "VALUES (?, ?, ?)"), [(rowid, b, h) for b, h in bands])
    license_source = result.license_source or ("download" if result.license else None)
    q._exec(cur, _STORE, (
        json.dumps(result.quality) if result.quality else None, result.language_source,
        license_source, license_source, duplicate_of, rowid))


register(CompletionHook("dedup", store_completion, signature_of, settle))


def forget(q: Queue, cur, rowid: int) -> None:
    """Drop what an earlier completion of this row stored (at-least-once completions)."""
    q._exec(cur, "SELECT signature FROM minhash_signatures WHERE video_rowid = ?", (rowid,))
    old = cur.fetchone()
    if old is not None:
        cur.executemany(q._q("DELETE FROM minhash_bands WHERE band = ? AND hash = ? "
                             "AND video_rowid = ?"),
                        [(b, h, rowid) for b, h in dedup.band_hashes(
                            dedup.from_bytes(old["signature"]))])
        q._exec(cur, "DELETE FROM minhash_signatures WHERE video_rowid = ?", (rowid,))
    q._exec(cur, "DELETE FROM video_flags WHERE video_rowid = ?", (rowid,))


def quality_summary(q: Queue) -> dict:
    """Flag counts, languages and their sources, duplicate rows: from the counters of
    queue/summary_counts.py (an older database read-only: counted from the indexes);
    {} on a database older than these tables (read-only opens never migrate)."""
    try:
        return _summary(q)
    except Exception:  # noqa: BLE001 - sqlite3/psycopg "no such table/column"
        return {}


def _summary(q: Queue) -> dict:
    with q._read_tx() as cur:
        counted = summary_counts.read(q, cur, ("flag", "language", "language_source",
                                               "duplicate"))
        if counted is not None:  # the counters: a few dozen rows at any size
            return _from_counters(counted)
        q._exec(cur, "SELECT flag, COUNT(*) AS n FROM video_flags GROUP BY flag")
        flags = {r["flag"]: int(r["n"]) for r in cur.fetchall()}
        q._exec(cur, "SELECT COALESCE(language, '') AS l, COALESCE(language_source, '') AS s, "
                     "COUNT(*) AS n FROM videos WHERE status = 'completed' "
                     "GROUP BY language, language_source")
        languages: dict[str, int] = {}
        sources: dict[str, int] = {}
        for r in cur.fetchall():
            languages[r["l"] or "unknown"] = languages.get(r["l"] or "unknown", 0) + int(r["n"])
            sources[r["s"] or "unknown"] = sources.get(r["s"] or "unknown", 0) + int(r["n"])
        q._exec(cur, "SELECT COUNT(*) AS n FROM videos WHERE duplicate_of IS NOT NULL "
                     "AND status = 'completed'")
        dups = int(cur.fetchone()["n"])
    return {"flags": dict(sorted(flags.items())), "languages": languages,
            "language_sources": sources, "duplicates": dups}


def _from_counters(counted: dict) -> dict:
    """The summary from summary_counts' rows (a database without them: _summary counts)."""
    out: dict[str, dict[str, int]] = {"flag": {}, "language": {}, "language_source": {}}
    for (counter, item), (n, _, _) in counted.items():
        if counter in out and n:
            key = item if counter == "flag" else item or "unknown"
            out[counter][key] = out[counter].get(key, 0) + n
    return {"flags": dict(sorted(out["flag"].items())), "languages": out["language"],
            "language_sources": out["language_source"],
            "duplicates": counted.get(("duplicate", ""), (0,))[0]}


def format_quality(summary: dict) -> str:
    """Extra `stats` lines: flags, languages and duplicates ("" when nothing completed)."""
    lines = []
    if not summary:
        return ""
    if summary["flags"]:
        lines.append("flags         " + ", ".join(f"{k} {v:,}" for k, v in
                                                  summary["flags"].items()))
    if summary["languages"]:
        lines.append("languages     " + ", ".join(f"{k} {v:,}" for k, v in sorted(
            summary["languages"].items(), key=lambda kv: -kv[1])))
    if summary["duplicates"]:
        lines.append(f"duplicates    {summary['duplicates']:,} rows duplicate an earlier one")
    return "".join("\n" + line for line in lines)


def duplicate_clusters(q: Queue) -> dict[str, list[dict]]:
    """root video_id -> members of every completed cluster with more than one row
    (queue/duplicates.py: one root per cluster, its lowest id)."""
    return clusters(q)


def copy_side_tables(src: Queue, dst: Queue, page: int = 5000) -> int:
    """After a migration copied the videos rows (new ids): signatures, bands and flags of
    the completed rows, keyed by the destination's ids. Returns the signatures copied."""
    last, copied = 0, 0
    while True:
        with src._read_tx() as cur:
            src._exec(cur, "SELECT v.id, v.video_id, v.flags, s.signature FROM videos v "
                           "LEFT JOIN minhash_signatures s ON s.video_rowid = v.id "
                           "WHERE v.id > ? AND v.status = 'completed' "
                           f"ORDER BY v.id LIMIT {int(page)}", (last,))
            rows = cur.fetchall()
        if not rows:
            return copied
        last = rows[-1]["id"]
        with dst._write_tx() as cur:
            new_id = _ids_of(dst, cur, [r["video_id"] for r in rows])
            for r in rows:
                rowid = new_id.get(r["video_id"])
                if rowid is None:
                    continue
                forget(dst, cur, rowid)
                flags = sorted(set(json.loads(r["flags"] or "[]")))
                cur.executemany(dst._q("INSERT INTO video_flags (video_rowid, flag) "
                                       "VALUES (?, ?)"), [(rowid, f) for f in flags])
                if r["signature"] is None:
                    continue
                sig = dedup.from_bytes(r["signature"])
                dst._exec(cur, "INSERT INTO minhash_signatures (video_rowid, signature) "
                               "VALUES (?, ?)", (rowid, dedup.to_bytes(sig)))
                cur.executemany(dst._q("INSERT INTO minhash_bands (video_rowid, band, hash) "
                                       "VALUES (?, ?, ?)"),
                                [(rowid, b, h) for b, h in dedup.band_hashes(sig)])
                copied += 1


def _ids_of(q: Queue, cur, video_ids: list[str]) -> dict[str, int]:
    marks = ",".join("?" * len(video_ids))
    q._exec(cur, f"SELECT id, video_id FROM videos WHERE video_id IN ({marks})", video_ids)
    return {r["video_id"]: int(r["id"]) for r in cur.fetchall()}
