#!/usr/bin/env bash
# bench.sh: `make bench`. Runs every benchmark script in turn - the webhook
# (bench-webhook.sh: in isolation, then end to end in the kind cluster, which
# it brings up with `make cluster-up deploy` if needed), the batch makespan on
# CPU-limited kind nodes (bench-makespan.sh, in the same kind cluster), and
# last the scheduler extender and placement benchmarks (bench-extender.sh,
# bench-placement.sh, on the local control plane of localcp.sh). The kind
# cluster, idle, still takes about a quarter of a core (its API server,
# etcd and kubelets), which the local-control-plane benchmarks would share:
# for them its containers are frozen (docker pause) and thawed again when
# the next kind benchmark starts or this script exits (BENCH_PAUSE_KIND=0
# leaves the cluster running). Results land in $BENCH_OUT
# (default _out/bench/*.md, *.json); docs/benchmarks.md explains them and
# records a reference run.
#
# Benchmarks never pass or fail on their numbers: a script fails only when it
# could not measure. All of them run even if one fails; the exit status says
# whether any did.
#
# Environment: BENCH_SCRIPTS (default "webhook makespan extender placement")
# picks scripts; each script documents its own knobs. BENCH_PAUSE_KIND (1).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS=${BENCH_SCRIPTS:-webhook makespan extender placement}

# The kind cluster's containers this script froze, to thaw them again.
PAUSED=()
pause_kind() {
  [ "${BENCH_PAUSE_KIND:-1}" = 1 ] && [ ${#PAUSED[@]} -eq 0 ] || return 0
  docker_env
  docker info >/dev/null 2>&1 || return 0
  mapfile -t PAUSED < <(docker ps -q --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" --filter status=running)
  [ ${#PAUSED[@]} -gt 0 ] || return 0
  log "pausing kind cluster $CLUSTER_NAME (${#PAUSED[@]} containers) for the local-control-plane benchmarks"
  docker pause "${PAUSED[@]}" >/dev/null || { log "docker pause failed: the kind cluster keeps running"; PAUSED=(); }
}
unpause_kind() {
  [ ${#PAUSED[@]} -gt 0 ] || return 0
  log "unpausing kind cluster $CLUSTER_NAME"
  docker unpause "${PAUSED[@]}" >/dev/null || log "docker unpause failed: run docker unpause ${PAUSED[*]}"
  PAUSED=()
}
at_exit unpause_kind
export BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/_out/bench}
mkdir -p "$BENCH_OUT"

declare -a rows
failed=0
for name in $SCRIPTS; do
  script="$TOOLS_DIR/bench-$name.sh"
  if [ ! -f "$script" ]; then
    rows+=("$(printf '%-10s %6s  %s' "$name" - "absent ($script)")")
    continue
  fi
  case $name in
  extender | placement) pause_kind ;; # local control plane
  *) unpause_kind ;;
  esac
  start=$SECONDS
  log "==== bench-$name ===="
  bash "$script"
  rc=$?
  status=ok
  if [ $rc -ne 0 ]; then
    status="FAILED (rc=$rc)"
    failed=$((failed + 1))
  fi
  rows+=("$(printf '%-10s %5ds  %s' "$name" $((SECONDS - start)) "$status")")
done

printf '\n==== benchmarks ====\n'
printf '%s\n' "${rows[@]}"
echo "results: $BENCH_OUT"
ls -1 "$BENCH_OUT"/*.md 2>/dev/null | sed 's/^/  /'
[ "$failed" -eq 0 ]
