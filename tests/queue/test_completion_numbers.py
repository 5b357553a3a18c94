"""Completion numbers (export --incremental's cursor) without a lock shared by the fleet:
PostgreSQL hands them out from a SEQUENCE, and an incremental read waits for the
transactions that may still commit a number below its mark."""

from __future__ import annotations

import threading
import time

from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue


def _queue_with(db: str, n: int):
    q = open_queue(db)
    q.add([Video(video_id=f"n{i:09d}", url=f"https://example.org/{i}") for i in range(n)])
    return q


def test_numbers_are_distinct_and_increase(db_url):
    q = _queue_with(db_url, 6)
    claims = q.claim("w", 6)
    q.complete_many("w", [(c.video_id, Result(transcript="t")) for c in claims[:4]])
    q.complete("w", claims[4].video_id, Result(transcript="t"))
    seqs = [q.get(c.video_id)["completed_seq"] for c in claims[:5]]
    assert len(set(seqs)) == 5 and seqs[4] > max(seqs[:4])
    assert [r["video_id"] for r in q.iter_completed(after_seq=seqs[3])] == [claims[4].video_id]
    q.close()


def _hold_open_completion(q, worker: str, video_id: str, started: threading.Event,
                          release: threading.Event) -> None:
    """Complete inside a transaction that stays open until `release` is set."""
    with q._write_tx() as cur:
        seq = q._completion_numbers(cur, 1)[0]
        q._exec(cur, "UPDATE videos SET status = 'completed', completed_seq = ?, "
                     "transcript = 'slow' WHERE video_id = ? AND worker = ?",
                (seq, video_id, worker))
        started.set()
        release.wait(30)


def test_postgres_completions_do_not_wait_for_each_other(pg_server):
    db = pg_server.new_database()
    q = _queue_with(db, 2)
    first, second = q.claim("w", 2)
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_open_completion,
                              args=(q, "w", first.video_id, started, release))
    holder.start()
    try:
        assert started.wait(10)
        other = open_queue(db)
        t0 = time.monotonic()
        assert other.complete("w", second.video_id, Result(transcript="fast"))
        assert time.monotonic() - t0 < 5  # the old counter row made this wait for `holder`
        # an incremental read now must not skip the lower number still uncommitted:
        # it waits for the open transaction, then returns both rows
        seen: list = []
        reader = threading.Thread(target=lambda: seen.extend(
            r["video_id"] for r in other.iter_completed(after_seq=0)))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive() and not seen
    finally:
        release.set()
        holder.join()
    reader.join(30)
    assert sorted(seen) == sorted([first.video_id, second.video_id])
    other.close()
    q.close()
