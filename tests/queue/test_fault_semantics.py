"""Fault semantics of the queue on both backends: node faults are never charged, unknown
failures get 2 tries, a reaped lease counts a crash (3 -> worker_crash), completions
carry a commit-ordered sequence number."""

from __future__ import annotations

import errno

from ytcorpus.core.errors import RetryableError, video_error
from ytcorpus.models import Result


def _force_claimable(queue, video_id):
    with queue._write_tx() as cur:
        queue._exec(cur, "UPDATE videos SET not_before = 0 WHERE video_id = ?", (video_id,))


def _expire(queue, video_id):
    with queue._write_tx() as cur:
        queue._exec(cur, "UPDATE videos SET lease_until = 1 WHERE video_id = ?", (video_id,))


def test_node_faults_are_never_charged(queue):
    queue.add(["aaaaaaaaaa1"])
    node_faults = [
        RetryableError("HTTP Error 429: Too Many Requests", kind="rate_limited"),
        Exception("ERROR: unable to download video data: HTTP Error 429: Too Many Requests"),
        Exception("ERROR: [youtube] x: Sign in to confirm you're not a bot"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        "rate_limited",
    ] * 3  # far more than max_attempts
    for fault in node_faults:
        [c] = queue.claim("w", 1)
        assert queue.fail("w", c.video_id, fault) == "pending"
        row = queue.get(c.video_id)
        assert (row["status"], row["attempts"], row["not_before"]) == ("pending", 0, 0)
        assert row["worker"] is None and row["lease_until"] is None
    assert row["error_kind"] == "rate_limited"  # the last reason is kept for the operator
    assert queue.stats().waiting_retry == 0
    assert queue.fail("someone-else", "aaaaaaaaaa1", "rate_limited") is None


def test_unknown_failures_get_two_tries_and_keep_the_last_line(queue):
    queue.add(["aaaaaaaaaa1"])
    [c] = queue.claim("w", 1)
    assert queue.fail("w", c.video_id, KeyError("formats")) == "pending"
    row = queue.get(c.video_id)
    assert (row["attempts"], row["error_kind"], row["error"]) == (1, "unknown",
                                                                  "KeyError: 'formats'")
    _force_claimable(queue, c.video_id)
    [c] = queue.claim("w", 1)
    assert queue.fail("w", c.video_id, ValueError("trace\nthe cause")) == "error"
    row = queue.get(c.video_id)
    assert (row["status"], row["attempts"], row["error"]) == ("error", 2, "ValueError: the cause")


def test_reaped_leases_count_crashes_and_end_as_worker_crash(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
    for crash in (1, 2, 3):
        claims = {c.video_id: c for c in queue.claim("w", 2)}
        assert claims["aaaaaaaaaa1"].crashes == crash - 1
        queue.release("w", ["aaaaaaaaaa2"])  # a clean stop counts nothing
        _expire(queue, "aaaaaaaaaa1")
        assert queue.reap_expired() == 1
        row = queue.get("aaaaaaaaaa1")
        assert row["crashes"] == crash
        if crash < 3:
            assert (row["status"], row["error_kind"], row["worker"]) == ("pending", None, None)
    assert (row["status"], row["error_kind"]) == ("error", "worker_crash")
    assert "3 times" in row["error"]
    assert queue.get("aaaaaaaaaa2")["crashes"] == 0
    assert queue.stats().errors_by_kind == {"worker_crash": 1}
    assert queue.claim("w", 5)[0].video_id == "aaaaaaaaaa2"
    assert queue.requeue_errors("worker_crash") == 1
    assert queue.get("aaaaaaaaaa1")["crashes"] == 0


def test_completions_are_numbered_in_commit_order(queue):
    queue.add([f"aaaaaaaaa{i:02d}" for i in range(6)])
    first = queue.claim("w", 3)
    assert queue.complete_many("w", [(c.video_id, Result("x")) for c in first]) == [True] * 3
    second = queue.claim("w", 3)
    assert queue.complete("w", second[1].video_id, Result("y"))
    assert not queue.complete("nobody", second[0].video_id, Result("z"))
    seqs = [queue.get(c.video_id)["completed_seq"] for c in first + [second[1]]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4 and seqs[0] >= 1
    assert queue.get(second[0].video_id)["completed_seq"] is None


def test_kind_names_still_accepted(queue):
    queue.add(["aaaaaaaaaa1"])
    [c] = queue.claim("w", 1)
    assert queue.fail("w", c.video_id, video_error("private", "gone")) == "error"
