"""WorkProgress: the worker's live line / periodic summary, on a controlled clock."""

from __future__ import annotations

import logging

from conftest import wait_for
from ytcorpus.observe.progress import WorkProgress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_line_counts_speed_stages_and_queue_eta():
    clock = Clock()
    asked = []
    p = WorkProgress(terminal=False, clock=clock, queue_left=lambda: asked.append(1) or 100)
    clock.now += 100
    for _ in range(4):
        p.video_done(600.0)
    p.video_failed("private")
    p.stages(downloading=2, preparing=1, engine=8, pool_seconds=240.0)
    line = p.line()
    assert "4 videos done, 1 failed, 0.67 h audio" in line
    assert "24.0x realtime" in line  # 2400 s of audio in 100 s of life
    assert "downloading 2, preparing 1, on engine 8 chunks (4.0 min audio queued)" in line
    assert "queue 100 left, ETA 0h 41m" in line  # 100 videos at 0.04 video/s
    clock.now += 10
    p.line()
    assert len(asked) == 1  # the queue is asked at most every 30 s
    clock.now += 400  # nothing finished in the last 5 minutes
    assert "0.0x realtime" in p.line()


def test_idle_worker_says_so():
    clock = Clock()
    p = WorkProgress(terminal=False, clock=clock, poll_interval=10)
    p.idle(True)
    assert p.line().startswith("idle, queue empty, polling every 10s | 0 videos done")
    p.video_done(5.0)
    assert not p.line().startswith("idle")


def test_off_a_terminal_a_line_is_logged_per_interval(caplog):
    p = WorkProgress(terminal=False, interval=0.05)
    p.idle(True)
    with caplog.at_level(logging.INFO, logger="ytcorpus.work"):
        with p:
            wait_for(lambda: sum("idle, queue empty" in r.message for r in caplog.records) >= 2,
                     timeout=30)


def test_forwards_to_metrics():
    class Recorder:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda *a: self.calls.append((name, *a))

    m = Recorder()
    p = WorkProgress(terminal=False, metrics=m)
    p.video_done(12.5)
    p.video_failed("network")
    p.stages(engine=3)
    assert m.calls == [("videos_done", 1), ("audio_seconds", 12.5), ("failure", "network"),
                       ("pool_depth", 3)]


def test_stage_counts_are_sampled_per_line_and_stop_never_asks_the_queue(caplog):
    clock = Clock()
    asked = []
    counts = {"downloading": 3, "preparing": 0, "engine": 5, "pool_seconds": 60.0}
    p = WorkProgress(terminal=False, clock=clock, sample=lambda: dict(counts),
                     queue_left=lambda: asked.append(1) or 7)
    assert "downloading 3, preparing 0, on engine 5 chunks (1.0 min audio queued)" in p.line()
    counts.update(downloading=0, engine=0, pool_seconds=0.0)
    p.idle(True)
    assert p.line().startswith("idle, queue empty")
    assert len(asked) == 1
    clock.now += 3600  # the queue size is due again, but stop() runs on the engine thread
    with caplog.at_level(logging.INFO, logger="ytcorpus.work"):
        p.stop()
    assert len(asked) == 1 and "idle, queue empty" in caplog.records[-1].message
