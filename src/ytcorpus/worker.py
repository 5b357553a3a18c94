"""Compatibility: the worker lives in ytcorpus.work (one module per stage)."""

from __future__ import annotations

from .work.chunks import MAX_CHUNK_S as CHUNK_S
from .work.worker import Worker, run_worker, worker_name

__all__ = ["CHUNK_S", "Worker", "run_worker", "worker_name"]
