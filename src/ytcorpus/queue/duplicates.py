"""Near-duplicate clusters at any queue size, with no lock shared by the fleet.

- A row's candidates are a bounded lookup: at most PER_BAND rows per band hash (one index
  range each), of which the CANDIDATES sharing the most bands are checked on their
  signatures. Never an unbounded list, whatever the table holds.
- The lookup runs after the completion committed, in its own read (settle()): of two
  duplicates completing at the same moment on two nodes, the one that commits second
  always sees the first, so every pair ends linked whatever the timing.
- A cluster's root is its member with the lowest id. settle() points the row, and the
  members of every cluster it joins, at that root; links left pointing at an old root by
  two merges racing are followed by clusters(), which reads every component as one
  cluster with one root (the lowest id): export --clean reads it so.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..quality import dedup

# base.Queue (not imported: base imports this module)
Queue = Any

PER_BAND = 32     # rows read per band hash (the earliest ids: roots come first)
CANDIDATES = 8    # rows checked on their signature, the most shared bands first


def _candidates_sql(bands: int) -> str:
    per_band = (f"SELECT video_rowid FROM (SELECT video_rowid FROM minhash_bands "
                f"WHERE band = ? AND hash = ? AND video_rowid <> ? ORDER BY video_rowid "
                f"LIMIT {PER_BAND}) b")
    union = " UNION ALL ".join(f"{per_band}{i}" for i in range(bands))
    return ("SELECT v.id, v.video_id, v.duplicate_of, s.signature, c.shared FROM "
            f"(SELECT video_rowid, COUNT(*) AS shared FROM ({union}) u GROUP BY video_rowid "
            f"ORDER BY COUNT(*) DESC, video_rowid LIMIT {CANDIDATES}) c "
            "JOIN minhash_signatures s ON s.video_rowid = c.video_rowid "
            "JOIN videos v ON v.id = c.video_rowid WHERE v.status = 'completed' "
            "ORDER BY c.shared DESC, v.id")


def matches(q: Queue, cur, rowid: int, sig) -> list[dict]:
    """Completed rows whose signature is within THRESHOLD of `sig` (bounded lookup)."""
    bands = dedup.band_hashes(sig)
    params: list[Any] = []
    for band, value in bands:
        params += [band, value, rowid]
    q._exec(cur, _candidates_sql(len(bands)), params)
    return [dict(r) for r in cur.fetchall()
            if dedup.similarity(sig, dedup.from_bytes(r["signature"])) >= dedup.THRESHOLD]


def settle(q: Queue, rows: Sequence[tuple[str, Any]]) -> None:
    """After complete_many committed: link each (video_id, signature) to its duplicates,
    merging the clusters it joins under their lowest id."""
    for video_id, sig in rows:
        if sig is None:
            continue
        with q._read_tx() as cur:
            q._exec(cur, "SELECT id, duplicate_of FROM videos WHERE video_id = ? "
                         "AND status = 'completed'", (video_id,))
            me = cur.fetchone()
            if me is None:
                continue
            found = matches(q, cur, int(me["id"]), sig)
            if not found:
                continue
            roots = {me["duplicate_of"] or video_id} | {
                r["duplicate_of"] or r["video_id"] for r in found}
            ids = _ids_of(q, cur, sorted(roots | {video_id}))
        _merge(q, ids, roots, video_id)


def _merge(q: Queue, ids: dict[str, int], roots: set[str], video_id: str) -> None:
    """Point `video_id`, every root in `roots` and their members at the lowest id."""
    known = [v for v in roots if v in ids]
    if not known:
        return
    root = min(known, key=ids.__getitem__)
    if video_id in ids and ids[video_id] < ids[root]:
        root = video_id
    moved = sorted((set(known) | {video_id}) - {root})
    if not moved:
        return
    marks = ",".join("?" * len(moved))
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET duplicate_of = NULL WHERE video_id = ?", (root,))
        q._exec(cur, f"UPDATE videos SET duplicate_of = ? WHERE video_id IN ({marks}) "
                     "AND status = 'completed'", (root, *moved))
        q._exec(cur, f"UPDATE videos SET duplicate_of = ? WHERE duplicate_of IN ({marks})",
                (root, *moved))


def _ids_of(q: Queue, cur, video_ids: list[str]) -> dict[str, int]:
    """id of each video_id (callers pass at most CANDIDATES + 2 of them)."""
    marks = ",".join("?" * len(video_ids))
    q._exec(cur, f"SELECT id, video_id FROM videos WHERE video_id IN ({marks})", video_ids)
    return {r["video_id"]: int(r["id"]) for r in cur.fetchall()}


def duplicates_of(q: Queue, video_id: str) -> list[str]:
    """The completed rows that are near-duplicates of `video_id` (by signature), id order."""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT v.id, s.signature FROM videos v JOIN minhash_signatures s "
                     "ON s.video_rowid = v.id WHERE v.video_id = ?", (video_id,))
        row = cur.fetchone()
        if row is None:
            return []
        found = matches(q, cur, int(row["id"]), dedup.from_bytes(row["signature"]))
    return [r["video_id"] for r in sorted(found, key=lambda r: r["id"])]


_MEMBER = ("SELECT id, video_id, duplicate_of, duration_seconds, language, flags, "
           "CASE WHEN COALESCE(TRIM(transcript), '') = '' THEN 0 ELSE 1 END AS has_text "
           "FROM videos")


def clusters(q: Queue) -> dict[str, list[dict]]:
    """root video_id -> members (dicts: id, video_id, duration_seconds, language, flags,
    has_text; id order) of every completed cluster with more than one row. Links are
    followed as edges, so each connected cluster has one root: its lowest id. Reads only
    rows with duplicates (an index), roots in pages of 500."""
    with q._read_tx() as cur:
        q._exec(cur, f"{_MEMBER} WHERE duplicate_of IS NOT NULL AND status = 'completed'")
        rows = {r["video_id"]: dict(r) for r in cur.fetchall()}
        wanted = sorted({r["duplicate_of"] for r in rows.values()} - set(rows))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            q._exec(cur, f"{_MEMBER} WHERE video_id IN ({','.join('?' * len(chunk))}) "
                         "AND status = 'completed'", chunk)
            rows.update((r["video_id"], dict(r)) for r in cur.fetchall())
    parent = {v: v for v in rows}

    def find(v: str) -> str:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for v, r in rows.items():
        other = r["duplicate_of"]
        if other in rows:
            a, b = find(v), find(other)
            if a != b:  # the lower id becomes the root
                lo, hi = sorted((a, b), key=lambda x: rows[x]["id"])
                parent[hi] = lo
    out: dict[str, list[dict]] = {}
    for v, r in sorted(rows.items(), key=lambda kv: kv[1]["id"]):
        r["flags"] = json.loads(r["flags"] or "[]")
        out.setdefault(find(v), []).append(r)
    return {root: members for root, members in out.items() if len(members) > 1}


def scheme() -> str:
    """What the stored signatures and bands were made with (dedup_scheme's one row)."""
    return (f"words{dedup.SHINGLE_WORDS}-bands{dedup.BANDS}x{dedup.ROWS}"
            f"-perm{dedup.NUM_PERM}-seed{dedup.SEED}")


def resign(q: Queue, page: int = 500) -> int:
    """Signatures and bands of rows stored under another scheme (an older ytcorpus: word
    bigrams, 25 bands of 3), computed again from their transcripts, a page per
    transaction; returns the rows redone (0 when the scheme is current). The schema
    upgrade already dropped the old bands; a run cut short is taken up by the next open."""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT scheme FROM dedup_scheme")
        row = cur.fetchone()
    if row is not None and row["scheme"] == scheme():
        return 0
    last, done = 0, 0
    while True:
        with q._read_tx() as cur:
            q._exec(cur, "SELECT s.video_rowid, v.transcript FROM minhash_signatures s JOIN "
                         "videos v ON v.id = s.video_rowid WHERE s.video_rowid > ? "
                         f"ORDER BY s.video_rowid LIMIT {int(page)}", (last,))
            rows = [(int(r["video_rowid"]), r["transcript"]) for r in cur.fetchall()]
        if not rows:
            break
        sigs = [(rowid, dedup.signature(text or "")) for rowid, text in rows]
        with q._write_tx() as cur:
            if q.backend == "postgres":  # one process writes a page at a time
                q._exec(cur, "SELECT pg_advisory_xact_lock(?)", (_RESIGN_LOCK,))
            for rowid, sig in sigs:
                _store_signature(q, cur, rowid, sig)
        last, done = rows[-1][0], done + len(rows)
    with q._write_tx() as cur:
        q._exec(cur, "DELETE FROM dedup_scheme")
        q._exec(cur, "INSERT INTO dedup_scheme (scheme) VALUES (?)", (scheme(),))
    return done


_RESIGN_LOCK = 0x79746372


def _store_signature(q: Queue, cur, rowid: int, sig) -> None:
    if sig is None:
        q._exec(cur, "DELETE FROM minhash_signatures WHERE video_rowid = ?", (rowid,))
        return
    bands = [(b, h, rowid) for b, h in dedup.band_hashes(sig)]
    q._exec(cur, "UPDATE minhash_signatures SET signature = ? WHERE video_rowid = ?",
            (dedup.to_bytes(sig), rowid))
    # by key: what a run cut short stored for this row
    cur.executemany(q._q("DELETE FROM minhash_bands WHERE band = ? AND hash = ? "
                         "AND video_rowid = ?"), bands)
    cur.executemany(q._q("INSERT INTO minhash_bands (band, hash, video_rowid) "
                         "VALUES (?, ?, ?)"), bands)
