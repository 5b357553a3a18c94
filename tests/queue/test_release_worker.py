"""Queue.release_worker: the rows of a worker lost with its machine go back uncharged;
no other worker's rows move (a name prefix is matched literally: `_` and `%` are not
wildcards)."""

from __future__ import annotations


def test_release_worker_returns_only_its_rows_uncharged(queue):
    queue.add([f"v{i:010d}" for i in range(6)])
    lost = "ray-0a1b_node-gpu0-c3d4"
    names = [f"{lost}-cuda0-41-beef", lost, "ray-0a1bXnode-gpu0-c3d4-cuda0-7-aaaa",
             "ray-0a1b_node-gpu0-c3d40-cuda0-9-bbbb", "other"]
    for name in names:
        queue.claim(name, 1, 600)
    queue.register_worker(f"{lost}-cuda0-41-beef", host="h", device="cuda", model="m",
                          lease_s=600)
    assert [w["worker"] for w in queue.workers()] == [f"{lost}-cuda0-41-beef"]
    assert queue.release_worker(lost) == 2
    rows = {queue.get(f"v{i:010d}")["worker"]: queue.get(f"v{i:010d}") for i in range(5)}
    assert set(rows) == {None, *names[2:]}
    released = [queue.get(f"v{i:010d}") for i in range(2)]
    assert [(r["status"], r["attempts"], r["crashes"], r["worker"]) for r in released] == \
        [("pending", 0, 0, None)] * 2
    assert [w["worker"] for w in queue.workers()] == []  # its heartbeat row is gone too
    assert queue.release_worker(lost) == 0
    assert queue.stats().processing == 3
