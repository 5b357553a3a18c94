#!/usr/bin/env bash
# Start and supervise one ytcorpus worker per GPU (or MIG instance), one after another
# (each waits until the previous one has loaded its model, so host RAM is not exhausted
# by parallel loads).
#
#   bash launch.sh                  one worker per GPU that nvidia-smi lists (no nvidia-smi:
#                                   one CPU worker); MIG instances get a worker each
#   bash launch.sh "0 1"            only GPUs 0 and 1 (also: MIG-<uuid>, or cpu)
#   bash launch.sh -- --batch-size 32 --exit-when-empty     extra args go to `ytcorpus work`
#   bash launch.sh status           workers, their GPU, state, restarts
#   bash launch.sh stop             stop every worker started here (SIGTERM: they finish
#                                   their batch and release what they hold)
#
# Paths keep meaning what they mean where you run this: a relative YTCORPUS_DB (or the
# default ./data.db), --work-dir and the logs are relative to your working directory.
# Logs: logs/worker-N.log (N = GPU index, MIG uuid, or cpu); state: logs/worker-N.state.
#
# Supervision: a worker that exits non-zero (a crash, 70 = broken device, 75 = node
# blocked) is started again after a delay that doubles from YTCORPUS_RESTART_DELAY (5 s)
# up to YTCORPUS_RESTART_MAX (300 s), and resets after a run of 10 minutes. A worker that
# exits 0 (done), 2 (bad arguments: restarting cannot help) or is being stopped is not.
# CUDA_DEVICE_ORDER=PCI_BUS_ID, so GPU numbers match nvidia-smi's.
# YTCORPUS_NVIDIA_SMI names the nvidia-smi command (default nvidia-smi).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
LOG_DIR="${YTCORPUS_LOG_DIR:-logs}"
PID_FILE="$LOG_DIR/workers.pid"
READY_TIMEOUT="${YTCORPUS_READY_TIMEOUT:-900}"   # seconds a worker may take to load its model
STOP_TIMEOUT="${YTCORPUS_STOP_TIMEOUT:-120}"
RESTART_DELAY="${YTCORPUS_RESTART_DELAY:-5}"
RESTART_MAX="${YTCORPUS_RESTART_MAX:-300}"
HEALTHY_RUN=600                                   # a run this long resets the delay
NVIDIA_SMI="${YTCORPUS_NVIDIA_SMI:-nvidia-smi}"
export CUDA_DEVICE_ORDER=PCI_BUS_ID

if [ -x "$HERE/.venv/bin/ytcorpus" ]; then
  YTCORPUS=("$HERE/.venv/bin/ytcorpus")
elif command -v ytcorpus >/dev/null 2>&1; then
  YTCORPUS=(ytcorpus)
else
  echo "launch.sh: ytcorpus is not installed; run 'make venv' first" >&2
  exit 1
fi

# ---- state files: one per worker, KEY=VALUE lines ------------------------------------
set_state() {  # $1 = label, then KEY=VALUE...
  local file="$LOG_DIR/worker-$1.state"; shift
  local kv key
  for kv in "$@"; do
    key="${kv%%=*}"
    if [ -f "$file" ] && grep -q "^$key=" "$file"; then
      sed -i "s|^$key=.*|$kv|" "$file"
    else
      echo "$kv" >> "$file"
    fi
  done
}

get_state() {  # $1 = state file, $2 = key
  sed -n "s|^$2=||p" "$1" 2>/dev/null | head -n 1
}

show_status() {
  local files=("$LOG_DIR"/worker-*.state)
  if [ ! -e "${files[0]}" ]; then
    echo "no workers (no state files in $LOG_DIR)"; return 0
  fi
  printf "%-14s %-14s %-8s %-8s %-28s %-9s %s\n" WORKER GPU PID SUPER STATE RESTARTS LOG
  local f label sup state
  for f in "${files[@]}"; do
    label="$(basename "$f" .state)"; label="${label#worker-}"
    sup="$(get_state "$f" supervisor)"
    state="$(get_state "$f" state)"
    if [ -n "$sup" ] && ! kill -0 "$sup" 2>/dev/null && [ "${state%% *}" != "exited" ] \
       && [ "${state%% *}" != "stopped" ] && [ "${state%% *}" != "gave" ]; then
      state="gone (supervisor died)"
    fi
    printf "%-14s %-14s %-8s %-8s %-28s %-9s %s\n" "$label" "$(get_state "$f" gpu)" \
      "$(get_state "$f" pid)" "$sup" "$state" "$(get_state "$f" restarts)" \
      "$LOG_DIR/worker-$label.log"
  done
}

stop_workers() {
  [ -f "$PID_FILE" ] || { echo "no workers running (no $PID_FILE)"; return 0; }
  local sups=() pid label
  while read -r pid label; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && sups+=("$pid")
  done < "$PID_FILE"
  if [ ${#sups[@]} -eq 0 ]; then
    echo "no workers running"; rm -f "$PID_FILE"; return 0
  fi
  echo "stopping ${#sups[@]} worker(s)"
  kill -TERM "${sups[@]}" 2>/dev/null  # each supervisor passes it on to its worker
  local waited=0 alive
  while [ $waited -lt "$STOP_TIMEOUT" ]; do
    alive=0
    for pid in "${sups[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 1; waited=$((waited + 1))
  done
  local f wpid
  for f in "$LOG_DIR"/worker-*.state; do
    [ -e "$f" ] || continue
    wpid="$(get_state "$f" pid)"
    if [ -n "$wpid" ] && kill -0 "$wpid" 2>/dev/null; then
      echo "worker $wpid did not stop in ${STOP_TIMEOUT}s; killing it (its leases will expire)"
      kill -KILL "$wpid" 2>/dev/null
    fi
  done
  for pid in "${sups[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -f "$PID_FILE"
  echo "all workers stopped"
}

# ---- GPUs ----------------------------------------------------------------------------
list_gpus() {  # prints one device per line: a GPU index or a MIG-<uuid>
  local out
  if ! out="$("$NVIDIA_SMI" -L 2>&1)"; then
    echo "launch.sh: '$NVIDIA_SMI -L' failed: $(echo "$out" | head -n 1)" >&2
    echo "launch.sh: fix the driver, or name the devices: bash launch.sh \"0 1\" (or cpu)" >&2
    return 1
  fi
  # "GPU 0: NAME (UUID: GPU-...)" then, for a GPU in MIG mode, its instances:
  # "  MIG 1g.10gb     Device  0: (UUID: MIG-...)". A GPU with instances is used through
  # them (CUDA_VISIBLE_DEVICES=MIG-<uuid>), one worker each.
  echo "$out" | awk '
    /^GPU [0-9]+:/ { if (gpu != "" && !mig) print gpu; gpu = $2; sub(":", "", gpu); mig = 0; next }
    /^[ \t]+MIG / { if (match($0, /MIG-[0-9a-fA-F-]+/)) { print substr($0, RSTART, RLENGTH); mig = 1 } }
    END { if (gpu != "" && !mig) print gpu }'
}

# ---- supervision -----------------------------------------------------------------------
supervise() {  # $1 = label, $2 = CUDA_VISIBLE_DEVICES value or "cpu"
  local label="$1" gpu="$2" log="$LOG_DIR/worker-$1.log"
  local restarts=0 delay="$RESTART_DELAY" child="" stopping=0 rc started
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  while :; do
    started=$(date +%s)
    if [ "$gpu" = "cpu" ]; then
      "${YTCORPUS[@]}" work --device cpu "${EXTRA[@]}" >>"$log" 2>&1 &
    else
      CUDA_VISIBLE_DEVICES="$gpu" "${YTCORPUS[@]}" work --device cuda "${EXTRA[@]}" \
        >>"$log" 2>&1 &
    fi
    child=$!
    set_state "$label" "pid=$child" "state=running" "restarts=$restarts"
    while :; do  # a trapped signal interrupts wait: wait again while the worker lives
      wait "$child"; rc=$?
      [ $rc -gt 128 ] && kill -0 "$child" 2>/dev/null && continue
      break
    done
    child=""
    if [ $stopping -eq 1 ]; then
      set_state "$label" "state=stopped (exit $rc)" "pid="; return 0
    fi
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
      set_state "$label" "state=exited $rc" "pid="; return 0
    fi
    [ $(( $(date +%s) - started )) -ge $HEALTHY_RUN ] && delay="$RESTART_DELAY"
    restarts=$((restarts + 1))
    set_state "$label" "state=restarting in ${delay}s (exit $rc)" "restarts=$restarts" "pid="
    echo "launch.sh: worker exited $rc; restart $restarts in ${delay}s" >>"$log"
    sleep "$delay" & wait $!
    [ $stopping -eq 1 ] && { set_state "$label" "state=stopped (exit $rc)"; return 0; }
    delay=$(( delay * 2 > RESTART_MAX ? RESTART_MAX : delay * 2 ))
  done
}

start_worker() {  # $1 = label, $2 = device: waits until its model is loaded
  local label="$1" log="$LOG_DIR/worker-$1.log"
  rm -f "$LOG_DIR/worker-$label.state"
  : > "$log"
  set_state "$label" "gpu=$2" "state=starting" "restarts=0"
  supervise "$label" "$2" &
  local sup=$!
  set_state "$label" "supervisor=$sup"
  echo "$sup $label" >> "$PID_FILE"
  echo "worker $label: log $log; waiting for its model to load"
  local waited=0
  while ! grep -q " ready: " "$log" 2>/dev/null; do
    if ! kill -0 "$sup" 2>/dev/null || [ "$(get_state "$LOG_DIR/worker-$label.state" \
        restarts)" != "0" ]; then
      kill -TERM "$sup" 2>/dev/null  # it would only fail again: no restarts
      wait "$sup" 2>/dev/null
      set_state "$label" "state=gave up: exited before ready" "pid="
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

# ---- main ----------------------------------------------------------------------------
case "${1:-}" in
  stop) stop_workers; exit 0 ;;
  status) show_status; exit 0 ;;
esac

GPUS=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  GPUS="$1"; shift
fi
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")

if [ -z "$GPUS" ] && command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
  GPUS="$(list_gpus)" || exit 1
  [ -n "$GPUS" ] || { echo "launch.sh: $NVIDIA_SMI lists no GPU" >&2; exit 1; }
fi
GPUS="$(echo "$GPUS" | tr ',\n' '  ' | xargs)"
[ -z "$GPUS" ] && GPUS="cpu" && echo "no GPU found: starting one CPU worker"

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
rm -f "$LOG_DIR"/worker-*.state

trap 'echo; echo "interrupted: stopping workers"; stop_workers; exit 0' INT TERM

ready=0 n_cpu=0
for gpu in $GPUS; do
  label="$gpu"
  if [ "$gpu" = "cpu" ]; then
    label="cpu$([ $n_cpu -gt 0 ] && echo "-$n_cpu")"; n_cpu=$((n_cpu + 1))
  fi
  start_worker "$label" "$gpu" && ready=$((ready + 1))
done
if [ $ready -eq 0 ]; then
  echo "launch.sh: no worker started; see the logs in $LOG_DIR" >&2
  stop_workers >/dev/null
  exit 1
fi

echo "workers running; 'bash launch.sh status' shows them; Ctrl-C or 'bash launch.sh stop'" \
     "stops them. Progress: python monitor.py"
# Stay in the foreground until every supervisor has finished (or a signal arrives).
while :; do
  alive=0
  while read -r pid _; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
  done < "$PID_FILE" 2>/dev/null
  [ $alive -eq 0 ] && break
  sleep 2 & wait $!
done
rm -f "$PID_FILE"
show_status
echo "all workers have exited"
