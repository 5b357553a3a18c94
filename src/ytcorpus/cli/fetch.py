"""`ytcorpus fetch`: download-only workers that stage audio for GPU workers."""

from __future__ import annotations

import logging
import os
import signal
import socket
from typing import Any

from .args import add_queue_flags, open_db

log = logging.getLogger(__name__)


def register(sub) -> None:
    import argparse

    s = sub.add_parser("fetch", help="download-only worker: stage audio for GPU workers",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Claims rows like `work`, downloads their audio (paced per "
                       "proxy), checks it decodes, moves it into the stage folder DIR and "
                       "gives the row back, staged, to GPU workers (`work --stage DIR`). "
                       "Exits 75 with --exit-when-empty when every proxy is resting.",
                       epilog="examples:\n  ytcorpus fetch --stage /mnt/stage --download-threads 8 "
                              "--max-staged 20h\n  YTCORPUS_PROXIES='http://p1:8080|p1.txt,"
                              "http://p2:8080' ytcorpus fetch --stage /mnt/stage\n"
                              "  AWS_ENDPOINT_URL=http://minio:9000 ytcorpus fetch --stage "
                              "s3://audio/stage")
    s.add_argument("--stage", required=True, metavar="DIR|URL",
                   help="stage store shared with the GPU workers: a folder (local or "
                        "network) or an fsspec URL (s3://bucket/prefix, gs://...; "
                        "credentials and endpoint from the environment, e.g. "
                        "AWS_ENDPOINT_URL)")
    add_queue_flags(s, "exit when nothing is left to stage and nothing is in flight",
                    "worker name (default host-fetch-pid)",
                    "a video whose page states another fails as wrong_language before "
                    "download")
    s.add_argument("--max-staged", metavar="LIMIT",
                   help="pause while the staged backlog is over this: hours (20h) or size (50GB)")
    s.set_defaults(func=run)


def run(args) -> int:
    """Build the fetch worker from flags/env/config and run it until stopped or drained."""
    from ..acquire.fleet import FetchFleetWorker
    from ..acquire.stage import StageStore
    from ..acquire.ytdlp import Fetcher
    from ..core.config import FetchConfig, WorkerConfig, build

    with open_db(args) as queue:
        wc = build(WorkerConfig, download_threads=args.download_threads, lease=args.lease,
                   max_videos=args.max_videos, exit_when_empty=args.exit_when_empty)
        flags: dict[str, Any] = {"work_dir": args.work_dir, "audio_format": args.audio_format,
                                 "language": getattr(args, "language", None)}
        fetcher = Fetcher(build(FetchConfig, **flags))
        name = args.name or f"{socket.gethostname()}-fetch-{os.getpid()}"
        worker = FetchFleetWorker(queue, fetcher, StageStore(args.stage), name=name,
                                  threads=wc.download_threads, lease=wc.lease,
                                  max_videos=wc.max_videos, exit_when_empty=wc.exit_when_empty,
                                  poll_s=min(wc.poll_interval, 10.0),
                                  max_staged=args.max_staged)

        def on_signal(signum, _frame) -> None:
            log.info("signal %d: stopping (held rows are released)", signum)
            worker.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        return worker.run()
