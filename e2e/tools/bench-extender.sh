#!/usr/bin/env bash
# bench-extender.sh: kube-scheduler throughput with and without the hdscale
# extender on 1,000 KWOK nodes, side by side in one run, plus the extender's
# own Go benchmarks. Results: $BENCH_OUT (default _out/bench)/extender.{md,json}.
#
# Schedulers (stock kube-scheduler from the k8s build, one process each, all
# on the local control plane of localcp.sh, configs derived from
# manifests/scheduler/kube-scheduler-config.yaml by e2e/bench/schedconfig):
#   profile  hdscale's profile without the extender      (baseline)
#   hdscale  the same profile with the hdscale extender  (nodeCacheCapable)
#   stock    kube-scheduler's default profile            (reference)
#   classic  (BENCH_CLASSIC=1, the default) hdscale with a second extender
#            run with --filter-to-winner=false --score-all-nodes: the
#            classic exchange (/filter lists every passing node, then
#            /prioritize scores every one), to show what hdscale's default
#            (/filter answers with the winner only) saves
# e2e/bench/schedbench runs interleaved rounds (ABBA order) of BENCH_PODS
# per-core runtime pods per scheduler, in two modes: e2e (create while
# scheduling) and burst (scheduler paused while the pods are created).
#
# Each round also reports the CPU per bound pod of the scheduler under test,
# the extender, kube-apiserver, etcd and kwok (from /proc/<pid>/stat): less
# sensitive than wall-clock throughput to whatever else shares the cores.
#
# Environment: BENCH_NODES (1000), BENCH_POOL_NODES (= BENCH_NODES: how many
# of the nodes are in the runtime pool; the rest are ordinary nodes),
# BENCH_PODS (500), BENCH_ROUNDS (3), BENCH_MODES ("e2e burst"),
# BENCH_GO_BENCH (1: run go test -bench ./extender/), BENCH_NAME (extender:
# the results' file name), BENCH_KEEP_CP (0: stop the local control plane at
# the end).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/localcp/bench-lib.sh"

NODES=${BENCH_NODES:-1000}
POOL_NODES=${BENCH_POOL_NODES:-$NODES}
NAME=${BENCH_NAME:-extender}
PODS=${BENCH_PODS:-500}
ROUNDS=${BENCH_ROUNDS:-3}
MODES=${BENCH_MODES:-e2e burst}
EXT_LISTEN=${BENCH_EXTENDER_LISTEN:-127.0.0.1:28888}
EXT_HEALTH=${BENCH_EXTENDER_HEALTH:-127.0.0.1:28889}
EXT_PRIVATE=${BENCH_EXTENDER_PRIVATE:-127.0.0.1:28892}
PORT_PROFILE=${BENCH_SCHED_PORT_PROFILE:-20259}
PORT_HDSCALE=${BENCH_SCHED_PORT_HDSCALE:-20261}
PORT_STOCK=${BENCH_SCHED_PORT_STOCK:-20263}
PORT_CLASSIC=${BENCH_SCHED_PORT_CLASSIC:-20269}
EXT_CLASSIC_LISTEN=${BENCH_EXTENDER_CLASSIC_LISTEN:-127.0.0.1:28890}
EXT_CLASSIC_HEALTH=${BENCH_EXTENDER_CLASSIC_HEALTH:-127.0.0.1:28891}
EXT_CLASSIC_PRIVATE=${BENCH_EXTENDER_CLASSIC_PRIVATE:-127.0.0.1:28893}
CLASSIC=${BENCH_CLASSIC:-1}

bench_init extender
phase localcp-up bash "$LOCALCP" up
eval "$(bash "$LOCALCP" env)"

build() {
  bench_build_go extender ./cmd/extender
  bench_build_go schedbench ./e2e/bench/schedbench
  bench_build_go schedconfig ./e2e/bench/schedconfig
}
phase build-hdscale build

start_all() {
  local cfg="$BENCH_RUN"
  scheduler_config "$cfg/profile.yaml" bench-profile hdscale ""
  scheduler_config "$cfg/hdscale.yaml" bench-hdscale hdscale "http://$EXT_LISTEN"
  scheduler_config "$cfg/stock.yaml" bench-stock stock ""
  start_extender extender "$EXT_LISTEN" "$EXT_HEALTH" "$EXT_PRIVATE"
  start_scheduler sched-profile "$cfg/profile.yaml" "$PORT_PROFILE"
  start_scheduler sched-hdscale "$cfg/hdscale.yaml" "$PORT_HDSCALE"
  start_scheduler sched-stock "$cfg/stock.yaml" "$PORT_STOCK"
  if [ "$CLASSIC" = 1 ]; then
    scheduler_config "$cfg/classic.yaml" bench-classic hdscale "http://$EXT_CLASSIC_LISTEN"
    start_extender extender-classic "$EXT_CLASSIC_LISTEN" "$EXT_CLASSIC_HEALTH" "$EXT_CLASSIC_PRIVATE" --filter-to-winner=false --score-all-nodes
    start_scheduler sched-classic "$cfg/classic.yaml" "$PORT_CLASSIC"
  fi
}
phase start-schedulers start_all

lcp_pid() { cut -d' ' -f1 "$LOCALCP_DIR/pids/$1.pid"; }

variants() {
  echo -variant "name=profile,scheduler=bench-profile,metrics=https://127.0.0.1:$PORT_PROFILE/metrics,pid=$(bench_pid sched-profile)"
  echo -variant "name=hdscale,scheduler=bench-hdscale,metrics=https://127.0.0.1:$PORT_HDSCALE/metrics,extender=http://$EXT_PRIVATE/metrics,pid=$(bench_pid sched-hdscale)"
  echo -variant "name=stock,scheduler=bench-stock,metrics=https://127.0.0.1:$PORT_STOCK/metrics,pid=$(bench_pid sched-stock)"
  if [ "$CLASSIC" = 1 ]; then
    echo -variant "name=classic,scheduler=bench-classic,metrics=https://127.0.0.1:$PORT_CLASSIC/metrics,extender=http://$EXT_CLASSIC_PRIVATE/metrics,pid=$(bench_pid sched-classic)"
  fi
  echo -track "extender=$(bench_pid extender)"
  if [ "$CLASSIC" = 1 ]; then echo -track "extender-classic=$(bench_pid extender-classic)"; fi
  local c
  for c in kube-apiserver etcd kwok; do echo -track "$c=$(lcp_pid $c)"; done
}

md="$BENCH_OUT/$NAME.md"
{
  echo "# bench-extender $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "machine: $(machine_info)"
  echo
  echo "$NODES KWOK nodes (32 CPU; $POOL_NODES in pool runtime), $PODS per-core runtime pods per round, $ROUNDS rounds per scheduler; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$md"

for mode in $MODES; do
  # shellcheck disable=SC2046 # variants prints separate words on purpose
  phase "schedbench-$mode" "$BENCH_RUN/bin/schedbench" -kubeconfig "$KUBECONFIG" -nodes "$NODES" \
    -pool-nodes "$POOL_NODES" -pods "$PODS" -rounds "$ROUNDS" -mode "$mode" -out "$BENCH_OUT/$NAME-$mode.json" \
    $(variants) | tee -a "$md"
done

if [ "${BENCH_GO_BENCH:-1}" = 1 ]; then
  gobench() {
    echo
    echo '```'
    (cd "$REPO_ROOT" && go test -run='^$' -bench=. -benchmem ./extender/)
    echo '```'
  }
  phase go-bench gobench | tee -a "$md"
fi

log "results: $md"
if [ "${BENCH_KEEP_CP:-0}" != 1 ]; then
  bench_stop_all
  bash "$LOCALCP" down
fi
