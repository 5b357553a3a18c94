"""`ytcorpus work`: one worker process (one GPU, or the CPU)."""

from __future__ import annotations

import argparse

from .args import add_engine_flags, add_queue_flags, open_db, positive_int


def register(sub) -> None:
    s = sub.add_parser("work", help="run one worker: claim, download, transcribe, store",
                       description="One worker process (one GPU, or the CPU). Exit 0: done or "
                       "stopped; 75: this node is blocked (network, disk, every route resting); "
                       "70: the device is broken.")
    add_engine_flags(s)
    add_queue_flags(s, "exit when nothing is claimable and nothing is in flight",
                    "worker name prefix (default host-device)",
                    "videos in another language fail as wrong_language")
    add_worker_flags(s)
    s.set_defaults(func=run)


def add_worker_flags(s) -> None:
    """Flags of the worker process itself (`work`, `cluster`)."""
    s.add_argument("--prepare-threads", type=positive_int,
                   help="decode/VAD/chunk threads (default: the cores this process may "
                        "use, less one)")
    s.add_argument("--prefetch", type=positive_int,
                   help="items downloaded ahead at most (default 8)")
    s.add_argument("--diarize", action="store_true", default=None,
                   help="who spoke when: segments get speaker S1, S2, ...; the row its "
                        "number of speakers (pip install 'ytcorpus[diarize]')")
    s.add_argument("--second-decoding", action=argparse.BooleanOptionalAction, default=None,
                   help="decode doubtful chunks (a segment's mean word probability under "
                        "0.6) a second time, beam search: invented text changes between "
                        "decodings, heard words do not (default on; docs/quality.md)")
    s.add_argument("--metrics-port", type=positive_int, metavar="PORT",
                   help="serve this worker's Prometheus metrics on PORT (/metrics)")
    s.add_argument("--stage", metavar="DIR|URL",
                   help="read audio staged by `ytcorpus fetch` from DIR or an fsspec URL "
                        "(s3://bucket/prefix; credentials from the environment), staged "
                        "rows first")
    s.add_argument("--stage-only", action="store_true",
                   help="with --stage: take only staged rows, never download (no YouTube "
                        "access needed)")


def run(args) -> int:
    from ..core.config import WorkerConfig, build
    from ..work.worker import run_worker

    build(WorkerConfig)  # a bad setting is named first (run_worker builds it in full)
    open_db(args).close()  # a missing database is an error here, not a new empty one
    return run_worker(args)
