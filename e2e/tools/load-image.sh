#!/usr/bin/env bash
# Loads local Docker images into every node of the hdscale kind cluster, or
# only into the nodes named in LOAD_NODES (comma-separated).
# Usage: [LOAD_NODES=n1,n2] load-image.sh IMAGE...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 IMAGE..."
tools_path
kind get clusters 2>/dev/null | grep -qxF "$CLUSTER_NAME" || die "no cluster $CLUSTER_NAME: run e2e/tools/cluster-up.sh"
for img in "$@"; do
  image_exists "$img" || die "image $img not found in the local Docker engine"
done
phase load-image kind load docker-image --name "$CLUSTER_NAME" ${LOAD_NODES:+--nodes "$LOAD_NODES"} "$@"
