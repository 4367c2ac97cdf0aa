#!/usr/bin/env bash
# release-e2e.sh: the third install way on the e2e cluster (make release-e2e):
#  1. make release VERSION=<chart appVersion> RELEASE_IMAGES=1 (the YAML, the
#     chart, the image tarballs, SHA256SUMS) and sha256sum -c of dist/;
#  2. the image tarballs go into the kind nodes the way an air-gapped admin
#     loads them (kind load image-archive: containerd import on every node);
#  3. any existing installation is removed (as deploy.sh does), then
#     kubectl apply -f dist/hdscale-<version>.yaml, and the same waits;
#  4. the install and pattern groups of the e2e suite;
#  5. kubectl delete -f dist/hdscale-<version>.yaml removes everything (the
#     namespace with it).
# Not part of make test (make helm-e2e and make deploy cover the chart and the
# base the release file is built from); make deploy afterwards reinstalls.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tools_path
export KUBECONFIG="$CLUSTER_KUBECONFIG"
ns=hdscale-system
chart="$REPO_ROOT/manifests/helm/hdscale"
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$chart/Chart.yaml")
dist="$REPO_ROOT/dist"
cd "$REPO_ROOT"

phase release env RELEASE_IMAGES=1 bash "$TOOLS_DIR/release.sh" "$version"
phase checksums bash -c "cd '$dist' && sha256sum -c SHA256SUMS"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for f in "$dist"/*-image-*.tar.gz; do
  gunzip -c "$f" >"$work/$(basename "${f%.gz}")"
done
phase load-archives kind load image-archive --name "$CLUSTER_NAME" "$work"/*.tar

# Remove what make deploy or make helm-e2e left (the release file and the
# kustomize base are the same objects; a Helm release is uninstalled).
if [ -n "$(kubectl -n $ns get secrets -l owner=helm,name=hdscale -o name 2>/dev/null)" ]; then
  phase remove-release "$(bash "$TOOLS_DIR/helm.sh")" uninstall hdscale --namespace $ns --wait --timeout 3m
fi
if kubectl get namespace $ns >/dev/null 2>&1; then
  phase remove-existing kubectl delete -f "$dist/hdscale-$version.yaml" --ignore-not-found --wait=true
  kubectl delete namespace $ns --ignore-not-found --wait=true
fi

phase apply kubectl apply -f "$dist/hdscale-$version.yaml"
wait_hdscale_ready
got=$(kubectl -n $ns get deploy hdscale-webhook -o jsonpath='{.spec.template.spec.containers[0].image}')
[ "$got" = "hdscale/hdscale:v$version" ] || die "webhook image $got, want hdscale/hdscale:v$version from the release file"

mkdir -p _out
rc=0
go test -tags e2e -count=1 -timeout 15m -v ./e2e/ -run '^(TestInstall|TestPatterns)$' \
  -args -kubeconfig="$CLUSTER_KUBECONFIG" 2>&1 | tee _out/release-e2e.log || rc=$?
phase delete kubectl delete -f "$dist/hdscale-$version.yaml" --wait=true
gone() { ! kubectl get namespace $ns >/dev/null 2>&1 &&
  ! kubectl get mutatingwebhookconfiguration hdscale >/dev/null 2>&1 &&
  ! kubectl get validatingwebhookconfiguration hdscale >/dev/null 2>&1; }
wait_until 180 "namespace and webhook configurations gone" gone
log "release file hdscale-$version.yaml: applied, e2e install+patterns rc=$rc, deleted"
exit $rc
