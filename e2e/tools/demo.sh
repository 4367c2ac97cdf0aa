#!/usr/bin/env bash
# demo.sh: the main job's last step (after cluster-up and deploy). For each
# scaling pattern in turn it labels a demo namespace, runs the unmodified
# runtime Deployment of e2e/demo/ in it and records where hdscale put the
# replicas and how it sized them, after a `kubectl rollout restart` at full
# pool capacity. The three patterns share the cluster's one 3-node pool, each
# filling it, so each demo scales to zero before the next one starts; the
# last one (per-node) is left running to look at.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tools_path
export KUBECONFIG="$CLUSTER_KUBECONFIG"
. "$REPO_ROOT/.cluster/images.env"

pool_nodes=$(kubectl get nodes -l hdscale.io/pool=runtime -o name | wc -l)
table="$REPO_ROOT/_out/demo-table.txt"
: >"$table"

cols='POD:.metadata.name,NODE:.spec.nodeName,CPU_REQ:.spec.containers[0].resources.requests.cpu,CPU_LIM:.spec.containers[0].resources.limits.cpu'
cols+=',WEB_CONCURRENCY:.spec.containers[0].env[?(@.name=="WEB_CONCURRENCY")].value'
cols+=',MAX_WORKERS:.spec.containers[0].env[?(@.name=="MAX_WORKERS")].value'

run_pattern() {
  local pattern=$1 replicas=$2 ns="demo-$1"
  log "demo: namespace $ns, pattern $pattern, $replicas replicas"
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # hdscale-demo=true: the e2e suite deletes these namespaces before it runs.
  kubectl label namespace "$ns" --overwrite "hdscale.io/pattern=$pattern" hdscale-demo=true >/dev/null
  sed "s#RUNTIME_IMAGE#$FAKE_RUNTIME_AS_HETIDA#" "$REPO_ROOT/e2e/demo/runtime-deployment.yaml" |
    kubectl -n "$ns" apply -f - >/dev/null
  kubectl -n "$ns" scale deploy/hetida-designer-runtime --replicas="$replicas" >/dev/null
  kubectl -n "$ns" rollout status deploy/hetida-designer-runtime --timeout=180s >/dev/null || true
  # A rollout at full pool capacity, as at every image upgrade, so the pods
  # are (re)created under the current labels: hdscale gave the Deployment
  # maxSurge 0 (annotation hdscale.io/rollout), so it completes.
  kubectl -n "$ns" rollout restart deploy/hetida-designer-runtime >/dev/null
  if ! kubectl -n "$ns" rollout status deploy/hetida-designer-runtime --timeout=180s >/dev/null; then
    kubectl -n "$ns" get pods -o wide
    kubectl -n "$ns" get events --sort-by=.lastTimestamp | tail -20
    die "demo $pattern: replicas did not become ready"
  fi
  # The rollout is complete once the new replicas are available; the old
  # ones may still be shutting down (the runtime drains running executions):
  # show the table once only the new ones are left.
  wait_until 120 "$ns: old replicas gone" bash -c \
    "[ \"\$(kubectl -n $ns get pods --no-headers | wc -l)\" -eq $replicas ]"
  { echo "# pattern $pattern (namespace $ns)"; kubectl -n "$ns" get pods -o custom-columns="$cols" --sort-by=.spec.nodeName; echo; } >>"$table"
}

stop_pattern() {
  kubectl -n "demo-$1" scale deploy/hetida-designer-runtime --replicas=0 >/dev/null
  wait_until 120 "demo-$1 to scale to 0" bash -c "[ -z \"\$(kubectl -n demo-$1 get pods -o name)\" ]"
}

# A demo left running by an earlier `make demo` holds the pool: stop it first.
for p in per-core per-node-single per-node; do
  if kubectl get namespace "demo-$p" >/dev/null 2>&1 && kubectl -n "demo-$p" get deploy/hetida-designer-runtime >/dev/null 2>&1; then
    stop_pattern "$p"
  fi
done

# per-core: one replica per core of every pool node, i.e. the pool's capacity.
cores=$(kubectl get nodes -l hdscale.io/pool=runtime -o jsonpath='{range .items[*]}{.status.allocatable.cpu}{"\n"}{end}' |
  awk '{ if ($1 ~ /m$/) { sub(/m$/, "", $1); c = int($1 / 1000) } else c = int($1); s += c } END { print s }')
run_pattern per-core "$cores"; stop_pattern per-core
run_pattern per-node-single "$pool_nodes"; stop_pattern per-node-single
run_pattern per-node "$pool_nodes"

echo
echo "==== hdscale demo: where the runtime replicas landed and how they were sized ===="
cat "$table"
echo "# live node CPU (metrics.k8s.io)"
kubectl top nodes 2>/dev/null || echo "(metrics not available yet)"
cat <<TXT

Where to look next (KUBECONFIG=$KUBECONFIG):
  kubectl -n demo-per-node get pod -o yaml | grep -A1 hdscale.io/policy   # the recorded decision
  kubectl -n demo-per-node get events                                      # scheduling events
  make plugin; kubectl hdscale explain -n demo-per-node <pod>               # decision, per-node reasons and scores
  kubectl hdscale status                                                   # pools, pods, drift
  (/metrics, /explain: HTTPS on 8444/8890, authenticated; see docs/install.md#private-endpoints)
  kubectl label namespace demo-per-node hdscale.io/pattern=per-pod         # rejected: bad label
  make cluster-down                                                        # remove everything
TXT
