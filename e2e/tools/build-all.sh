#!/usr/bin/env bash
# Builds every binary and image the e2e cluster needs; cluster-up.sh runs it
# first, and CI may run it alone to separate build time from test time. With
# warm caches it is a no-op in seconds.
#
# Cold, the Kubernetes compile is the long pole, so the work runs as two Go
# build streams (the machine has 2 cores) plus the network-bound rootfs:
#   stream 1: k8s    one go build of the seven Kubernetes binaries, with the
#                    exact dependency versions of k8s.io/kubernetes
#   stream 2: one go build/install each of containerd (+ctr, shim), crictl,
#             kind, etcd, coredns, metrics-server: their module graphs need
#             different versions of shared modules (see build-bins.sh), so
#             they cannot be one build; metrics-server (the longest) goes last,
#             then the helm CLI (helm.sh; make helm-e2e needs it)
#   beside:   debootstrap of the node rootfs
# then the node image (node-image.sh) and the metrics-server image.
# With KIND_NODE_IMAGE usable (see node-image.sh) the node-only parts are skipped.
# Usage: build-all.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/images.sh"

# bg NAME CMD...: runs CMD in the background, logging to $LOG_DIR/NAME.log.
declare -A BG_PIDS=()
bg() {
  local name=$1; shift
  log "started $name (log: $LOG_DIR/$name.log)"
  "$@" </dev/null >"$LOG_DIR/$name.log" 2>&1 &
  BG_PIDS[$name]=$!
}

wait_all() {
  local name failed=()
  for name in "${!BG_PIDS[@]}"; do
    wait "${BG_PIDS[$name]}" || failed+=("$name")
  done
  for name in "${!BG_PIDS[@]}"; do
    grep -h 'phase .*: \(done\|FAILED\)' "$LOG_DIR/$name.log" | sed "s/^/  $name: /" >&2 || true
  done
  for name in "${failed[@]}"; do
    log "$name failed; last lines of $LOG_DIR/$name.log:"
    tail -20 "$LOG_DIR/$name.log" >&2
  done
  BG_PIDS=()
  [ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]}"
}

parallel_builds() {
  local provided=$1
  bg build-all-k8s bash "$TOOLS_DIR/build-bins.sh" k8s
  if [ "$provided" = no ]; then
    bg build-all-rootfs bash "$TOOLS_DIR/node-image.sh" --rootfs
    bg build-all-others bash -c "bash '$TOOLS_DIR/build-bins.sh' containerd crictl kind etcd coredns metrics-server && bash '$TOOLS_DIR/helm.sh' >/dev/null"
  else
    bg build-all-others bash -c "bash '$TOOLS_DIR/build-bins.sh' kind metrics-server && bash '$TOOLS_DIR/helm.sh' >/dev/null"
  fi
  wait_all
}

main() {
  local t0=$SECONDS provided=no
  phase docker bash "$TOOLS_DIR/docker-up.sh"
  docker_env
  if [ -n "${KIND_NODE_IMAGE:-}" ] && bash "$TOOLS_DIR/node-image.sh" --provided >/dev/null; then
    provided=yes
  fi
  phase go-builds parallel_builds "$provided"
  phase node-image bash "$TOOLS_DIR/node-image.sh" >/dev/null
  phase metrics-server-image metrics_server_image >/dev/null
  log "build-all done in $((SECONDS - t0))s"
}

main "$@"
