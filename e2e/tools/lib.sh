# Shared helpers for the e2e/bench tooling scripts. Source it; do not run it.
# shellcheck shell=bash

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TOOLS_DIR/../.." && pwd)"
# shellcheck source=versions.env
. "$TOOLS_DIR/versions.env"

# Everything built for the cluster lives outside the repo, keyed by versions,
# so a clean clone on a warm machine reuses it and a version bump rebuilds.
HDSCALE_CACHE="${HDSCALE_CACHE:-$HOME/.cache/hdscale}"
BIN_CACHE="$HDSCALE_CACHE/bin"
mkdir -p "$BIN_CACHE"

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# phase NAME CMD...: runs CMD and prints how long the phase took, so CI logs
# show where a cold run spends its time.
phase() {
  local name=$1; shift
  local start=$SECONDS
  log "phase $name: start"
  "$@"
  local rc=$?
  log "phase $name: done in $((SECONDS - start))s (rc=$rc)"
  return $rc
}

# with_lock FILE CMD...: serialises builds that share a cache directory.
with_lock() {
  local lock=$1; shift
  mkdir -p "$(dirname "$lock")"
  flock "$lock" "$@"
}
