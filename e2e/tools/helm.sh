#!/usr/bin/env bash
# Builds the helm CLI from its Go module, at the version go.mod pins for the
# chart tests (helm.sh/helm/v4), into $HDSCALE_CACHE/bin/helm-<version>/helm
# (default ~/.cache/hdscale/bin/...), outside the repo; a finished build is
# reused. Prints the binary's path on stdout.
#   e2e/tools/helm.sh            build if needed, print the path
#   e2e/tools/helm.sh --version  print the pinned version only
# make helm-lint and make release use it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION=${HELM_VERSION:-$(cd "$REPO_ROOT" && go list -m -f '{{.Version}}' helm.sh/helm/v4)}
[ -n "$HELM_VERSION" ] || die "helm.sh/helm/v4 is not in go.mod"
if [ "${1:-}" = --version ]; then echo "$HELM_VERSION"; exit 0; fi

out="$BIN_CACHE/helm-$HELM_VERSION"
build() {
  [ -f "$out/.done" ] && return 0
  log "helm $HELM_VERSION: building from its Go module (a few minutes, once)"
  mkdir -p "$out"
  # Outside any module: `go install pkg@version` builds with helm's own go.mod.
  (cd "$out" && GOFLAGS=-buildvcs=false GOBIN="$out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
  "$out/helm" version --short >/dev/null
  touch "$out/.done"
  log "helm $HELM_VERSION: built into $out"
}
# One build at a time (make helm-lint and make release may run together).
mkdir -p "$HDSCALE_CACHE/locks"
exec 9>"$HDSCALE_CACHE/locks/helm-$HELM_VERSION"
flock 9
build
exec 9>&-
echo "$out/helm"
