#!/usr/bin/env bash
# make release VERSION=x.y.z: the install artefacts of one hdscale version in
# dist/ (git-ignored):
#   dist/hdscale-<version>.yaml   kustomize build manifests/, hdscale image at
#                                 v<version>: kubectl apply -f
#   dist/hdscale-<version>.tgz    the Helm chart, version = appVersion = <version>
#   dist/SHA256SUMS               sha256sum of the files of this release
# With RELEASE_IMAGES=1 it also builds the images (make images TAG=v<version>)
# and saves them with docker save into dist/ (summed too); without it, it
# needs no docker.
# The YAML and the chart come from e2e/tools/release (kustomize and Helm Go
# libraries pinned in go.mod): no kubectl, kustomize or helm binary needed.
# RELEASE_IMAGE_NAME=registry.example.com/hdscale renames the hdscale image in
# the YAML (the chart takes image.registry at install time).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=${1:-${VERSION:-}}
VERSION=${VERSION#v}
[ -n "$VERSION" ] || die "usage: make release VERSION=x.y.z"
[[ $VERSION =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION=$VERSION is not x.y.z"
DIST=${DIST:-$REPO_ROOT/dist}
cd "$REPO_ROOT"
mkdir -p "$DIST"

files=()
phase manifests-and-chart go run ./e2e/tools/release -root "$REPO_ROOT" -out "$DIST" \
  -version "$VERSION" -image-name "${RELEASE_IMAGE_NAME:-}" >/dev/null
files+=("hdscale-$VERSION.yaml" "hdscale-$VERSION.tgz")

if [ "${RELEASE_IMAGES:-0}" = 1 ]; then
  tag="v$VERSION"
  phase images make --no-print-directory images TAG="$tag"
  docker_env
  sched="hdscale/kube-scheduler:$KUBE_VERSION"
  phase save-hdscale bash -c "set -o pipefail; docker save hdscale/hdscale:$tag | gzip -n >'$DIST/hdscale-image-$VERSION.tar.gz'"
  phase save-kube-scheduler bash -c "set -o pipefail; docker save $sched | gzip -n >'$DIST/kube-scheduler-image-$KUBE_VERSION.tar.gz'"
  files+=("hdscale-image-$VERSION.tar.gz" "kube-scheduler-image-$KUBE_VERSION.tar.gz")
fi

(cd "$DIST" && sha256sum "${files[@]}" >SHA256SUMS)
log "release $VERSION in $DIST:"
(cd "$DIST" && ls -l "${files[@]}" SHA256SUMS >&2 && cat SHA256SUMS >&2)
