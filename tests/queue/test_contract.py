"""The queue contract: every backend (SQLite file, real PostgreSQL) must pass all of it."""

from __future__ import annotations

import time

import pytest

from ytcorpus.core.errors import PermanentError, RetryableError, video_error
from ytcorpus.models import Result, Segment, Video


def _ids(claims):
    return [c.video_id for c in claims]


def test_add_is_idempotent_across_url_forms(queue):
    first = queue.add(["https://www.youtube.com/watch?v=dQw4w9WgXcQ"])
    again = queue.add(["youtu.be/dQw4w9WgXcQ", "dQw4w9WgXcQ",
                       "https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=42s&list=PL123"])
    assert (first.added, first.duplicates) == (1, 0)
    assert (again.added, again.duplicates) == (0, 3)
    assert queue.stats().total == 1
    row = queue.get("dQw4w9WgXcQ")
    assert row["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert row["status"] == "pending"


def test_add_reports_invalid_and_inserts_only_valid(queue):
    result = queue.add(["not a video", "https://youtube.com/watch?v=short", "aaaaaaaaaaa",
                        "ftp://example.com/x.mp3", ""])
    assert result.added == 1
    assert [bad.source for bad in result.invalid] == [
        "not a video", "https://youtube.com/watch?v=short", "ftp://example.com/x.mp3", ""]
    assert all(bad.reason for bad in result.invalid)
    assert queue.stats().total == 1


def test_add_duplicates_inside_one_batch_and_large_batches(queue):
    ids = [f"vid{i:08d}"[:11].ljust(11, "x") for i in range(12_000)]
    videos = [Video(video_id=i, url=f"https://www.youtube.com/watch?v={i}") for i in ids]
    result = queue.add(videos + videos[:500])
    assert (result.added, result.duplicates) == (12_000, 500)
    assert queue.stats().pending == 12_000


def test_add_keeps_metadata_priority_and_source(queue):
    queue.add([Video(video_id="abcdefghijk", url="https://www.youtube.com/watch?v=abcdefghijk",
                     title="Linear algebra 1", duration_seconds=3600.0, channel="MIT",
                     license="creative commons", course="18.06", university="MIT")],
              priority=7, source="search:linear algebra")
    row = queue.get("abcdefghijk")
    assert row["title"] == "Linear algebra 1"
    assert row["priority"] == 7
    assert row["source"] == "search:linear algebra"
    assert row["course"] == "18.06" and row["university"] == "MIT"
    assert row["created_at"]


def test_claim_orders_by_priority_then_age_and_respects_n(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2"], priority=0)
    queue.add(["bbbbbbbbbb1"], priority=5)
    queue.add(["cccccccccc1"], priority=1)
    first = queue.claim("w1", 2, lease_s=60)
    assert _ids(first) == ["bbbbbbbbbb1", "cccccccccc1"]
    assert first[0].url.endswith("bbbbbbbbbb1") and first[0].priority == 5
    rest = queue.claim("w2", 10, lease_s=60)
    assert _ids(rest) == ["aaaaaaaaaa1", "aaaaaaaaaa2"]
    assert queue.claim("w3", 5, lease_s=60) == []
    row = queue.get("bbbbbbbbbb1")
    assert row["status"] == "processing" and row["worker"] == "w1"
    assert row["lease_until"] > time.time() + 50


def test_claim_on_empty_queue_and_zero(queue):
    assert queue.claim("w", 3) == []
    queue.add(["aaaaaaaaaa1"])
    assert queue.claim("w", 0) == []


def test_complete_only_by_lease_holder(queue):
    queue.add(["aaaaaaaaaa1"])
    [claim] = queue.claim("w1", 1, lease_s=60)
    result = Result(transcript="hello world", segments=[{"start": 0, "end": 1.5, "text": "hello"},
                                                        Segment(1.5, 3.0, "world")],
                    duration_seconds=3.0, processing_time_seconds=0.5, language="en",
                    model="tiny.en", tokens=2, title="Greeting")
    assert queue.complete("intruder", claim.video_id, result) is False
    assert queue.get(claim.video_id)["status"] == "processing"
    assert queue.complete("w1", claim.video_id, result) is True
    row = queue.get(claim.video_id)
    assert row["status"] == "completed"
    assert row["transcript"] == "hello world"
    assert row["speed_ratio"] == pytest.approx(6.0)
    assert row["processing_time_seconds"] == pytest.approx(0.5)
    assert row["tokens"] == 2 and row["model"] == "tiny.en" and row["language"] == "en"
    assert row["title"] == "Greeting"
    assert row["completed_at"]
    # a second completion (at-least-once delivery) writes nothing
    assert queue.complete("w1", claim.video_id, Result(transcript="other")) is False
    assert queue.get(claim.video_id)["transcript"] == "hello world"
    [record] = list(queue.iter_completed())
    assert record["segments"] == [{"start": 0.0, "end": 1.5, "text": "hello"},
                                  {"start": 1.5, "end": 3.0, "text": "world"}]


def test_complete_many_in_one_call(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3"])
    claims = queue.claim("w", 3)
    done = queue.complete_many("w", [(c.video_id, Result(transcript=c.video_id,
                                                          duration_seconds=10.0))
                                     for c in claims] + [("zzzzzzzzzzz", Result(transcript=""))])
    assert done == [True, True, True, False]
    assert queue.stats().completed == 3


def test_release_returns_rows_without_counting_an_attempt(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
    claims = queue.claim("w", 2)
    assert queue.release("other", _ids(claims)) == 0
    assert queue.release("w", _ids(claims)) == 2
    row = queue.get("aaaaaaaaaa1")
    assert row["status"] == "pending" and row["attempts"] == 0 and row["worker"] is None
    assert len(queue.claim("w2", 5)) == 2


def test_heartbeat_extends_lease_and_reap_returns_expired(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
    [a] = queue.claim("alive", 1, lease_s=0.2)
    [b] = queue.claim("dead", 1, lease_s=0.2)
    assert queue.heartbeat("alive", [a.video_id], lease_s=60) == 1
    assert queue.heartbeat("alive", [b.video_id], lease_s=60) == 0  # not its row
    time.sleep(0.4)
    assert queue.reap_expired() == 1
    assert queue.get(b.video_id)["status"] == "pending"
    assert queue.get(a.video_id)["status"] == "processing"
    # the dead worker's late completion is refused; the row is someone else's now
    [again] = queue.claim("new", 1)
    assert again.video_id == b.video_id
    assert queue.complete("dead", b.video_id, Result(transcript="late")) is False
    assert queue.complete("new", b.video_id, Result(transcript="on time")) is True


def test_permanent_failure_goes_to_error_with_kind(queue):
    queue.add(["aaaaaaaaaa1"])
    [c] = queue.claim("w", 1)
    status = queue.fail("w", c.video_id, PermanentError("Private video", kind="private"))
    assert status == "error"
    row = queue.get(c.video_id)
    assert (row["status"], row["error_kind"], row["error"]) == ("error", "private", "Private video")
    assert queue.stats().errors_by_kind == {"private": 1}
    assert queue.claim("w", 1) == []


def test_retryable_failure_backs_off_then_errors_after_max_attempts(queue):
    queue.max_attempts = 3
    queue.add(["aaaaaaaaaa1"])
    [c] = queue.claim("w", 1)
    before = time.time()
    assert queue.fail("w", c.video_id, RetryableError("HTTP Error 503", kind="server_error")) \
        == "pending"
    row = queue.get(c.video_id)
    assert row["attempts"] == 1 and row["error_kind"] == "server_error"
    assert before + 30 * 0.75 - 1 <= row["not_before"] <= before + 30 * 1.25 + 1
    assert queue.claim("w", 1) == []  # still backing off
    assert queue.stats().waiting_retry == 1
    for attempt in (2, 3):
        _force_claimable(queue, c.video_id)
        [c] = queue.claim("w", 1)
        status = queue.fail("w", c.video_id, video_error("network", "connection reset"))
        assert status == ("pending" if attempt < 3 else "error")
    row = queue.get(c.video_id)
    assert (row["status"], row["attempts"], row["error_kind"]) == ("error", 3, "network")


def _force_claimable(queue, video_id):
    with queue._write_tx() as cur:
        queue._exec(cur, "UPDATE videos SET not_before = 0 WHERE video_id = ?", (video_id,))


def test_fail_by_non_holder_changes_nothing(queue):
    queue.add(["aaaaaaaaaa1"])
    [c] = queue.claim("w", 1)
    assert queue.fail("x", c.video_id, PermanentError("gone")) is None
    assert queue.get(c.video_id)["status"] == "processing"


def test_backoff_grows_exponentially(queue):
    queue.retry_base_s, queue.retry_max_s = 10, 10_000
    assert 7.5 <= queue.backoff_s(1) <= 12.5
    assert 30 <= queue.backoff_s(3) <= 50
    assert queue.backoff_s(30) <= 12_500


def test_requeue_errors_by_kind(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2"])
    a, b = queue.claim("w", 2)
    queue.fail("w", a.video_id, PermanentError("x", kind="private"))
    queue.fail("w", b.video_id, PermanentError("y", kind="corrupt"))
    assert queue.requeue_errors("corrupt") == 1
    assert queue.get(b.video_id)["status"] == "pending"
    assert queue.get(a.video_id)["status"] == "error"
    assert queue.requeue_errors() == 1
    assert queue.stats().pending == 2


def test_stats_and_iter_completed_filters(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3", "aaaaaaaaaa4"])
    claims = queue.claim("w", 4)
    queue.complete("w", claims[0].video_id, Result("one", duration_seconds=60, tokens=10,
                                                   language="en", processing_time_seconds=1))
    queue.complete("w", claims[1].video_id, Result("two", duration_seconds=30, tokens=200,
                                                   language="de", processing_time_seconds=1))
    queue.fail("w", claims[2].video_id, PermanentError("gone", kind="unavailable"))
    s = queue.stats()
    assert (s.total, s.pending, s.processing, s.completed, s.error) == (4, 0, 1, 2, 1)
    assert s.audio_seconds_completed == pytest.approx(90)
    assert s.tokens_completed == 210
    assert s.errors_by_kind == {"unavailable": 1}
    assert [r["transcript"] for r in queue.iter_completed()] == ["one", "two"]
    assert [r["transcript"] for r in queue.iter_completed(min_tokens=100)] == ["two"]
    assert [r["transcript"] for r in queue.iter_completed(language="en")] == ["one"]
    assert list(queue.iter_completed(since="2999-01-01")) == []
    assert len(list(queue.iter_completed(since="2000-01-01T00:00:00Z", page=1))) == 2


def test_workers_registry(queue):
    queue.register_worker("host-1", host="host", device="cpu", model="tiny.en", lease_s=60)
    queue.register_worker("host-2", device="cuda:0", lease_s=0.1)
    time.sleep(0.2)
    alive = {w["worker"]: w["alive"] for w in queue.workers()}
    assert alive == {"host-1": True, "host-2": False}
    queue.heartbeat("host-2", [], lease_s=60)
    assert all(w["alive"] for w in queue.workers())
    queue.unregister_worker("host-1")
    assert queue.stats().active_workers == 1


def test_reopen_keeps_data_and_schema_version(db_url):
    from ytcorpus.queue import open_queue

    with open_queue(db_url) as q:
        q.add(["aaaaaaaaaa1"])
    with open_queue(db_url) as q:
        assert q.stats().pending == 1


def test_plain_exceptions_and_kind_names_are_typed_on_fail(queue):
    queue.add(["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3"])
    a, b, c = queue.claim("w", 3, lease=60)  # `lease` is DESIGN.md's name for lease_s
    assert queue.fail("w", a.video_id, TimeoutError("read timed out")) == "pending"
    assert queue.get(a.video_id)["error_kind"] == "timeout"
    assert queue.fail("w", b.video_id, "private") == "error"
    assert queue.get(b.video_id)["error_kind"] == "private"
    assert queue.fail("w", c.video_id, ConnectionResetError("reset by peer")) == "pending"
    assert queue.get(c.video_id)["error_kind"] == "network"


def test_add_result_counts(queue):
    result = queue.add(["aaaaaaaaaa1", "aaaaaaaaaa1", "bad", "worse"])
    assert (result.added, result.duplicates) == (1, 1)
    assert result.invalid == 2 and len(result.invalid) == 2
    assert result.invalid[0].source == "bad"
