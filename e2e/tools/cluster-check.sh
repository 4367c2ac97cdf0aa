#!/usr/bin/env bash
# Smoke test of the running hdscale kind cluster (cluster-up.sh first):
#   - all nodes Ready; the pool nodes carry the label and taint
#   - a pod without tolerations lands on the general worker
#   - a pod tolerating hdscale.io/pool=runtime:NoSchedule with a nodeSelector lands on a pool node
#   - pod-to-pod traffic across nodes, a ClusterIP Service by DNS name, CoreDNS,
#     and pod egress to the API server (a host-network endpoint) work
#   - kubectl top nodes shows every node
# Uses a scratch image of e2e/tools/netcheck (loaded with kind load) in the
# namespace hdscale-check, which it deletes at the end.
# Usage: cluster-check.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/images.sh"
tools_path

NS=hdscale-check
kctl() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

netcheck_image() {
  local bin tag
  bin=$(build_tool netcheck)
  tag="hdscale/netcheck:$(basename "$(dirname "$bin")" | sed 's/^netcheck-//')"
  image_exists "$tag" || binary_image "$tag" "$bin" /netcheck
  kind load docker-image --name "$CLUSTER_NAME" "$tag" >&2
  echo "$tag"
}

pod() { # pod NAME IMAGE POOL(yes|no)
  local sched=""
  if [ "$3" = yes ]; then
    sched='
  nodeSelector:
    hdscale.io/pool: runtime
  tolerations:
  - key: hdscale.io/pool
    operator: Equal
    value: runtime
    effect: NoSchedule'
  fi
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $NS
  labels:
    app: $1
spec:
  terminationGracePeriodSeconds: 1$sched
  containers:
  - name: netcheck
    image: $2
    imagePullPolicy: Never
    args: ["serve", ":8080"]
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet:
        path: /
        port: 8080
      periodSeconds: 2
---
EOF
}

check() {
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then
    log "ok: $what: $(echo "$out" | tail -1)"
  else
    log "FAIL: $what: $out"
    return 1
  fi
}

main() {
  local img; img=$(netcheck_image)
  kctl get nodes -L hdscale.io/pool >&2
  kctl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
  kctl create namespace "$NS" >/dev/null
  {
    pod general "$img" no
    pod pool "$img" yes
    cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: pool
  namespace: $NS
spec:
  selector:
    app: pool
  ports:
  - port: 80
    targetPort: 8080
EOF
  } | kctl apply -f - >/dev/null
  kctl -n "$NS" wait --for=condition=Ready pod/general pod/pool --timeout=120s >&2
  kctl -n "$NS" get pods -o wide >&2

  local gnode pnode pip fails=0
  gnode=$(kctl -n "$NS" get pod general -o jsonpath='{.spec.nodeName}')
  pnode=$(kctl -n "$NS" get pod pool -o jsonpath='{.spec.nodeName}')
  pip=$(kctl -n "$NS" get pod pool -o jsonpath='{.status.podIP}')
  if [ -z "$(kctl get node "$gnode" -o jsonpath='{.metadata.labels.hdscale\.io/pool}')" ] &&
    [ "$gnode" != "$CLUSTER_NAME-control-plane" ]; then
    log "ok: untolerated pod on general worker $gnode"
  else
    log "FAIL: untolerated pod on $gnode"; fails=1
  fi
  if [ "$(kctl get node "$pnode" -o jsonpath='{.metadata.labels.hdscale\.io/pool}')" = runtime ]; then
    log "ok: tolerating pod on pool node $pnode"
  else
    log "FAIL: tolerating pod on $pnode"; fails=1
  fi

  local x=(kctl -n "$NS" exec general -- /netcheck)
  check "pod->pod across nodes ($gnode -> $pnode, $pip)" "${x[@]}" get "http://$pip:8080/" || fails=1
  check "CoreDNS lookup" "${x[@]}" lookup kubernetes.default.svc.cluster.local || fails=1
  check "Service by DNS name" "${x[@]}" get "http://pool.$NS.svc.cluster.local/" || fails=1
  check "pod->API server via Service" "${x[@]}" get -k https://kubernetes.default.svc/livez || fails=1
  check "pod->pod on the pool node back" kctl -n "$NS" exec pool -- /netcheck get \
    "http://$(kctl -n "$NS" get pod general -o jsonpath='{.status.podIP}'):8080/" || fails=1
  local top
  top=$(kctl top nodes --no-headers 2>&1 || true)
  echo "$top" >&2
  if [ "$(echo "$top" | awk '$2 ~ /^[0-9]+m$/' | grep -c . || true)" -eq "$(kctl get nodes --no-headers | grep -c .)" ]; then
    log "ok: kubectl top nodes shows all nodes"
  else
    log "FAIL: kubectl top nodes"; fails=1
  fi

  kctl delete namespace "$NS" --wait=false >/dev/null
  [ "$fails" -eq 0 ] || die "cluster check failed"
  log "cluster check passed"
}

phase cluster-check main "$@"
