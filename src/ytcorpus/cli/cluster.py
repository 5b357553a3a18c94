"""`ytcorpus cluster`: the fleet on a Ray cluster (ytcorpus.cluster)."""

from __future__ import annotations

import argparse
import logging
import os
import signal

from .args import add_engine_flags, add_queue_flags, positive_float, positive_int
from .work import add_worker_flags

log = logging.getLogger(__name__)


def register(sub) -> None:
    s = sub.add_parser(
        "cluster", help="the fleet on a Ray cluster: a worker per GPU of every node",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="One transcribe worker per GPU of every node of a Ray cluster (a Ray "
        "actor running the same worker as `work`, in-process), optional CPU workers and "
        "download actors (`fetch --stage` in an actor). Nodes that join get workers within "
        "a poll; a worker that dies on a live node is replaced (a crash); one lost with "
        "its node has its rows released uncharged. Exit 0: done or stopped; 75 with "
        "--exit-when-empty: every worker blocked by node faults. Needs "
        "pip install \"ytcorpus[cluster]\"; see docs/cluster.md.",
        epilog="examples:\n"
        "  ytcorpus --db postgresql://q/db cluster --address auto --stage s3://audio/stage "
        "--fetchers 8\n"
        "  ray job submit -- ytcorpus --db postgresql://q/db cluster --address auto "
        "--exit-when-empty")
    s.add_argument("--address", default="auto",
                   help="the Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default auto)")
    add_engine_flags(s)
    add_queue_flags(s, "exit once the queue is drained and every worker stopped",
                    "ignored: workers are named ray-<node>-<slot>",
                    "videos in another language fail as wrong_language")
    add_worker_flags(s)
    s.add_argument("--workers-per-gpu", type=positive_int, default=1, metavar="K",
                   help="transcribe workers per GPU (small models, MIG); each gets 1/K GPU")
    s.add_argument("--cpu-workers", type=int, default=0, metavar="N",
                   help="transcribe workers on CPU, anywhere in the cluster (default 0)")
    s.add_argument("--fetchers", type=int, default=0, metavar="N",
                   help="download actors staging audio into --stage (default 0)")
    s.add_argument("--max-staged", metavar="LIMIT",
                   help="fetchers pause while the staged backlog is over this (20h, 50GB)")
    s.add_argument("--poll-interval", type=positive_float, default=5.0, metavar="S",
                   help="seconds between looks at the cluster: new nodes, ended workers "
                        "(default 5)")
    s.add_argument("--summary-interval", type=positive_float, default=60.0, metavar="S",
                   help="seconds between fleet summaries in the log (default 60)")
    s.set_defaults(func=run)


# flags the actors get (the rest is the supervisor's own; no --metrics-port: actors of
# one machine would share it)
WORKER_FLAGS = ("device", "engine", "model", "batch_size", "download_threads", "prefetch",
                "lease", "max_videos", "exit_when_empty", "prepare_threads", "language",
                "work_dir", "audio_format", "stage", "stage_only",
                "max_staged", "diarize", "second_decoding")


def actor_flags(args) -> dict:
    """What each actor's worker is built from: the work flags, and the database and the
    stage store as absolute addresses (an actor's working folder is Ray's, not ours)."""
    from ..core.errors import UsageError
    from ..core.storage import is_url
    from ..queue import is_postgres, resolve_db

    flags = {k: getattr(args, k, None) for k in WORKER_FLAGS}
    flags["verbose"] = getattr(args, "verbose", 0) or 0
    db = resolve_db(args.db)
    flags["db"] = db if is_postgres(db) else os.path.abspath(db)
    if flags["stage"] and not is_url(flags["stage"]):
        flags["stage"] = os.path.abspath(os.path.expanduser(flags["stage"]))
    if args.fetchers and not flags["stage"]:
        raise UsageError("--fetchers stage audio for the GPUs: give --stage DIR|URL too")
    if flags["stage_only"] and not flags["stage"]:
        raise UsageError("--stage-only needs --stage DIR|URL")
    return flags


PROBE_S = 5.0


def reachable(address: str | None) -> None:
    """A HOST:PORT (or ray://HOST:PORT) that nothing answers on is an error now, in one
    line: Ray itself would retry its connection for minutes before giving up."""
    import socket

    from ..core.errors import ConfigError

    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected auto, HOST:PORT or "
                          "ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: "
                          f"{exc.strerror or exc} (is `ray start --head` running there, and "
                          "the port open from here?)") from None


def run(args) -> int:
    from ..cluster import import_ray
    from ..cluster.fleet import Fleet
    from .args import open_db

    flags = actor_flags(args)
    open_db(args).close()  # a missing database is an error here, before Ray starts
    reachable(args.address)
    ray = import_ray()
    try:
        ray.init(address=args.address, logging_level=logging.WARNING, log_to_driver=True)
    except ConnectionError as exc:  # address auto and no cluster running here
        from ..core.errors import ConfigError

        raise ConfigError(f"no Ray cluster at --address {args.address}: {exc} (start one "
                          "with `ray start --head`, see docs/cluster.md)") from None
    queue = open_db(args)
    fleet = Fleet(ray, queue, flags, workers_per_gpu=args.workers_per_gpu,
                  cpu_workers=args.cpu_workers, fetchers=args.fetchers,
                  exit_when_empty=bool(args.exit_when_empty), poll_s=args.poll_interval,
                  summary_s=args.summary_interval)

    def on_signal(signum, _frame) -> None:
        log.info("signal %d: stopping every worker (batches in flight finish)", signum)
        fleet.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    log.info("cluster at %s: %d nodes alive", args.address, len(fleet.alive_nodes()))
    try:
        return fleet.run()
    finally:
        queue.close()
        ray.shutdown()
