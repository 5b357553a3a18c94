"""Engine plugins that fail the way real engines and GPUs do, for the fault tests
(loaded as `fault_engines:ClassName`; tests/ is on PYTHONPATH there).

DeadCudaEngine: every call fails like a dead CUDA context.
RejectClippedEngine: rejects any batch holding a clipped input (ValueError), as engines
reject inputs they cannot take; transcribes the others.
FailEverythingEngine: every call fails with a plain ValueError (a plugin that cannot work).
KillerEngine: kills its own process (SIGKILL: a segfault or the OOM killer, as far as the
queue can tell) when a batch holds a full-scale input; otherwise works.
"""

from __future__ import annotations

import os
import signal

import numpy as np


class _Base:
    name = "fault"

    def __init__(self, model: str | None, device: str, batch_size: int):
        self.model_name = model or self.name
        self.device = device
        self.batch_size = batch_size
        self.language = "en"
        self._n = 0

    def _segments(self, items: list) -> list[list[dict]]:
        out = []
        for item in items:
            self._n += 1
            out.append([{"start": 0.0, "end": np.asarray(item).size / 16000,
                         "text": f"words of chunk {self._n} here"}])
        return out


class DeadCudaEngine(_Base):
    name = "dead-cuda"

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


class KillerEngine(_Base):
    name = "killer"

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        if any(np.abs(np.asarray(item)).max() >= 0.99 for item in items):
            os.kill(os.getpid(), signal.SIGKILL)
        return self._segments(items)


class SlowEngine(_Base):
    """Works, taking `model` seconds per batch (default 0.2): a run long enough to
    restart a database under it."""

    name = "slow"

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        import time

        time.sleep(float(self.model_name) if self.model_name != "slow" else 0.2)
        return self._segments(items)


def _clipped(items: list) -> bool:
    return any(np.abs(np.asarray(item)).max() >= 0.99 for item in items)


class RejectClippedEngine(_Base):
    name = "reject-clipped"

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        if _clipped(items):
            raise ValueError("input is clipped: refusing to transcribe it")
        return self._segments(items)


class FailEverythingEngine(_Base):
    name = "fail-everything"

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        raise ValueError(f"this plugin cannot transcribe anything ({len(items)} inputs)")
