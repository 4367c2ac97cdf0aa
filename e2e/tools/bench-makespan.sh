#!/usr/bin/env bash
# bench-makespan.sh: batch makespan of hdscale's placement against the default
# scheduler's, measured on real, CPU-limited kind nodes (issue #13; the
# model-only counterpart is bench-placement.sh). Results:
# $BENCH_OUT (default _out/bench)/makespan-<pattern>.{md,json}.
#
# Needs the kind cluster with hdscale deployed (runs `make cluster-up deploy`
# when there is none, like bench-webhook.sh). Then, for the run only:
#  * each pool node container gets a CPU quota (docker update --cpus=QUOTA,
#    --cpu-shares=BENCH_MAKESPAN_CPU_SHARES), and
#    its kubelet reports the same as allocatable CPU (systemReserved = capacity
#    - QUOTA, kubelet restarted), so a pool node is a separate compute node of
#    QUOTA cores and the webhook sizes replicas for it;
#  * e2e/bench/dutyburn is copied into the pool node containers; each round
#    runs it in one of them (background load outside any pod);
#  * e2e/bench/makespan runs the rounds per pattern (client: e2e/bench/execload
#    in a pod, image hdscale/bench-execload:<hash>, kind-loaded).
# On exit the quotas and kubelet configurations are restored.
#
# Patterns (BENCH_MAKESPAN_PATTERNS, default "per-core per-node per-node-single"), on
# 3 pool nodes of BENCH_MAKESPAN_QUOTA (0.25) cores:
#   per-core         4 replicas, CPU QUOTA/2 each (hdscale.io/cpu), 1 worker: 2 fit a node
#   per-node         2 replicas of a whole node, 2 workers (hdscale.io/workers-per-core=2)
#   per-node-single  2 replicas of a whole node, 1 worker
# The quota is small so that the machine can deliver it to all pool nodes
# at once even when it is shared (3 x 0.25 of 2 cores): the node quota, not
# the host, must be what limits a busy node, or the benchmark measures the
# host. The results' node CPU column shows whether it did.
# Knobs: BENCH_MAKESPAN_ROUNDS (3; the loaded node rotates, so a multiple of 3),
# BENCH_MAKESPAN_BACKGROUND (0.2 cores), BENCH_MAKESPAN_EXECUTIONS (24),
# BENCH_MAKESPAN_EXEC_CPU (0.5 CPU-s), BENCH_MAKESPAN_CONNECTIONS (16),
# BENCH_MAKESPAN_CPU_SHARES (4096: the pool node containers' docker
# cpu-shares during the run, 4x a container's default, so that on a machine
# shared with other containers they still get their quota when busy),
# BENCH_NO_CLUSTER_UP=1 (fail instead of bringing the cluster up).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATTERNS=${BENCH_MAKESPAN_PATTERNS:-per-core per-node per-node-single}
ROUNDS=${BENCH_MAKESPAN_ROUNDS:-3}
QUOTA=${BENCH_MAKESPAN_QUOTA:-0.25}
BACKGROUND=${BENCH_MAKESPAN_BACKGROUND:-0.2}
EXECUTIONS=${BENCH_MAKESPAN_EXECUTIONS:-24}
EXEC_CPU=${BENCH_MAKESPAN_EXEC_CPU:-0.5}
CONNECTIONS=${BENCH_MAKESPAN_CONNECTIONS:-16}
SHARES=${BENCH_MAKESPAN_CPU_SHARES:-4096}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/_out/bench}
RUN="$HDSCALE_CACHE/bench/makespan"
BURNER=/usr/local/bin/hdscale-dutyburn
KUBELET_CONFIG=/var/lib/kubelet/config.yaml
KUBELET_BACKUP=/var/lib/kubelet/config.yaml.hdscale-bench
mkdir -p "$BENCH_OUT" "$RUN/bin"

machine() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "nproc $(nproc), CPU \"$model\", $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-4), kernel $(uname -r), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg), kind clusters on the machine: $(kind get clusters 2>/dev/null | tr '\n' ' ')"
}

cluster_ready() {
  [ -s "$CLUSTER_KUBECONFIG" ] || return 1
  kubectl --kubeconfig "$CLUSTER_KUBECONFIG" --request-timeout=10s -n hdscale-system get deploy hdscale-webhook >/dev/null 2>&1
}
if ! (tools_path >/dev/null 2>&1 && cluster_ready); then
  [ "${BENCH_NO_CLUSTER_UP:-0}" = 1 ] && die "no kind cluster with hdscale deployed (make cluster-up deploy)"
  log "no cluster with hdscale deployed: running make cluster-up deploy"
  make -C "$REPO_ROOT" --no-print-directory cluster-up deploy
fi
tools_path
. "$TOOLS_DIR/images.sh"
export KUBECONFIG="$CLUSTER_KUBECONFIG"
[ -s "$REPO_ROOT/.cluster/images.env" ] || die "no .cluster/images.env: run make deploy"
. "$REPO_ROOT/.cluster/images.env"

build() {
  cd "$REPO_ROOT"
  go build -o "$RUN/bin/makespan" ./e2e/bench/makespan
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$RUN/bin/execload" ./e2e/bench/execload
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$RUN/bin/dutyburn" ./e2e/bench/dutyburn
}
phase build build
CLIENT_IMAGE="hdscale/bench-execload:$(sha256sum "$RUN/bin/execload" | cut -c1-12)"
image_exists "$CLIENT_IMAGE" || binary_image "$CLIENT_IMAGE" "$RUN/bin/execload" /execload
phase load-client-image bash "$TOOLS_DIR/load-image.sh" "$CLIENT_IMAGE"

mapfile -t NODES < <(kubectl get nodes -l hdscale.io/pool=runtime -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
[ "${#NODES[@]}" -ge 2 ] || die "need at least 2 pool nodes, found: ${NODES[*]:-none}"
QUOTA_MILLI=$(awk -v q="$QUOTA" 'BEGIN { printf "%d", q * 1000 }')

# restore_node NODE NANOCPUS: the node's original docker CPU limit and kubelet
# configuration (the burner binary is removed).
restore_node() {
  local node=$1 nano=$2 shares=$3
  docker exec "$node" sh -c "if [ -f $KUBELET_BACKUP ]; then mv $KUBELET_BACKUP $KUBELET_CONFIG && systemctl restart kubelet; fi; rm -f $BURNER" || true
  # docker update cannot remove a CPU limit: a node that had none gets all
  # the machine's CPUs, which is the same.
  local cpus
  cpus=$(awk -v n="$nano" -v all="$(nproc)" 'BEGIN { printf "%.3f", (n > 0) ? n / 1e9 : all }')
  [ "$shares" -gt 0 ] || shares=1024 # 0 is Docker's default, 1024
  docker update --cpus="$cpus" --cpu-shares="$shares" "$node" >/dev/null || true
  log "$node: restored (docker cpus $cpus, cpu-shares $shares, kubelet configuration)"
}

limit_node() {
  local node=$1 cap reserved nano shares
  nano=$(docker inspect -f '{{.HostConfig.NanoCpus}}' "$node")
  shares=$(docker inspect -f '{{.HostConfig.CpuShares}}' "$node")
  at_exit "restore_node $node $nano $shares"
  cap=$(kubectl get node "$node" -o jsonpath='{.status.capacity.cpu}')
  case "$cap" in *m) cap=${cap%m} ;; *) cap=$((cap * 1000)) ;; esac
  reserved=$((cap - QUOTA_MILLI))
  [ "$reserved" -ge 0 ] || die "$node: capacity ${cap}m is below the quota ${QUOTA_MILLI}m"
  docker update --cpus="$QUOTA" --cpu-shares="$SHARES" "$node" >/dev/null
  docker cp "$RUN/bin/dutyburn" "$node:$BURNER"
  # A backup left by an interrupted run is the original: keep it.
  docker exec "$node" sh -c "[ -f $KUBELET_BACKUP ] || cp $KUBELET_CONFIG $KUBELET_BACKUP" ||
    die "$node: cannot back up $KUBELET_CONFIG"
  ! docker exec "$node" grep -q '^systemReserved:' "$KUBELET_BACKUP" ||
    die "$node: the kubelet already has systemReserved; this script only adds one"
  docker exec "$node" sh -c "cp $KUBELET_BACKUP $KUBELET_CONFIG &&
    printf 'systemReserved:\\n  cpu: ${reserved}m\\n' >>$KUBELET_CONFIG && systemctl restart kubelet"
  log "$node: docker cpus $QUOTA, cpu-shares $SHARES, kubelet systemReserved cpu ${reserved}m (capacity ${cap}m)"
}

allocatable_is_quota() {
  local node a
  for node in "${NODES[@]}"; do
    a=$(kubectl get node "$node" -o jsonpath='{.status.allocatable.cpu}')
    [ "$a" = "${QUOTA_MILLI}m" ] || return 1
    kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True || return 1
  done
}
allocatable_is_capacity() {
  local node
  for node in "${NODES[@]}"; do
    [ "$(kubectl get node "$node" -o jsonpath='{.status.allocatable.cpu}')" = \
      "$(kubectl get node "$node" -o jsonpath='{.status.capacity.cpu}')" ] || return 1
  done
}
# Registered first, so it runs after every restore_node.
at_exit 'wait_until 120 "pool nodes back to allocatable = capacity" allocatable_is_capacity || true'
limit_all() {
  local node
  for node in "${NODES[@]}"; do limit_node "$node"; done
  wait_until 120 "pool nodes Ready with allocatable CPU ${QUOTA_MILLI}m" allocatable_is_quota
}
phase limit-nodes limit_all
# The two labelled namespaces the driver creates (one per variant) go at the
# end, so no pattern-labelled namespace outlives the benchmark.
at_exit 'kubectl delete namespace makespan-default makespan-hdscale --ignore-not-found --wait=false >/dev/null 2>&1 || true'

for p in $PATTERNS; do
  extra=()
  case "$p" in
  per-core) replicas=4; extra=(-cpu "$((QUOTA_MILLI / 2))m") ;;
  per-node) replicas=2; extra=(-workers-per-core 2) ;;
  per-node-single) replicas=2 ;;
  *) die "unknown pattern $p" ;;
  esac
  md="$BENCH_OUT/makespan-$p.md"
  {
    echo "# bench-makespan $p $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "machine: $(machine)"
    echo
    echo "command: BENCH_MAKESPAN_PATTERNS=$p BENCH_MAKESPAN_ROUNDS=$ROUNDS e2e/tools/bench-makespan.sh"
  } >"$md"
  phase "makespan-$p" "$RUN/bin/makespan" -kubeconfig "$CLUSTER_KUBECONFIG" -pattern "$p" -replicas "$replicas" "${extra[@]}" \
    -quota "$QUOTA" -background "$BACKGROUND" -executions "$EXECUTIONS" -exec-cpu "$EXEC_CPU" -connections "$CONNECTIONS" \
    -rounds "$ROUNDS" -runtime-image "$FAKE_RUNTIME_AS_HETIDA" -client-image "$CLIENT_IMAGE" -burner "$BURNER" \
    -out "$BENCH_OUT/makespan-$p.json" | tee -a "$md"
  log "results: $md"
done
