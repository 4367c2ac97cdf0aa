#!/usr/bin/env bash
# Deletes the hdscale kind cluster and its kubeconfig; succeeds when there is
# no cluster. Usage: cluster-down.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down() {
  docker_env
  if ! docker info >/dev/null 2>&1; then
    log "no Docker engine answers: nothing to delete"
  elif [ -f "$BIN_CACHE/kind-$KIND_VERSION/.done" ]; then
    "$BIN_CACHE/kind-$KIND_VERSION/kind" delete cluster --name "$CLUSTER_NAME" \
      --kubeconfig "$CLUSTER_KUBECONFIG" >&2
  fi
  # without kind (or after a half-created cluster) remove the node containers directly
  local left
  left=$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" 2>/dev/null || true)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    docker rm -f -v $left >/dev/null
  fi
  rm -f "$CLUSTER_KUBECONFIG"
  log "cluster $CLUSTER_NAME deleted"
}

phase cluster-down down
