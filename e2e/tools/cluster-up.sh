#!/usr/bin/env bash
# Brings up the hdscale e2e kind cluster offline and leaves its kubeconfig in
# $REPO_ROOT/.cluster/kubeconfig (git-ignored). Idempotent: a healthy cluster
# (all 6 nodes Ready, built from the current node image) is reused; a broken or
# stale one is deleted and recreated.
#
# Nodes: hdscale-control-plane; hdscale-worker, hdscale-worker2 (general: two, so
# that hdscale's own replicas spread and a node drain is tested); hdscale-worker3..5
# labelled hdscale.io/pool=runtime and tainted hdscale.io/pool=runtime:NoSchedule.
# Add-ons: pod network (nodenet, in the node image), host-path default
# StorageClass, metrics-server (built from Go, image loaded with kind load).
#
# First runs build-all.sh (Docker engine, binaries, node and metrics-server
# images; seconds when cached, ~1 h of compiling on a cold 2-core machine).
#
# Usage: cluster-up.sh
#   KIND_NODE_IMAGE=<image>   the published kind node image to try first (default
#                             kindest/node:$KUBE_VERSION; empty: always build offline)
#   HDSCALE_CLUSTER_NAME, HDSCALE_KUBECONFIG override name and kubeconfig path
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/images.sh"

POOL_LABEL_KEY=hdscale.io/pool
POOL_LABEL_VALUE=runtime
POOL_NODES=3
GENERAL_NODES=2
NODE_COUNT=$((1 + GENERAL_NODES + POOL_NODES))

kind_config() {
  cat <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: $CLUSTER_NAME
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
nodes:
- role: control-plane
EOF
  local i
  for ((i = 0; i < GENERAL_NODES; i++)); do echo "- role: worker"; done
  for ((i = 0; i < POOL_NODES; i++)); do
    cat <<EOF
- role: worker
  labels:
    $POOL_LABEL_KEY: $POOL_LABEL_VALUE
  kubeadmConfigPatches:
  - |
    kind: JoinConfiguration
    nodeRegistration:
      taints:
      - key: $POOL_LABEL_KEY
        value: $POOL_LABEL_VALUE
        effect: NoSchedule
EOF
  done
}

kctl() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

cluster_exists() { kind get clusters 2>/dev/null | grep -qxF "$CLUSTER_NAME"; }

# nodes_ready: prints "<ready>/<total>" and succeeds when all NODE_COUNT are Ready.
nodes_ready() {
  local lines ready total
  lines=$(kctl get nodes --request-timeout=10s --no-headers 2>/dev/null) || { echo "0/?"; return 1; }
  total=$(echo "$lines" | grep -c . || true)
  ready=$(echo "$lines" | awk '$2 == "Ready"' | grep -c . || true)
  echo "$ready/$total"
  [ "$total" -eq "$NODE_COUNT" ] && [ "$ready" -eq "$NODE_COUNT" ]
}

# cluster_healthy IMAGE: the cluster exists, every node container runs the
# wanted image, and all nodes are Ready.
cluster_healthy() {
  local image=$1 running images
  cluster_exists || { log "no cluster $CLUSTER_NAME"; return 1; }
  running=$(docker ps -q --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" | grep -c . || true)
  [ "$running" -eq "$NODE_COUNT" ] || { log "cluster $CLUSTER_NAME: $running of $NODE_COUNT node containers running"; return 1; }
  images=$(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" --format '{{.Image}}' | sort -u)
  [ "$images" = "$image" ] || { log "cluster $CLUSTER_NAME runs $(echo "$images" | tr '\n' ' '), not $image"; return 1; }
  mkdir -p "$(dirname "$CLUSTER_KUBECONFIG")"
  kind export kubeconfig --name "$CLUSTER_NAME" --kubeconfig "$CLUSTER_KUBECONFIG" >/dev/null 2>&1 || return 1
  local state
  state=$(nodes_ready) || { log "cluster $CLUSTER_NAME: nodes Ready $state"; return 1; }
  log "cluster $CLUSTER_NAME healthy: $state nodes Ready"
}

create_cluster() {
  local image=$1 cfg="$HDSCALE_CACHE/kind-config-$CLUSTER_NAME.yaml"
  if cluster_exists || docker ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" | grep -q .; then
    log "deleting cluster $CLUSTER_NAME"
    kind delete cluster --name "$CLUSTER_NAME" --kubeconfig "$CLUSTER_KUBECONFIG" >&2
  fi
  kind_config >"$cfg"
  mkdir -p "$(dirname "$CLUSTER_KUBECONFIG")"
  log "creating cluster $CLUSTER_NAME from $image"
  if ! kind create cluster --name "$CLUSTER_NAME" --image "$image" --config "$cfg" \
    --kubeconfig "$CLUSTER_KUBECONFIG" --retain >&2; then
    log "kind create failed; exporting logs to $LOG_DIR/kind-$CLUSTER_NAME"
    kind export logs --name "$CLUSTER_NAME" "$LOG_DIR/kind-$CLUSTER_NAME" >/dev/null 2>&1 || true
    kind delete cluster --name "$CLUSTER_NAME" --kubeconfig "$CLUSTER_KUBECONFIG" >/dev/null 2>&1 || true
    die "kind create cluster failed"
  fi
}

wait_nodes_ready() {
  local deadline=$((SECONDS + 240)) state
  until state=$(nodes_ready); do
    if [ $SECONDS -ge $deadline ]; then
      kctl get nodes -o wide >&2 || true
      kctl get pods -A -o wide >&2 || true
      die "nodes not Ready after 240s ($state)"
    fi
    sleep 2
  done
  log "all $state nodes Ready"
}

check_pool_nodes() {
  local pool
  pool=$(kctl get nodes -l "$POOL_LABEL_KEY=$POOL_LABEL_VALUE" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.taints[?(@.key=="'"$POOL_LABEL_KEY"'")].effect}{"\n"}{end}')
  [ "$(echo "$pool" | grep -c 'NoSchedule$' || true)" -eq "$POOL_NODES" ] ||
    die "expected $POOL_NODES nodes labelled and tainted $POOL_LABEL_KEY=$POOL_LABEL_VALUE, got: $pool"
}

deploy_metrics_server() {
  local image; image=$(metrics_server_image)
  kind load docker-image --name "$CLUSTER_NAME" "$image" >&2
  sed "s#@METRICS_SERVER_IMAGE@#$image#" "$TOOLS_DIR/manifests/metrics-server.yaml" | kctl apply -f - >/dev/null
  kctl -n kube-system rollout status deployment/metrics-server --timeout=180s >&2
}

# wait_node_metrics: NodeMetrics for every node, as `kubectl top nodes` shows.
wait_node_metrics() {
  local deadline=$((SECONDS + 180)) out n
  while :; do
    out=$(kctl top nodes --no-headers 2>&1 || true)
    n=$(echo "$out" | awk '$2 ~ /^[0-9]+m$/' | grep -c . || true)
    [ "$n" -eq "$NODE_COUNT" ] && break
    if [ $SECONDS -ge $deadline ]; then
      log "kubectl top nodes after 180s:"
      echo "$out" >&2
      kctl get apiservice v1beta1.metrics.k8s.io -o wide >&2 || true
      kctl -n kube-system logs deployment/metrics-server --tail=30 >&2 || true
      die "node metrics not available for all $NODE_COUNT nodes"
    fi
    sleep 3
  done
  log "node metrics for all $NODE_COUNT nodes"
  echo "$out" >&2
}

main() {
  local t0=$SECONDS
  # Docker engine, binaries and images: a no-op in seconds when cached
  phase build bash "$TOOLS_DIR/build-all.sh"
  tools_path
  local image
  image=$(bash "$TOOLS_DIR/node-image.sh")
  if phase cluster-reuse cluster_healthy "$image"; then
    log "reusing cluster $CLUSTER_NAME"
  else
    phase cluster-create create_cluster "$image"
    phase nodes-ready wait_nodes_ready
  fi
  check_pool_nodes
  phase metrics-server deploy_metrics_server
  phase node-metrics wait_node_metrics
  kctl get nodes -L "$POOL_LABEL_KEY" >&2
  log "cluster $CLUSTER_NAME up in $((SECONDS - t0))s; export KUBECONFIG=$CLUSTER_KUBECONFIG"
}

main "$@"
