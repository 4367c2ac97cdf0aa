#!/usr/bin/env bash
# Builds the third-party binaries the offline cluster and benchmarks need from
# Go modules at the versions pinned in versions.env, into
# $HDSCALE_CACHE/bin/<component>-<version>/. A directory with a .done marker is
# never rebuilt. Usage: build-bins.sh [component...] (default: all).
#   k8s            kube-apiserver kube-controller-manager kube-scheduler kubelet
#                  kubeadm kube-proxy kubectl (one go build through a wrapper
#                  module that pins every k8s.io staging module)
#   etcd coredns containerd crictl kind metrics-server kwok
#   kyverno gatekeeper   policy engines for bench-webhook.sh's variants (f)
#                  and (g); built only when that benchmark asks for them
# Each component keeps its own module graph. One joint wrapper module for the
# non-Kubernetes components was tried and does not work at these versions:
# containerd v2.3.4's CRI server needs k8s.io/cri-api v0.36 (crictl v1.37 needs
# v0.37), and metrics-server v0.8.0 built against k8s.io/apiserver v0.37
# compiles but panics at start ("cannot find model definition for
# ...NodeMetrics"). build-all.sh runs these builds beside the Kubernetes one.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# bin_dir COMPONENT VERSION -> cache directory of that build
bin_dir() { echo "$BIN_CACHE/$1-$2"; }

# wrapper_build COMPONENT VERSION MODULE@VERSION REPLACE_FROM_MODULE PKG...
# Builds PKG... inside a throwaway wrapper module that requires MODULE and, if
# REPLACE_FROM_MODULE is "yes", copies MODULE's own replace directives that
# point at other module versions (local-path replaces become version pins).
wrapper_build() {
  local comp=$1 ver=$2 modver=$3 copy_replaces=$4; shift 4
  local out; out=$(bin_dir "$comp" "$ver")
  [ -f "$out/.done" ] && { log "$comp $ver: cached"; return 0; }
  local work; work=$(mktemp -d "$HDSCALE_CACHE/wrap-$comp.XXXX")
  mkdir -p "$out"
  (
    cd "$work"
    go mod init "hdscale.local/wrap/$comp" >/dev/null 2>&1
    local mod=${modver%@*} v=${modver#*@}
    go mod edit -require="$modver"
    if [ "$copy_replaces" = yes ]; then
      local gomod
      gomod=$(go mod download -json "$modver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      # "k8s.io/api => ./staging/src/k8s.io/api" becomes "k8s.io/api => k8s.io/api <staging version>"
      awk -v sv="${STAGING_VERSION:-}" '
        /^replace \(/ {inblk=1; next}
        inblk && /^\)/ {inblk=0; next}
        inblk || /^replace / {
          line=$0; sub(/^replace /, "", line); gsub(/^[ \t]+/, "", line)
          n=split(line, f, /[ \t]+/)
          if (f[2] != "=>") next
          if (f[3] ~ /^\./) { if (sv != "") print f[1] "=" f[1] "@" sv }
          else if (n >= 4) print f[1] "=" f[3] "@" f[4]
        }' "$gomod" | while read -r r; do go mod edit -replace="$r"; done
    fi
    for p in "$@"; do go mod edit -tool="$p"; done
    log "$comp $ver: resolving modules"
    go mod tidy >/dev/null 2>&1 || go mod tidy
    log "$comp $ver: building $*"
    go build -trimpath -ldflags="-s -w ${LDFLAGS_EXTRA:-}" -o "$out/" "$@"
  )
  rm -rf "$work"
  touch "$out/.done"
  log "$comp $ver: built into $out"
}

build_k8s() {
  local kv=${KUBE_VERSION#v}
  local ld="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ld="$ld -X k8s.io/component-base/version.gitMajor=${kv%%.*}"
  ld="$ld -X k8s.io/component-base/version.gitMinor=$(echo "$kv" | cut -d. -f2)"
  ld="$ld -X k8s.io/component-base/version.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  ld="$ld -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"
  STAGING_VERSION=$KUBE_STAGING_VERSION LDFLAGS_EXTRA="$ld" wrapper_build k8s "$KUBE_VERSION" \
    "k8s.io/kubernetes@$KUBE_VERSION" yes \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
}

# go_install COMPONENT VERSION PKG@VERSION...: modules without replace
# directives build with plain `go install`.
go_install() {
  local comp=$1 ver=$2; shift 2
  local out; out=$(bin_dir "$comp" "$ver")
  [ -f "$out/.done" ] && { log "$comp $ver: cached"; return 0; }
  mkdir -p "$out"
  log "$comp $ver: go install $*"
  GOBIN="$out" go install -trimpath -ldflags="-s -w ${LDFLAGS_EXTRA:-}" "$@"
  touch "$out/.done"
}

build_etcd() {
  wrapper_build etcd "$ETCD_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" no go.etcd.io/etcd/server/v3 ||
    return 1
  # etcd's main package lives at the server module root; name it etcd.
  local out; out=$(bin_dir etcd "$ETCD_VERSION")
  # go names a ".../v3" main package after the element before the version.
  local f
  for f in v3 server; do [ -f "$out/$f" ] && mv "$out/$f" "$out/etcd"; done
  [ -f "$out/etcd" ] || { ls "$out"; return 1; }
}
build_coredns() { go_install coredns "$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION"; }
build_containerd() {
  go_install containerd "$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
}
build_crictl() { go_install crictl "$CRICTL_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"; }
build_kind() { go_install kind "$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION"; }
build_metrics-server() {
  wrapper_build metrics-server "$METRICS_SERVER_VERSION" "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION" yes \
    sigs.k8s.io/metrics-server/cmd/metrics-server
}
build_kwok() {
  wrapper_build kwok "$KWOK_VERSION" "sigs.k8s.io/kwok@$KWOK_VERSION" yes sigs.k8s.io/kwok/cmd/kwok
}

# Kyverno's admission controller (cmd/kyverno). Its go.mod carries one replace
# (k8s.io/pod-security-admission => its own fork), which a module that merely
# requires Kyverno does not inherit: the wrapper copies it.
build_kyverno() {
  LDFLAGS_EXTRA="-X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" \
    wrapper_build kyverno "$KYVERNO_VERSION" "github.com/kyverno/kyverno@$KYVERNO_VERSION" yes \
    github.com/kyverno/kyverno/cmd/kyverno
}
# Gatekeeper's manager (the module root's main package; go names it gatekeeper).
build_gatekeeper() {
  LDFLAGS_EXTRA="-X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$GATEKEEPER_VERSION" \
    go_install gatekeeper "$GATEKEEPER_VERSION" "github.com/open-policy-agent/gatekeeper/v3@$GATEKEEPER_VERSION"
}

main() {
  local comps=("$@")
  [ ${#comps[@]} -eq 0 ] && comps=(k8s etcd coredns containerd crictl kind metrics-server)
  for c in "${comps[@]}"; do
    phase "build-$c" with_lock "$HDSCALE_CACHE/locks/build-$c" bash -c ". '$TOOLS_DIR/build-bins.sh' --lib; build_$c"
  done
}

if [ "${1:-}" = "--lib" ]; then return 0 2>/dev/null || exit 0; fi
main "$@"
