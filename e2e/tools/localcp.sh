#!/usr/bin/env bash
# localcp.sh up|down|env|status: a Kubernetes control plane as plain local
# processes on 127.0.0.1, for scale and placement benchmarks.
#
#   etcd (--unsafe-no-fsync), kube-apiserver, kube-controller-manager,
#   kwok (fake nodes and pods: stages and resource-usage metrics from the kwok
#   module) and metrics-server (registered through an APIService and an
#   ExternalName Service to localhost). kube-scheduler is NOT started here: the
#   benchmarks start the schedulers they compare.
#
# Binaries come from build-bins.sh (k8s etcd kwok metrics-server) and are built
# on first use. State lives in $HDSCALE_CACHE/localcp: PKI (kept across runs),
# etcd data and logs (wiped by `down`), pids of every process started, and
# the admin kubeconfig $HDSCALE_CACHE/localcp/kubeconfig.
#
# Fake nodes are created by the benchmarks (e2e/bench). Their emulated CPU
# usage comes from the node annotation e2e.hdscale.io/node-cpu (cores, e.g.
# "2.5"): kwok serves it as node_cpu_usage_seconds_total (plus the pods'
# kwok.x-k8s.io/usage-cpu), metrics-server turns it into NodeMetrics. A node
# must also carry metrics.k8s.io/resource-metrics-path:
# /metrics/nodes/<node>/metrics/resource so metrics-server scrapes kwok's path.
#
# `up` is idempotent: running components are left alone (pid + binary check),
# missing ones are started; every phase is timed and polled with a deadline.
# Ports (all on 127.0.0.1) can be overridden with LOCALCP_*_PORT.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LCP_DIR="$HDSCALE_CACHE/localcp"
LCP_KUBECONFIG="$LCP_DIR/kubeconfig"
PKI="$LCP_DIR/pki"
PIDS="$LCP_DIR/pids"
LCP_LOGS="$LCP_DIR/logs"
ETCD_PORT=${LOCALCP_ETCD_PORT:-22379}
ETCD_PEER_PORT=${LOCALCP_ETCD_PEER_PORT:-22380}
API_PORT=${LOCALCP_API_PORT:-26443}
KCM_PORT=${LOCALCP_KCM_PORT:-20257}
KWOK_PORT=${LOCALCP_KWOK_PORT:-20250}
MS_PORT=${LOCALCP_MS_PORT:-20443}
# Lease renewals cost apiserver/etcd writes (one per node every duration/4):
# 600 s keeps 1,000 fake nodes at ~7 writes/s. The node lifecycle controller is
# disabled, so nothing marks a fake node NotReady between renewals.
NODE_LEASE_SECONDS=${LOCALCP_NODE_LEASE_SECONDS:-600}
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
# Node annotation holding the emulated background CPU in cores.
NODE_CPU_ANNOTATION=e2e.hdscale.io/node-cpu

K8S_BIN="$BIN_CACHE/k8s-$KUBE_VERSION"
ETCD_BIN="$BIN_CACHE/etcd-$ETCD_VERSION/etcd"
KWOK_BIN="$BIN_CACHE/kwok-$KWOK_VERSION/kwok"
MS_BIN="$BIN_CACHE/metrics-server-$METRICS_SERVER_VERSION/metrics-server"
# Components in start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kwok metrics-server)

kubectl_lcp() { "$K8S_BIN/kubectl" --kubeconfig "$LCP_KUBECONFIG" "$@"; }

# ---------------------------------------------------------------- processes

# proc_alive NAME: the recorded pid runs the binary recorded with it.
proc_alive() {
  local pidf="$PIDS/$1.pid" pid exe
  [ -f "$pidf" ] || return 1
  read -r pid exe <"$pidf" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$exe")" ]
}

# start_proc NAME BINARY ARGS...: starts BINARY in the background (stdin from
# /dev/null, output to its log) unless NAME already runs; records "pid binary".
start_proc() {
  local name=$1 bin=$2; shift 2
  if proc_alive "$name"; then
    log "$name: already running (pid $(cut -d' ' -f1 "$PIDS/$name.pid"))"
    return 0
  fi
  [ -x "$bin" ] || die "$name: binary $bin missing"
  "$bin" "$@" </dev/null >"$LCP_LOGS/$name.log" 2>&1 &
  echo "$! $bin" >"$PIDS/$name.pid"
  log "$name: started (pid $!, log $LCP_LOGS/$name.log)"
}

# stop_proc NAME: TERM, up to 15 s grace, then KILL; only the recorded pid.
stop_proc() {
  local name=$1 pidf="$PIDS/$1.pid" pid i
  if proc_alive "$name"; then
    read -r pid _ <"$pidf"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    log "$name: stopped (pid $pid)"
  fi
  rm -f "$pidf"
}

# await NAME DEADLINE CMD...: polls CMD (0.5 s interval) until it succeeds;
# on timeout prints the tail of NAME's log and fails.
await() {
  local name=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    # Only "the pid is gone" means exited: right after start_proc the pid
    # may still be the forked shell that has not exec'd the binary yet, so
    # proc_alive's identity check would report a healthy start as dead.
    if [ -f "$PIDS/$name.pid" ] && ! kill -0 "$(cut -d' ' -f1 "$PIDS/$name.pid")" 2>/dev/null; then
      tail -n 30 "$LCP_LOGS/$name.log" >&2 || true
      die "$name exited; log: $LCP_LOGS/$name.log"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LCP_LOGS/$name.log" >&2 || true
      die "$name not ready after $2 s; log: $LCP_LOGS/$name.log"
    fi
    sleep 0.5
  done
}

curl_api() {
  curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT$1"
}

# ---------------------------------------------------------------- phases

build() {
  local need=() c
  [ -f "$K8S_BIN/.done" ] || need+=(k8s)
  [ -f "$(dirname "$ETCD_BIN")/.done" ] || need+=(etcd)
  [ -f "$(dirname "$KWOK_BIN")/.done" ] || need+=(kwok)
  [ -f "$(dirname "$MS_BIN")/.done" ] || need+=(metrics-server)
  if [ ${#need[@]} -gt 0 ]; then bash "$TOOLS_DIR/build-bins.sh" "${need[@]}"; fi
  for c in "$K8S_BIN/kube-apiserver" "$K8S_BIN/kube-controller-manager" "$K8S_BIN/kubectl" \
    "$ETCD_BIN" "$KWOK_BIN" "$MS_BIN"; do
    [ -x "$c" ] || die "missing $c after build-bins.sh"
  done
}

# cert NAME CN ORG SAN CA: key + certificate signed by CA (or self-signed
# when CA is "self"); SAN is an openssl subjectAltName value or "".
cert() {
  local name=$1 cn=$2 org=$3 san=$4 ca=$5 subj ext
  [ -f "$PKI/$name.crt" ] && return 0
  subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  if [ "$ca" = self ]; then
    openssl req -x509 -new -key "$PKI/$name.key" -subj "$subj" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/$name.crt" 2>/dev/null
    return 0
  fi
  ext="$PKI/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

pki() {
  mkdir -p "$PKI"
  cert ca hdscale-localcp-ca "" "" self
  cert apiserver kube-apiserver "" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP" ca
  cert admin admin system:masters "" ca
  # kwok (the fake kubelets) and metrics-server serve with this one; the
  # aggregator checks metrics-server.kube-system.svc.
  cert serving localcp-serving "" \
    "DNS:localhost,DNS:metrics-server.kube-system.svc,IP:127.0.0.1" ca
  cert front-proxy-ca hdscale-localcp-front-proxy-ca "" "" self
  cert front-proxy-client front-proxy-client "" "" front-proxy-ca
  if [ ! -f "$PKI/sa.key" ]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  if [ ! -f "$LCP_KUBECONFIG" ]; then
    cat >"$LCP_KUBECONFIG.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: localcp
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/admin.crt")
    client-key-data: $(base64 -w0 <"$PKI/admin.key")
contexts:
- name: localcp
  context:
    cluster: localcp
    user: admin
current-context: localcp
EOF
    chmod 600 "$LCP_KUBECONFIG.tmp"
    mv "$LCP_KUBECONFIG.tmp" "$LCP_KUBECONFIG"
  fi
}

start_etcd() {
  mkdir -p "$LCP_DIR/etcd-data"
  start_proc etcd "$ETCD_BIN" --name=localcp --data-dir="$LCP_DIR/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="localcp=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls="" --unsafe-no-fsync --auto-compaction-retention=1 \
    --quota-backend-bytes=$((4 * 1024 * 1024 * 1024)) --log-level=warn
  await etcd 60 bash -c "curl -sf --max-time 2 http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"
}

start_apiserver() {
  # Priority-and-fairness and the in-flight limits are off: the benchmarks
  # measure the scheduler, not apiserver throttling. The endpoint reconciler
  # is off because a loopback address is not a valid Endpoints IP.
  # TaintNodesByCondition is off: it taints every new node not-ready until
  # the node lifecycle controller (off, see start_kcm) removes the taint.
  start_proc kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$API_PORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --disable-admission-plugins=TaintNodesByCondition \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --enable-priority-and-fairness=false --max-requests-inflight=0 --max-mutating-requests-inflight=0 \
    --delete-collection-workers=16 \
    --profiling=false --v=1
  await kube-apiserver 120 curl_api /readyz
}

start_kcm() {
  # The node lifecycle controller is off: fake nodes renew their leases
  # rarely (see NODE_LEASE_SECONDS) and must never be tainted unreachable.
  start_proc kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$LCP_KUBECONFIG" \
    --authentication-kubeconfig="$LCP_KUBECONFIG" --authorization-kubeconfig="$LCP_KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
    --leader-elect=false --use-service-account-credentials=false \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
    --controllers='*,-node-lifecycle-controller,-node-ipam-controller' \
    --kube-api-qps=500 --kube-api-burst=1000 --concurrent-gc-syncs=50 --v=1
  await kube-controller-manager 60 curl -skf --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"
  # Pods need the namespace's default ServiceAccount, made by the controller.
  await kube-controller-manager 60 curl_api /api/v1/namespaces/default/serviceaccounts/default
}

# kwok_config: the kwok module's stages (node fast,
# heartbeat-with-lease, pod fast), its metrics/resource Metric with the node
# CPU and memory expressions replaced, and its usage-from-annotation.
kwok_config() {
  local dir out="$LCP_DIR/kwok.yaml" cpu mem metric
  dir=$(cd "$HDSCALE_CACHE" && GOFLAGS= GOWORK=off go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir/kustomize/stage" ] || die "kwok module source not found (go mod download sigs.k8s.io/kwok@$KWOK_VERSION)"
  # Node CPU counter: the annotated background cores integrated over the
  # node's age, plus what its pods use, plus 1m so an idle node reports (a
  # zero counter makes metrics-server drop the node). Node memory: 1 GiB
  # plus the pods' (zero also drops it).
  cpu="value: '(\"$NODE_CPU_ANNOTATION\" in node.metadata.annotations ? double(node.metadata.annotations[\"$NODE_CPU_ANNOTATION\"]) : 0.0) * node.SinceSecond() + 0.001 * node.SinceSecond() + node.CumulativeUsage(\"cpu\")'"
  mem="value: '1073741824.0 + node.Usage(\"memory\")'"
  metric=$(sed -e "s|value: 'node.CumulativeUsage(\"cpu\")'|$cpu|" \
    -e "s|value: 'node.Usage(\"memory\")'|$mem|" "$dir/kustomize/metrics/resource/metrics-resource.yaml")
  grep -qF "$NODE_CPU_ANNOTATION" <<<"$metric" || die "kwok metrics-resource.yaml changed: node CPU expression not found"
  grep -qF "1073741824.0" <<<"$metric" || die "kwok metrics-resource.yaml changed: node memory expression not found"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      cat "$dir/kustomize/stage/$f"
      echo "---"
    done
    echo "---"
    echo "$metric"
    echo "---"
    cat "$dir/kustomize/metrics/usage/usage-from-annotation.yaml"
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}

start_kwok() {
  kwok_config
  start_proc kwok "$KWOK_BIN" --kubeconfig="$LCP_KUBECONFIG" --config="$LCP_DIR/kwok.yaml" \
    --manage-all-nodes=true --node-ip=127.0.0.1 --node-port="$KWOK_PORT" \
    --server-address="127.0.0.1:$KWOK_PORT" \
    --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
    --cidr=10.128.0.1/10 --node-lease-duration-seconds="$NODE_LEASE_SECONDS"
  await kwok 60 curl -skf --max-time 2 "https://127.0.0.1:$KWOK_PORT/healthz"
}

start_metrics_server() {
  start_proc metrics-server "$MS_BIN" \
    --kubeconfig="$LCP_KUBECONFIG" \
    --authentication-kubeconfig="$LCP_KUBECONFIG" --authorization-kubeconfig="$LCP_KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port="$MS_PORT" \
    --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
    --kubelet-use-node-status-port --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP \
    --metric-resolution=15s --kubelet-request-timeout=5s
  await metrics-server 60 curl -skf --max-time 2 "https://127.0.0.1:$MS_PORT/livez"
  local ca; ca=$(base64 -w0 <"$PKI/ca.crt")
  kubectl_lcp apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - name: https
    port: $MS_PORT
    targetPort: $MS_PORT
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: $ca
  service:
    name: metrics-server
    namespace: kube-system
    port: $MS_PORT
EOF
  await metrics-server 90 kubectl_lcp get --raw /apis/metrics.k8s.io/v1beta1/nodes
}

up() {
  mkdir -p "$LCP_DIR" "$PIDS" "$LCP_LOGS"
  phase localcp-build build
  phase localcp-pki pki
  phase localcp-etcd start_etcd
  phase localcp-apiserver start_apiserver
  phase localcp-controller-manager start_kcm
  phase localcp-kwok start_kwok
  phase localcp-metrics-server start_metrics_server
  log "local control plane up: export KUBECONFIG=$LCP_KUBECONFIG"
}

down() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_proc "${COMPONENTS[$i]}"; done
  rm -rf "$LCP_DIR/etcd-data"
  log "local control plane down (PKI and kubeconfig kept in $LCP_DIR)"
}

status() {
  local c rc=0
  for c in "${COMPONENTS[@]}"; do
    if proc_alive "$c"; then echo "$c: running (pid $(cut -d' ' -f1 "$PIDS/$c.pid"))"; else echo "$c: stopped"; rc=1; fi
  done
  return $rc
}

env_cmd() {
  cat <<EOF
export KUBECONFIG=$LCP_KUBECONFIG
export LOCALCP_DIR=$LCP_DIR
export LOCALCP_API_PORT=$API_PORT
export LOCALCP_KWOK_PORT=$KWOK_PORT
export LOCALCP_K8S_BIN=$K8S_BIN
export LOCALCP_NODE_CPU_ANNOTATION=$NODE_CPU_ANNOTATION
EOF
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
env) env_cmd ;;
*)
  echo "usage: $0 up|down|status|env" >&2
  exit 2
  ;;
esac
