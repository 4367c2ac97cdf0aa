# Shared helpers for the e2e/bench tooling scripts. Source it; do not run it.
# shellcheck shell=bash

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TOOLS_DIR/../.." && pwd)"
# shellcheck source=versions.env
. "$TOOLS_DIR/versions.env"
# kind's published node image for KUBE_VERSION: used where it can be had
# (local or pullable; a failed pull fails fast), else the node image is built
# offline (node-image.sh). KIND_NODE_IMAGE= (empty) skips the attempt.
KIND_NODE_IMAGE=${KIND_NODE_IMAGE-kindest/node:$KUBE_VERSION}

# Everything built for the cluster lives outside the repo, keyed by versions,
# so a clean clone on a warm machine reuses it and a version bump rebuilds.
HDSCALE_CACHE="${HDSCALE_CACHE:-$HOME/.cache/hdscale}"
BIN_CACHE="$HDSCALE_CACHE/bin"
LOG_DIR="$HDSCALE_CACHE/logs"
mkdir -p "$BIN_CACHE" "$LOG_DIR"

# The e2e cluster: its name and where its kubeconfig goes (git-ignored).
# shellcheck disable=SC2034 # used by the scripts that source this file
CLUSTER_NAME="${HDSCALE_CLUSTER_NAME:-hdscale}"
# shellcheck disable=SC2034
CLUSTER_KUBECONFIG="${HDSCALE_KUBECONFIG:-$REPO_ROOT/.cluster/kubeconfig}"

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# phase NAME CMD...: runs CMD and prints how long the phase took, so CI logs
# show where a cold run spends its time. CMD runs under the caller's errexit;
# if it makes the script exit, the EXIT trap below still reports the phase.
_PHASE_STACK=()
phase() {
  local name=$1; shift
  local start=$SECONDS
  _PHASE_STACK+=("$name@$start")
  log "phase $name: start"
  "$@"
  local rc=$?
  unset '_PHASE_STACK[${#_PHASE_STACK[@]}-1]'
  log "phase $name: done in $((SECONDS - start))s (rc=$rc)"
  return $rc
}
# at_exit CMD: runs CMD (a string for eval) when the script exits, after the
# phase report; use it instead of trap ... EXIT.
_AT_EXIT=()
at_exit() { _AT_EXIT+=("$1"); }
# _phase_exit_report [RC]: logs the phases still open when the script exits
# with RC (default $?). Scripts with their own EXIT trap call it from there.
_phase_exit_report() {
  local rc=${1:-$?} i entry
  [ "$rc" -eq 0 ] && return 0
  for ((i = ${#_PHASE_STACK[@]} - 1; i >= 0; i--)); do
    entry=${_PHASE_STACK[$i]}
    log "phase ${entry%@*}: FAILED after $((SECONDS - ${entry##*@}))s (rc=$rc)"
  done
  return 0
}
_on_exit() {
  local rc=$? i
  _phase_exit_report "$rc"
  for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${_AT_EXIT[$i]}" || true; done
  return "$rc"
}
trap _on_exit EXIT

# with_lock FILE CMD...: serialises builds that share a cache directory.
with_lock() {
  local lock=$1; shift
  mkdir -p "$(dirname "$lock")"
  flock "$lock" "$@"
}

# hash_of FILE|DIR...: short content hash used as a cache key.
hash_of() {
  local f
  for f in "$@"; do
    if [ -d "$f" ]; then
      (cd "$f" && find . -type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    else
      sha256sum "$f"
    fi
  done | sed "s#$REPO_ROOT/##" | sha256sum | cut -c1-12
}

# build_tool NAME: builds the standard-library-only program e2e/tools/NAME
# (package main) into $BIN_CACHE/NAME-<source hash>/NAME and prints the path.
# It is built in a throwaway module so it needs nothing from the main module.
build_tool() {
  local name=$1 src="$TOOLS_DIR/$1"
  local out; out="$BIN_CACHE/$name-$(hash_of "$src")"
  if [ ! -f "$out/.done" ]; then
    local work; work=$(mktemp -d "$HDSCALE_CACHE/tool-$name.XXXX")
    cp "$src"/*.go "$work/"
    rm -f "$work"/*_test.go
    (
      cd "$work" || exit 1
      printf 'module hdscale.local/tools/%s\n\ngo 1.22\n' "$name" >go.mod
      GOWORK=off GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out/$name" .
    ) >&2
    rm -rf "$work"
    touch "$out/.done"
  fi
  echo "$out/$name"
}

# docker_env: use the Docker client that matches the engine. Debian's
# docker.io ships /usr/bin/docker next to its dockerd; a newer standalone
# client earlier on PATH (e.g. /usr/local/bin/docker 28.x) is shadowed by a
# shim directory so that kind and these scripts talk to the engine with a
# client of the same generation. DOCKER_API_VERSION is pinned to the engine's
# API version when the engine is older than the client.
docker_env() {
  local shims="$HDSCALE_CACHE/shims"
  if [ -x /usr/bin/docker ]; then
    mkdir -p "$shims"
    ln -sfn /usr/bin/docker "$shims/docker"
    case ":$PATH:" in *":$shims:"*) ;; *) export PATH="$shims:$PATH" ;; esac
  fi
  if [ -z "${DOCKER_API_VERSION:-}" ]; then
    local server client
    server=$(docker version --format '{{.Server.APIVersion}}' 2>/dev/null || true)
    client=$(docker version --format '{{.Client.APIVersion}}' 2>/dev/null || true)
    if [ -n "$server" ] && [ -n "$client" ] &&
      [ "$(printf '%s\n%s\n' "$server" "$client" | sort -V | head -1)" != "$client" ]; then
      export DOCKER_API_VERSION=$server
    fi
  fi
}

# tools_path: puts the cached kind and kubectl (and the rest of the k8s
# binaries) first on PATH. The builds must already be there.
tools_path() {
  docker_env
  local kind_dir="$BIN_CACHE/kind-$KIND_VERSION" k8s_dir="$BIN_CACHE/k8s-$KUBE_VERSION"
  [ -f "$kind_dir/.done" ] || die "kind $KIND_VERSION not built: run e2e/tools/build-bins.sh kind"
  [ -f "$k8s_dir/.done" ] || die "kubernetes $KUBE_VERSION not built: run e2e/tools/build-bins.sh k8s"
  export PATH="$kind_dir:$k8s_dir:$PATH"
}

# image_exists IMAGE: true if the local Docker engine has IMAGE.
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# wait_until DEADLINE_SECONDS DESCRIPTION CMD...: polls CMD every 2s until it
# succeeds; fails with DESCRIPTION after the deadline.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { log "timed out waiting for $what"; return 1; }
    sleep 2
  done
}

# wait_hdscale_ready: both Deployments in hdscale-system rolled out and the
# caBundle written into both webhook configurations (how an admin checks an
# install, docs/install.md); prints the webhook's log on failure.
wait_hdscale_ready() {
  local ns=hdscale-system
  phase rollout bash -c "kubectl -n $ns rollout status deploy/hdscale-webhook --timeout=180s &&
    kubectl -n $ns rollout status deploy/hdscale-scheduler --timeout=180s"
  cabundle_written() {
    [ -n "$(kubectl get mutatingwebhookconfiguration hdscale -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ] &&
      [ -n "$(kubectl get validatingwebhookconfiguration hdscale -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ]
  }
  wait_until 120 "caBundle in the hdscale webhook configurations" cabundle_written || {
    kubectl -n $ns get pods -o wide; kubectl -n $ns logs deploy/hdscale-webhook --tail=50; return 1; }
}
