# Helpers shared by bench-extender.sh and bench-placement.sh: processes
# started for one benchmark run (schedulers, the extender), scheduler
# configurations, Go builds and the machine description. Source it after
# lib.sh; do not run it.
# shellcheck shell=bash

LOCALCP="$TOOLS_DIR/localcp.sh"
BENCH_OUT="${BENCH_OUT:-$REPO_ROOT/_out/bench}"
mkdir -p "$BENCH_OUT"

# bench_init NAME: a run directory for logs, pids, configs and binaries
# ($HDSCALE_CACHE/bench/NAME); every process started with bench_start is
# stopped when the script exits.
bench_init() {
  BENCH_RUN="$HDSCALE_CACHE/bench/$1"
  mkdir -p "$BENCH_RUN/pids" "$BENCH_RUN/logs" "$BENCH_RUN/bin"
  bench_stop_all
  trap 'bench_stop_all; _phase_exit_report' EXIT
}

# bench_start NAME BINARY ARGS...: starts a background process (stdin from
# /dev/null, output to its log) and records its pid.
bench_start() {
  local name=$1 bin=$2; shift 2
  "$bin" "$@" </dev/null >"$BENCH_RUN/logs/$name.log" 2>&1 &
  echo "$! $bin" >"$BENCH_RUN/pids/$name.pid"
  log "$name: started (pid $!, log $BENCH_RUN/logs/$name.log)"
}

bench_pid() { cut -d' ' -f1 "$BENCH_RUN/pids/$1.pid"; }

# bench_stop_all: stops the processes this run recorded (by pid, only if the
# pid still runs the recorded binary).
bench_stop_all() {
  local f pid bin
  [ -d "${BENCH_RUN:-}/pids" ] || return 0
  for f in "$BENCH_RUN"/pids/*.pid; do
    [ -f "$f" ] || continue
    read -r pid bin <"$f" || true
    if [ -n "$pid" ] && [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ]; then
      kill -CONT "$pid" 2>/dev/null || true # a paused scheduler must be able to exit
      kill "$pid" 2>/dev/null || true
      local i
      for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

# bench_await NAME DEADLINE CMD...: polls CMD until it succeeds; fails with
# the tail of NAME's log when the process exits or the deadline passes.
bench_await() {
  local name=$1 deadline=$((SECONDS + $2)) pid; shift 2
  pid=$(bench_pid "$name")
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$BENCH_RUN/logs/$name.log" >&2 || true
      die "$name not ready (log $BENCH_RUN/logs/$name.log)"
    fi
    sleep 0.5
  done
}

# bench_build_go OUT PKG: builds a package of this module into
# $BENCH_RUN/bin/OUT.
bench_build_go() {
  (cd "$REPO_ROOT" && go build -trimpath -o "$BENCH_RUN/bin/$1" "$2")
}

# scheduler_config FILE SCHEDULER_NAME MODE EXTENDER_URL: writes the
# KubeSchedulerConfiguration of one benchmark scheduler, derived from the
# shipped manifests/scheduler/kube-scheduler-config.yaml by schedconfig
# (leader election off, local kubeconfig, client QPS/burst 5000 for every
# variant alike, the given schedulerName):
#   MODE hdscale: hdscale's profile; MODE stock: kube-scheduler's default profile.
#   EXTENDER_URL "": no extender; otherwise the shipped extender entry at that URL.
scheduler_config() {
  local file=$1 name=$2 mode=$3 ext=$4 args=()
  [ "$mode" = stock ] && args+=(-stock)
  [ -n "$ext" ] && args+=(-extender "$ext")
  "$BENCH_RUN/bin/schedconfig" -in "$REPO_ROOT/manifests/scheduler/kube-scheduler-config.yaml" \
    -out "$file" -kubeconfig "$KUBECONFIG" -scheduler-name "$name" "${args[@]}"
}

# start_scheduler NAME CONFIG PORT: the stock kube-scheduler from the k8s
# build, serving (anonymous) /metrics on 127.0.0.1:PORT.
start_scheduler() {
  local name=$1 cfg=$2 port=$3
  bench_start "$name" "$LOCALCP_K8S_BIN/kube-scheduler" --config="$cfg" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
    --bind-address=127.0.0.1 --secure-port="$port" --v=1
  bench_await "$name" 90 curl -skf --max-time 2 "https://127.0.0.1:$port/healthz"
}

# start_extender NAME LISTEN HEALTH PRIVATE [FLAG...]: hdscale's extender (bench_build_go'd
# into $BENCH_RUN/bin/extender) against the local control plane; waits for
# /readyz (informers synced, metrics polled).
# Further arguments are passed to the extender.
start_extender() {
  local name=$1 listen=$2 health=$3 private=$4; shift 4
  # The private endpoints (/metrics, /explain) are served openly: loopback only.
  # shellcheck disable=SC2086 # HDSCALE_EXTENDER_FLAGS is a list of flags
  bench_start "$name" "$BENCH_RUN/bin/extender" --listen="$listen" --health-listen="$health" \
    --metrics-listen="$private" --metrics-auth=none \
    --kubeconfig="$KUBECONFIG" ${HDSCALE_EXTENDER_FLAGS:-} "$@"
  bench_await "$name" 120 curl -sf --max-time 2 "http://$health/readyz"
}

# machine_info: the facts every benchmark result is reported with.
machine_info() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "nproc $(nproc), CPU \"$model\", $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-4), kernel $(uname -r), Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION, metrics-server $METRICS_SERVER_VERSION"
}
