#!/usr/bin/env bash
# `bash launch.sh ARGS` is `ytcorpus launch ARGS`, from any directory: one supervised worker
# per GPU (or MIG instance); `bash launch.sh status`, `bash launch.sh stop`. Paths (the
# database, --work-dir, logs/) stay relative to where you run it. `ytcorpus launch --help`
# tells the rest. Uses the checkout's .venv when there is one, else the installed ytcorpus.
HERE="$(cd "$(dirname "$0")" && pwd)"
export YTCORPUS_LAUNCH_PROG="${YTCORPUS_LAUNCH_PROG:-bash $0}"  # how hints name this command
[ -x "$HERE/.venv/bin/ytcorpus" ] && exec "$HERE/.venv/bin/ytcorpus" launch "$@"
command -v ytcorpus >/dev/null 2>&1 && exec ytcorpus launch "$@"
echo "launch.sh: ytcorpus is not installed; run 'make venv' (or pip install .) first" >&2
exit 1
