"""Engine plugins for tests and benchmarks, loaded as `free_engine:FreeEngine` (tests/ is
on the path): a model that costs nothing, so only the worker's own work is measured.

FreeEngine records the size of every batch it gets (`batches`; with env
YTCORPUS_TEST_BATCH_LOG set, also appended to that file, one line per batch) and returns
one segment per chunk covering it. The model string picks a behaviour: "raise" (every
call raises), "poison" (a batch holding a full-scale input raises), "wrong_count" (one
result too few), or anything else (works).
"""

from __future__ import annotations

import os

import numpy as np


class FreeEngine:
    name = "free"

    def __init__(self, model: str | None, device: str, batch_size: int):
        self.model_name = model or "free"
        self.device = device
        self.batch_size = batch_size
        self.language = "en"
        self.batches: list[int] = []
        self.gate = None  # a test may set a callable run before the first batch
        self._log = os.environ.get("YTCORPUS_TEST_BATCH_LOG")
        self._n = 0

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        if self.gate is not None and not self.batches:
            self.gate()
        self.batches.append(len(items))
        if self._log:
            with open(self._log, "a") as f:
                f.write(f"{len(items)}\n")
        if self.model_name == "raise":
            raise RuntimeError("the plugin's model failed")
        if self.model_name == "poison" and any(np.abs(i).max() >= 0.99 for i in items):
            raise RuntimeError("the plugin's model failed on a full-scale input")
        out = []
        for i in items:  # distinct words per chunk: no repetition guard fires
            self._n += 1
            out.append([{"start": 0.0, "end": np.asarray(i).size / 16000,
                         "text": f"chunk number {self._n} of the test"}])
        return out[:-1] if self.model_name == "wrong_count" else out


class NotAnEngine:
    """Constructs fine, but has no transcribe_chunks."""

    def __init__(self, model, device, batch_size):
        self.name, self.model_name, self.device, self.batch_size = "x", "x", device, batch_size


class MultilingualEngine(FreeEngine):
    """Detects a language (always `DETECTED`) and records what it was asked."""

    DETECTED = "de"

    def __init__(self, model, device, batch_size):
        super().__init__(model, device, batch_size)
        self.language = None
        self.multilingual = True
        self.detect_calls: list[int] = []
        self.languages_seen: list[str | None] = []

    def detect_language(self, items: list) -> list[str | None]:
        self.detect_calls.append(len(items))
        return [self.DETECTED] * len(items)

    def transcribe_chunks(self, items: list, languages=None) -> list[list[dict]]:
        self.languages_seen.extend(languages or [None] * len(items))
        return super().transcribe_chunks(items)
