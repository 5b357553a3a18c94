"""The Ray actors of `ytcorpus cluster`. Each runs what a `work` or `fetch --stage`
process runs, in-process: `run()` blocks until the worker ends and returns its exit code;
`stop()` (a second concurrent call: the actors are threaded) asks it to finish the batch in
flight and release the rest, as SIGTERM does for `work`.

The worker's name starts with the prefix the supervisor gave (`ray-<node id>-<slot>-<n>`),
so the supervisor knows whose rows to release when Ray reports the node dead."""

from __future__ import annotations

import logging
import os
import threading
from argparse import Namespace
from typing import Any

log = logging.getLogger(__name__)


def _logging(verbose: int = 0) -> None:
    """Warnings and errors reach the driver's log (Ray forwards actor output); per-video
    lines only with `ytcorpus -v cluster` (hundreds of workers would flood it). Every
    line is in the node's Ray log files either way."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def where() -> dict[str, Any]:
    """This actor's node, process and GPU(s) as Ray assigned them."""
    import ray

    return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES", "")}


class TranscribeActor:
    """One staged worker (ytcorpus.work.worker.Worker) on the GPU(s) Ray gave this actor."""

    def __init__(self, flags: dict[str, Any], prefix: str):
        _logging(flags.get("verbose") or 0)
        self.args = Namespace(**flags)
        cuda = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        # the GPU is in the name: each worker's rows show where they ran
        self.args.name = f"{prefix}-cuda{cuda.replace(',', '+')}" if cuda else prefix
        self.worker = None
        self._stop = threading.Event()

    def where(self) -> dict[str, Any]:
        return where()

    def run(self) -> dict[str, Any]:
        from ..work.worker import build_worker

        worker, queue = build_worker(self.args)
        self.worker = worker
        if self._stop.is_set():
            worker.stop_event.set()
        try:
            code = worker.run()
        finally:
            queue.close()
        return {"code": code, "name": worker.name, "completed": worker.completed,
                "failed": worker.failed, "audio_seconds": worker.audio_seconds}

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop_event.set()


class FetchActor:
    """One download-only worker (`fetch --stage`) on CPU: stages audio for the GPUs."""

    def __init__(self, flags: dict[str, Any], prefix: str):
        _logging(flags.get("verbose") or 0)
        self.args = Namespace(**flags)
        self.prefix = prefix
        self.worker = None
        self._stop = threading.Event()

    def where(self) -> dict[str, Any]:
        return where()

    def run(self) -> dict[str, Any]:
        from ..acquire.fleet import FetchFleetWorker
        from ..acquire.stage import StageStore
        from ..acquire.ytdlp import Fetcher
        from ..core.config import FetchConfig, WorkerConfig, build
        from ..queue import open_queue

        a = self.args
        wc = build(WorkerConfig, download_threads=a.download_threads, lease=a.lease,
                   exit_when_empty=a.exit_when_empty)
        fetcher = Fetcher(build(FetchConfig, work_dir=a.work_dir, audio_format=a.audio_format,
                                language=a.language))
        queue = open_queue(a.db, create=False)
        name = f"{self.prefix}-{os.getpid()}"
        self.worker = FetchFleetWorker(queue, fetcher, StageStore(a.stage), name=name,
                                       threads=wc.download_threads, lease=wc.lease,
                                       exit_when_empty=wc.exit_when_empty,
                                       poll_s=min(wc.poll_interval, 10.0),
                                       max_staged=getattr(a, "max_staged", None))
        if self._stop.is_set():
            self.worker.stop.set()
        try:
            code = self.worker.run()
        finally:
            queue.close()
        return {"code": code, "name": name, "completed": self.worker.staged,
                "failed": self.worker.failed, "audio_seconds": 0.0}

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop.set()
