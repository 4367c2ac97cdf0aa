#!/usr/bin/env bash
# bench-placement.sh: placement quality of hdscale (kube-scheduler with
# hdscale's profile + extender) against kube-scheduler's default profile, on
# a small KWOK pool with skewed emulated background load, side by side in one
# run. Results: $BENCH_OUT (default _out/bench)/placement-<scenario>.{md,json},
# and the chart docs/img/placement.png (from the first scenario).
#
# Scenarios (BENCH_SCENARIOS, default "per-core per-node per-node-single"):
#   per-core         12 replicas (1 CPU, 1 worker each) on 6 nodes x 4 CPU
#   per-node          4 replicas (a whole node, 4 workers each)
#   per-node-single   4 replicas (a whole node, 1 worker each)
# all with background loads 0, 0.5, 1, 2, 3, 3.5 cores (permuted per round),
# BENCH_ROUNDS rounds (default 7), batch of 48 executions x 10 CPU-s.
#
# The chart (first scenario) goes to $BENCH_OUT/placement.png and, unless
# BENCH_UPDATE_DOCS=0, to docs/img/placement.png. It needs gnuplot: installed
# with apt-get (gnuplot-nox) when missing; BENCH_PLOT=0 skips the chart.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/localcp/bench-lib.sh"

ROUNDS=${BENCH_ROUNDS:-7}
SCENARIOS=${BENCH_SCENARIOS:-per-core per-node per-node-single}
LOADS=${BENCH_LOADS:-0,0.5,1,2,3,3.5}
EXT_LISTEN=${BENCH_EXTENDER_LISTEN:-127.0.0.1:28888}
EXT_HEALTH=${BENCH_EXTENDER_HEALTH:-127.0.0.1:28889}
EXT_PRIVATE=${BENCH_EXTENDER_PRIVATE:-127.0.0.1:28892}
PORT_DEFAULT=${BENCH_SCHED_PORT_DEFAULT:-20265}
PORT_HDSCALE=${BENCH_SCHED_PORT_HDSCALE:-20267}
PLOT=${BENCH_PLOT:-1}

ensure_gnuplot() {
  command -v gnuplot >/dev/null && return 0
  log "installing gnuplot-nox (Debian apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null; }
}
if [ "$PLOT" = 1 ]; then phase gnuplot ensure_gnuplot; fi

bench_init placement
phase localcp-up bash "$LOCALCP" up
eval "$(bash "$LOCALCP" env)"

build() {
  bench_build_go extender ./cmd/extender
  bench_build_go placement ./e2e/bench/placement
  bench_build_go schedconfig ./e2e/bench/schedconfig
}
phase build-hdscale build

start_all() {
  scheduler_config "$BENCH_RUN/default.yaml" default-scheduler stock ""
  scheduler_config "$BENCH_RUN/hdscale.yaml" hdscale-scheduler hdscale "http://$EXT_LISTEN"
  start_extender extender "$EXT_LISTEN" "$EXT_HEALTH" "$EXT_PRIVATE"
  start_scheduler sched-default "$BENCH_RUN/default.yaml" "$PORT_DEFAULT"
  start_scheduler sched-hdscale "$BENCH_RUN/hdscale.yaml" "$PORT_HDSCALE"
}
phase start-schedulers start_all

first=""
for sc in $SCENARIOS; do
  case "$sc" in
  per-core) replicas=${BENCH_REPLICAS_PER_CORE:-12} ;;
  per-node-single | per-node) replicas=${BENCH_REPLICAS_PER_NODE:-4} ;;
  *) die "unknown scenario $sc" ;;
  esac
  md="$BENCH_OUT/placement-$sc.md"
  {
    echo "# bench-placement $sc $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "machine: $(machine_info)"
  } >"$md"
  phase "placement-$sc" "$BENCH_RUN/bin/placement" -kubeconfig "$KUBECONFIG" -pattern "$sc" \
    -replicas "$replicas" -loads "$LOADS" -rounds "$ROUNDS" \
    -variant default=default-scheduler -variant hdscale=hdscale-scheduler \
    -out "$BENCH_OUT/placement-$sc.json" -plot-dir "$BENCH_OUT/plot-$sc" | tee -a "$md"
  [ -n "$first" ] || first=$sc
done

if [ "$PLOT" = 1 ] && [ -n "$first" ]; then
  phase plot gnuplot -e "dir='$BENCH_OUT/plot-$first'; out='$BENCH_OUT/placement.png'; a='default'; b='hdscale'; subtitle='$first, 6 nodes x 4 CPU, loads $LOADS'" \
    "$REPO_ROOT/e2e/bench/placement/plot.gp"
  log "chart: $BENCH_OUT/placement.png"
  if [ "${BENCH_UPDATE_DOCS:-1}" = 1 ]; then
    mkdir -p "$REPO_ROOT/docs/img"
    cp "$BENCH_OUT/placement.png" "$REPO_ROOT/docs/img/placement.png"
    log "chart copied to docs/img/placement.png"
  fi
fi

if [ "${BENCH_KEEP_CP:-0}" != 1 ]; then
  bench_stop_all
  bash "$LOCALCP" down
fi
