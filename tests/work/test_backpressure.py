"""Bounded by audio seconds end to end: a writer that waits on the database stops the
engine loop, not memory. Four 10-minute inputs, the SQLite file held by another
connection's BEGIN EXCLUSIVE while they are transcribed: the engine transcribes at most
the pool's bound, the chunks waiting for the writer hold no audio, and everything is
stored (once) when the lock goes."""

from __future__ import annotations

import sqlite3
import threading
import wave

import numpy as np
import pytest

from conftest import DEMO, wait_for
from free_engine import FreeEngine
from ytcorpus.core.audio import decode_to_mono16k
from ytcorpus.core.config import FetchConfig, WorkerConfig
from ytcorpus.acquire.ytdlp import Fetcher
from ytcorpus.queue import open_queue
from ytcorpus.work.worker import Worker

pytestmark = pytest.mark.slow
SR = 16000


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.fixture(scope="module")
def ten_minute_files(tmp_path_factory) -> list[str]:
    clip = (np.clip(decode_to_mono16k(DEMO / "arctic_a0007.wav"), -1, 1) * 30000)
    unit = np.concatenate([clip, np.zeros(int(1.5 * SR))]).astype(np.int16)
    audio = np.tile(unit, int(600 * SR / unit.size) + 1)[:600 * SR]
    folder = tmp_path_factory.mktemp("long")
    paths = []
    for i in range(4):
        path = folder / f"lecture{i}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(audio.tobytes())
        paths.append(str(path))
    return paths


class CountingEngine(FreeEngine):
    """Counts the speech seconds it transcribes and keeps the chunks it was given, so
    the test can see what they still hold once handed to the writer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds = 0.0

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        self.seconds += sum(np.asarray(i).size for i in items) / SR
        return super().transcribe_chunks(items)


def test_a_stalled_writer_stops_the_engine_not_memory(tmp_path, ten_minute_files):
    db = str(tmp_path / "q.db")
    engine = CountingEngine(None, "cpu", 4)
    config = WorkerConfig(lease=300, exit_when_empty=True, download_threads=2,
                          prepare_threads=2)
    lock = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locked = threading.Event()
    at_lock: dict = {}

    def take_the_database() -> None:  # before the first batch: every row claimed
        wait_for(lambda: len(worker.held) == 4, timeout=60)
        lock.execute("BEGIN EXCLUSIVE")
        at_lock.update(seconds=engine.seconds, rss=_rss_mb())
        locked.set()

    with open_queue(db) as q:
        q.add(ten_minute_files)
        q.outage_wait_s = 600  # each write waits out the lock (no giving up in this test)
        worker = Worker(q, engine, Fetcher(FetchConfig(work_dir=str(tmp_path / "w"))),
                        config, name="stalled")
        engine.gate = take_the_database
        code: list = []
        runner = threading.Thread(target=lambda: code.append(worker.run()), daemon=True)
        runner.start()
        assert locked.wait(120)
        pool = worker.pool

        def stalled() -> bool:  # the writer waits, prepare is blocked, the engine idle
            before = engine.seconds
            threading.Event().wait(1.0)
            return (worker.writer.storing and engine.seconds == before
                    and pool.ready() == 0 and pool._blocked_puts > 0)
        wait_for(stalled, timeout=180, interval=0.0)
        writer = worker.writer
        assert worker.store.completed == 0
        # what waits for the writer is inside the pool's bound (before: it was outside,
        # and the engine went on through every input while the database was locked)
        assert 0 < writer.backlog_s <= pool.in_flight <= pool.max_seconds
        assert pool.peak <= pool.max_seconds
        assert engine.seconds < 4 * 600 * 0.7 - 60  # stopped well before the end
        waiting = [chunk for event in list(writer._events.queue) if event[0] == "results"
                   for chunk, _ in event[1]]
        assert waiting and all(chunk.item is None for chunk in waiting)  # no audio kept
        rss_stalled = _rss_mb()
        lock.execute("ROLLBACK")  # the database is back
        runner.join(300)
        assert code == [0]
        s = q.stats()
        assert (s.completed, s.pending, s.error) == (4, 0, 0)
    lock.close()
    assert engine.seconds > 4 * 600 * 0.7  # 4/5.5 of 40 minutes is speech
    print(f"RSS at lock {at_lock['rss']:.0f} MB, stalled {rss_stalled:.0f} MB")
