"""The prepare stage shares the cores with the engine without taking them from it: its
threads run PREPARE_NICE steps below the engine thread, and numpy's BLAS runs one thread
while the stages run (restored after)."""

from __future__ import annotations

import os
import threading

import shutil

from threadpoolctl import threadpool_info

from conftest import DEMO
from free_engine import FreeEngine
from ytcorpus.work.pipeline import transcribe_files
from ytcorpus.work.prepare import PREPARE_NICE


def _blas_threads() -> list[int]:
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


class _Watching(FreeEngine):
    """Records, from its prepare() (run in the prepare threads), the thread's nice value
    and numpy's BLAS threads, and from transcribe_chunks (the engine thread) its own."""

    def __init__(self):
        super().__init__("works", "cpu", 4)
        self.prepare_seen: set[tuple] = set()
        self.engine_nice: set[int] = set()

    def prepare(self, chunk):
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        self.prepare_seen.add((nice, tuple(_blas_threads())))
        return chunk

    def transcribe_chunks(self, items):
        self.engine_nice.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().transcribe_chunks(items)


def test_prepare_threads_run_below_the_engine_with_one_blas_thread(tmp_path):
    files = [str(shutil.copy(DEMO / "arctic_a0007.wav", tmp_path / f"c{i}.wav"))
             for i in range(6)]
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = _blas_threads()
    engine = _Watching()
    got = list(transcribe_files(engine, files, prepare_threads=2))
    assert len(got) == 6 and not any(isinstance(r, BaseException) for _, r in got)
    assert engine.engine_nice == {base}
    expected_nice = min(19, base + PREPARE_NICE)
    assert engine.prepare_seen == {(expected_nice, tuple(1 for _ in before))}
    assert _blas_threads() == before  # restored once the run is over
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
