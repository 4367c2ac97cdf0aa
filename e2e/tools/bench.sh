#!/usr/bin/env bash
# bench.sh: `make bench`. Runs every benchmark script in turn - the webhook
# (bench-webhook.sh: in isolation, then end to end in the kind cluster, which
# it brings up with `make cluster-up deploy` if needed), then the scheduler
# extender and placement benchmarks (bench-extender.sh, bench-placement.sh,
# on the local control plane) when present, and last the batch makespan on
# CPU-limited kind nodes (bench-makespan.sh, in the same kind cluster as the
# webhook's end-to-end part). Results land in $BENCH_OUT
# (default _out/bench/*.md, *.json); docs/benchmarks.md explains them and
# records a reference run.
#
# Benchmarks never pass or fail on their numbers: a script fails only when it
# could not measure. All of them run even if one fails; the exit status says
# whether any did.
#
# Environment: BENCH_SCRIPTS (default "webhook extender placement makespan") picks
# scripts; each script documents its own knobs.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS=${BENCH_SCRIPTS:-webhook extender placement makespan}
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
