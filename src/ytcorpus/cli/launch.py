"""`ytcorpus launch`: one supervised worker per GPU of this machine; `launch stop`,
`launch status`."""

from __future__ import annotations

import argparse

from ..core.errors import UsageError

DESCRIPTION = """\
Start one `ytcorpus work` per GPU that nvidia-smi lists (a GPU in MIG mode: one per
instance; no nvidia-smi: one CPU worker), one after another: each waits until the one
before has loaded its model. Each worker is supervised: one that exits non-zero (a crash,
70 = broken device, 75 = node blocked) starts again after a delay that doubles from
YTCORPUS_RESTART_DELAY (5 s) up to YTCORPUS_RESTART_MAX (300 s) and resets after a run of
10 minutes; one that exits 0 (done) or 2 (bad arguments) is not. Stays in the foreground
until every worker has ended; Ctrl-C (or `ytcorpus launch stop` from another shell) stops
them: SIGTERM, then a kill after YTCORPUS_STOP_TIMEOUT (120 s).

Paths mean what they mean where you run it: the database (--db, YTCORPUS_DB, ./data.db),
--work-dir and the logs. Logs: logs/worker-N.log (N = GPU index, MIG uuid, or cpu), state:
logs/worker-N.state, supervisors: logs/workers.pid (YTCORPUS_LOG_DIR moves them).
CUDA_DEVICE_ORDER=PCI_BUS_ID, so GPU numbers match nvidia-smi's. Other settings:
YTCORPUS_READY_TIMEOUT (900 s for a model to load), YTCORPUS_NVIDIA_SMI (the nvidia-smi
command)."""

EPILOG = """\
examples:
  ytcorpus launch                     one worker per GPU (or one CPU worker)
  ytcorpus launch "0 1"               only GPUs 0 and 1 (also: MIG-<uuid>, or cpu)
  ytcorpus launch -- --batch-size 32 --exit-when-empty     flags for `ytcorpus work`
  ytcorpus launch status              workers, their GPU, state, restarts
  ytcorpus launch stop                stop every worker started here"""


def register(sub) -> None:
    s = sub.add_parser("launch", help="one supervised worker per GPU; launch stop|status",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       usage="ytcorpus launch [GPUS] [-- WORK_ARGS...] | stop | status")
    s.add_argument("rest", nargs=argparse.REMAINDER, metavar="GPUS | stop | status",
                   help='devices: "0 1", "0,1", MIG-<uuid>, cpu (default: every GPU); then '
                        "-- and flags for `ytcorpus work`")
    s.set_defaults(func=run)


def split_rest(rest: list[str]) -> tuple[str | None, list[str]]:
    """(GPUS or stop/status, the flags for `ytcorpus work`) from what follows `launch`."""
    rest = list(rest)
    first = None
    if rest and rest[0] != "--" and not rest[0].startswith("-"):
        first = rest.pop(0)
    if rest and rest[0] == "--":
        rest.pop(0)
    return first, rest


def run(args) -> int:
    from ..launch.files import Settings
    from ..launch.launcher import launch, status_table, stop

    first, work_args = split_rest(args.rest)
    settings = Settings.from_env()
    if first in ("stop", "status"):
        if work_args:
            raise UsageError(f"launch {first} takes no arguments, not {' '.join(work_args)}")
        if first == "stop":
            return stop(settings)
        print(status_table(settings))
        return 0
    given = [*(["--db", args.db] if getattr(args, "db", None) else []),
             *(["--config", args.config] if getattr(args, "config", None) else [])]
    return launch(first, [*given, *work_args], settings)
