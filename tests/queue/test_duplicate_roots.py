"""Near-duplicate clusters at any size: bounded candidate lookups, one root per cluster
(its lowest id) whatever the timing, and export --clean keeping the best member."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import speech_texts as T
from conftest import run_cli
from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue
from ytcorpus.queue.duplicates import CANDIDATES, PER_BAND
from ytcorpus.queue.quality import duplicate_clusters, duplicates_of

COMPLETER = str(Path(__file__).with_name("dup_completer.py"))
TEXTS = [T.ENGLISH_PRESS_A, T.ENGLISH_PRESS_B, T.ENGLISH_CELLS]


def _add(q, n: int, prefix: str) -> list[str]:
    ids = [f"{prefix}{i:08d}" for i in range(n)]
    q.add([Video(video_id=v, url=f"https://example.org/{v}") for v in ids])
    return ids


def test_two_duplicates_completing_at_once_end_as_one_cluster(db_url, tmp_path):
    pairs = 6
    with open_queue(db_url) as q:
        ids = _add(q, 2 * pairs, "r")
        a = [c.video_id for c in q.claim("wa", pairs)]
        b = [c.video_id for c in q.claim("wb", pairs)]
    args_a, args_b = [], []
    for i in range(pairs):  # pair i: a[i] and b[i], one text each (other pairs differ)
        text = f"Lecture {i} of the series. " * 3 + TEXTS[i % 3] + f" Part {i} ends here."
        (tmp_path / f"{i}a.txt").write_text(text)
        (tmp_path / f"{i}b.txt").write_text(text + " Thank you.")
        args_a.append(f"{a[i]}={tmp_path / f'{i}a.txt'}")
        args_b.append(f"{b[i]}={tmp_path / f'{i}b.txt'}")
    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, COMPLETER, db_url, w, str(start), *items],
                              stderr=subprocess.PIPE)
             for w, items in (("wa", args_a), ("wb", args_b))]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    with open_queue(db_url) as q:
        clusters = duplicate_clusters(q)
        rows = {v: q.get(v) for v in ids}
    # (pairs i and i + 3 share their base text, so they may end in one cluster of four)
    for i in range(pairs):
        root = min(a[i], b[i], key=lambda v: rows[v]["id"])
        other = b[i] if root == a[i] else a[i]
        assert rows[other]["duplicate_of"] is not None
        cluster = next(c for r, c in clusters.items() if other in {m["video_id"] for m in c})
        roots = {r for r, c in clusters.items() if other in {m["video_id"] for m in c}}
        assert len(roots) == 1
        assert min(m["id"] for m in cluster) == rows[next(iter(roots))]["id"]
        assert root in {m["video_id"] for m in cluster}


def test_candidates_are_bounded_whatever_the_table_holds(db_url):
    q = open_queue(db_url)
    text = T.ENGLISH_CELLS
    widths: list[int] = []
    exec_ = q._exec

    def recording(cur, sql, params=()):
        widths.append(len(tuple(params)))
        return exec_(cur, sql, params)

    for copies in (PER_BAND + 4, 3 * PER_BAND):
        _add(q, copies, f"b{copies}x")
        claims = q.claim("w", copies)
        q.complete_many("w", [(c.video_id, Result(transcript=text)) for c in claims[:-1]])
        widths.clear()
        q._exec = recording
        q.complete("w", claims[-1].video_id, Result(transcript=text))
        q._exec = exec_
        if copies == PER_BAND + 4:
            first = max(widths)
        else:
            assert max(widths) == first  # the same statements at 36 or 96 copies
        found = duplicates_of(q, claims[-1].video_id)
        assert 0 < len(found) <= CANDIDATES
    clusters = duplicate_clusters(q)
    assert len(clusters) == 1
    (root, members), = clusters.items()
    assert root == min(members, key=lambda m: m["id"])["video_id"]
    assert len(members) == (PER_BAND + 4) + 3 * PER_BAND
    q.close()


def test_export_clean_keeps_the_best_member_that_passes(sqlite_db, tmp_path):
    with open_queue(sqlite_db) as q:
        ids = _add(q, 4, "e")
        q.claim("w", 4)
        text = T.ENGLISH_PRESS_B
        # the longest copy is flagged: the clean copies of its cluster must stay
        q.complete("w", ids[0], Result(transcript=text, duration_seconds=90,
                                       flags=["low_logprob"]))
        q.complete("w", ids[1], Result(transcript=text + " Thanks.", duration_seconds=80))
        q.complete("w", ids[2], Result(transcript=text + " Bye.", duration_seconds=80))
        q.complete("w", ids[3], Result(transcript=T.ENGLISH_CELLS, duration_seconds=10))
        assert {m["video_id"] for c in duplicate_clusters(q).values() for m in c} == set(
            ids[:3])
    out = tmp_path / "clean.jsonl"
    done = run_cli("--db", sqlite_db, "export", str(out), "--clean")
    assert done.returncode == 0, done.stderr
    kept = [json.loads(line)["video_id"] for line in out.read_text().splitlines()]
    # ids[1] and ids[2] tie on length: the earlier row stays
    assert sorted(kept) == [ids[1], ids[3]]
