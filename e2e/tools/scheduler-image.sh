#!/usr/bin/env bash
# Builds hdscale/kube-scheduler:<KUBE_VERSION>: the stock kube-scheduler
# binary (built from the k8s.io/kubernetes module by build-bins.sh) alone in a
# scratch image. The second scheduler of manifests/ runs it; admins may point
# that Deployment at the upstream kube-scheduler image instead.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/images.sh"
docker_env
tag="hdscale/kube-scheduler:$KUBE_VERSION"
if image_exists "$tag"; then log "image $tag: cached"; exit 0; fi
bash "$TOOLS_DIR/build-bins.sh" k8s
binary_image "$tag" "$BIN_CACHE/k8s-$KUBE_VERSION/kube-scheduler" /kube-scheduler
