#!/usr/bin/env bash
# Start one ytcorpus worker per GPU, one after another (each waits until the previous
# one has loaded its model, so host RAM is not exhausted by parallel loads).
#
#   bash launch.sh                  one worker per GPU that nvidia-smi lists (no GPU: one CPU worker)
#   bash launch.sh "0 1"            only GPUs 0 and 1
#   bash launch.sh -- --batch-size 32 --exit-when-empty     extra args go to `ytcorpus work`
#   bash launch.sh stop             stop every worker started here (SIGTERM: they finish
#                                   their batch and release what they hold)
#
# Logs: logs/worker-N.log (N = GPU index, or "cpu"). PIDs: logs/workers.pid.
# The database comes from YTCORPUS_DB / DB_URL (default ./data.db), as for `ytcorpus`.
set -u
cd "$(dirname "$0")"
LOG_DIR="${YTCORPUS_LOG_DIR:-logs}"
PID_FILE="$LOG_DIR/workers.pid"
READY_TIMEOUT="${YTCORPUS_READY_TIMEOUT:-900}"   # seconds a worker may take to load its model
STOP_TIMEOUT="${YTCORPUS_STOP_TIMEOUT:-120}"

if [ -x .venv/bin/ytcorpus ]; then
  YTCORPUS=(.venv/bin/ytcorpus)
elif command -v ytcorpus >/dev/null 2>&1; then
  YTCORPUS=(ytcorpus)
else
  echo "launch.sh: ytcorpus is not installed; run 'make venv' first" >&2
  exit 1
fi

stop_workers() {
  [ -f "$PID_FILE" ] || { echo "no workers running (no $PID_FILE)"; return 0; }
  local pids=() pid
  while read -r pid _; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
  done < "$PID_FILE"
  if [ ${#pids[@]} -eq 0 ]; then
    echo "no workers running"; rm -f "$PID_FILE"; return 0
  fi
  echo "stopping ${#pids[@]} worker(s): ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null
  local waited=0
  while [ $waited -lt "$STOP_TIMEOUT" ]; do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 1; waited=$((waited + 1))
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "worker $pid did not stop in ${STOP_TIMEOUT}s; killing it (its leases will expire)"
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  rm -f "$PID_FILE"
  echo "all workers stopped"
}

if [ "${1:-}" = "stop" ]; then
  stop_workers
  exit 0
fi

GPUS=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  GPUS="$1"; shift
fi
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")

if [ -z "$GPUS" ] && command -v nvidia-smi >/dev/null 2>&1; then
  GPUS="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr '\n' ' ')"
fi
GPUS="$(echo "$GPUS" | tr ',' ' ' | xargs)"

mkdir -p "$LOG_DIR"
if [ -f "$PID_FILE" ]; then
  while read -r pid _; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "launch.sh: workers from an earlier launch are still running (see $PID_FILE);" \
           "run 'bash launch.sh stop' first" >&2
      exit 1
    fi
  done < "$PID_FILE"
fi
: > "$PID_FILE"

trap 'echo; echo "interrupted: stopping workers"; stop_workers; exit 0' INT TERM

start_worker() {  # $1 = label (GPU index or cpu), $2 = device
  local label="$1" device="$2" log="$LOG_DIR/worker-$1.log"
  if [ "$label" = "cpu" ]; then
    "${YTCORPUS[@]}" work --device cpu "${EXTRA[@]}" >"$log" 2>&1 &
  else
    CUDA_VISIBLE_DEVICES="$label" "${YTCORPUS[@]}" work --device "$device" "${EXTRA[@]}" \
      >"$log" 2>&1 &
  fi
  local pid=$!
  echo "$pid $label" >> "$PID_FILE"
  echo "worker $label: pid $pid, log $log; waiting for its model to load"
  local waited=0
  while ! grep -q " ready: " "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "worker $label exited before it was ready; last lines of $log:" >&2
      tail -n 15 "$log" >&2
      return 1
    fi
    if [ $waited -ge "$READY_TIMEOUT" ]; then
      echo "worker $label not ready after ${READY_TIMEOUT}s; starting the next anyway" >&2
      return 0
    fi
    sleep 1; waited=$((waited + 1))
  done
  echo "worker $label ready"
}

if [ -z "$GPUS" ]; then
  echo "no GPU found: starting one CPU worker"
  start_worker cpu cpu
else
  for gpu in $GPUS; do
    start_worker "$gpu" cuda
  done
fi

echo "workers running; Ctrl-C or 'bash launch.sh stop' stops them. Progress: python monitor.py"
# Stay in the foreground until every worker has exited (or a signal arrives).
while :; do
  alive=0
  while read -r pid _; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
  done < "$PID_FILE" 2>/dev/null
  [ $alive -eq 0 ] && break
  sleep 2 & wait $!
done
rm -f "$PID_FILE"
echo "all workers have exited"
