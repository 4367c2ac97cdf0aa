#!/usr/bin/env bash
# bench-webhook.sh: hdscale's admission webhook, in isolation and end to end,
# each side by side with references in one run (docs/benchmarks.md).
# Results: $BENCH_OUT (default _out/bench)/webhook-{isolation,e2e}.{md,json}.
#
# isolation: hdscale's webhook server (webhook.Run with a fake API: client-go
#   fake clientset, one namespace labelled hdscale.io/pattern=per-core, 3 pool
#   nodes; self-signed TLS on 127.0.0.1) and the no-op webhook
#   (e2e/bench/noopwebhook), both as local processes, loaded by
#   e2e/bench/webhookload at fixed open-loop rates, interleaved; then a CPU
#   profile of hdscale at 2,000/s and `go test -bench BenchmarkAdmit -benchmem`.
# e2e: e2e/bench/admission against the kind cluster (.cluster/kubeconfig):
#   dry-run pod creates with no mutation, a MutatingAdmissionPolicy, the
#   no-op webhook deployed in-cluster (plain, and answering with a 1-op patch), and hdscale's webhook; interleaved
#   rounds at concurrency 1 and 16. Needs `make cluster-up deploy` (run here
#   when the cluster or hdscale is missing, unless BENCH_NO_CLUSTER_UP=1).
#   Variants (f) Kyverno and (g) Gatekeeper: the policy engines doing the
#   same mutation, built from their Go modules (build-bins.sh kyverno
#   gatekeeper; cached, ~10 min cold), installed here from
#   e2e/bench/engines/*.yaml with their CRDs, removed at the end.
#
# Environment: BENCH_WEBHOOK_PARTS ("isolation e2e"), BENCH_RATES
# (500,2000,5000), BENCH_ISO_DURATION (10s), BENCH_ISO_ROUNDS (3),
# BENCH_E2E_ROUNDS (5), BENCH_E2E_DURATION (10s), BENCH_E2E_CONCURRENCY (1,16),
# BENCH_E2E_VARIANTS (none,map,noop,hdscale,noop-patch,kyverno,gatekeeper;
# must start with none), BENCH_KEEP_ENGINES (1: leave the engines installed),
# BENCH_NICE (unset; e.g. -15 runs the isolation servers and generator at that
# nice level, for a machine shared with other work - the results say so).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PARTS=${BENCH_WEBHOOK_PARTS:-isolation e2e}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/_out/bench}
RUN="$HDSCALE_CACHE/bench/webhook"
mkdir -p "$BENCH_OUT" "$RUN/bin" "$RUN/logs" "$RUN/pids"

# Processes this script starts, stopped on exit by pid (only if the pid
# still runs the binary it was started as).
stop_started() {
  local f pid bin i
  for f in "$RUN"/pids/*.pid; do
    [ -f "$f" ] || continue
    read -r pid bin <"$f" || true
    if [ -n "${pid:-}" ] && [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ]; then
      kill "$pid" 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}
trap 'rc=$?; stop_started; remove_engines; (exit $rc); _phase_exit_report' EXIT
stop_started # leftovers of an interrupted run

NICE=()
[ -n "${BENCH_NICE:-}" ] && NICE=(nice -n "$BENCH_NICE")

start_bg() { # NAME BINARY ARGS...
  local name=$1 bin=$2; shift 2
  "${NICE[@]}" "$bin" "$@" </dev/null >"$RUN/logs/$name.log" 2>&1 &
  echo "$! $bin" >"$RUN/pids/$name.pid"
  log "$name: started (pid $!, log $RUN/logs/$name.log)"
}
pid_of() { cut -d' ' -f1 "$RUN/pids/$1.pid"; }

machine() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "nproc $(nproc), CPU \"$model\", $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-4), kernel $(uname -r), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

build() {
  cd "$REPO_ROOT"
  go build -o "$RUN/bin/webhookload" ./e2e/bench/webhookload
  go build -o "$RUN/bin/admission" ./e2e/bench/admission
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$RUN/bin/noopwebhook" ./e2e/bench/noopwebhook
}
phase build-bench-webhook build

CASE="$REPO_ROOT/webhook/testdata/cases/helm-runtime-deployment.yaml"

isolation() {
  local certs="$RUN/certs-local" md="$BENCH_OUT/webhook-isolation.md" prof="$BENCH_OUT/webhook-cpu.pprof"
  rm -rf "$certs" "$RUN/hdscale.addr" "$RUN/noop.addr"
  "$RUN/bin/noopwebhook" gencert -dir "$certs" -hosts 127.0.0.1,localhost
  start_bg hdscale-harness "$RUN/bin/webhookload" serve -tls-cert-file "$certs/tls.crt" -tls-key-file "$certs/tls.key" \
    -addr-file "$RUN/hdscale.addr"
  start_bg noop-local "$RUN/bin/noopwebhook" -listen 127.0.0.1:0 -tls-cert-file "$certs/tls.crt" -tls-key-file "$certs/tls.key" \
    -addr-file "$RUN/noop.addr"
  wait_until 60 "the harness's webhook addresses" test -s "$RUN/hdscale.addr"
  wait_until 30 "the no-op webhook's address" test -s "$RUN/noop.addr"
  local wh health metrics ctl noop
  wh=$(jq -r .webhook "$RUN/hdscale.addr"); health=$(jq -r .health "$RUN/hdscale.addr"); ctl=$(jq -r .control "$RUN/hdscale.addr"); metrics=$(jq -r .metrics "$RUN/hdscale.addr")
  noop=$(cat "$RUN/noop.addr")
  wait_until 60 "hdscale webhook /readyz" curl -sf --max-time 2 "http://$health/readyz"
  {
    echo "# bench-webhook isolation $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "machine: $(machine)"
    echo
    echo "command: e2e/tools/bench-webhook.sh (BENCH_WEBHOOK_PARTS=isolation${BENCH_NICE:+ BENCH_NICE=$BENCH_NICE})"
    [ -n "${BENCH_NICE:-}" ] && echo && echo "servers and generator ran at nice $BENCH_NICE (the machine was shared with other work)"
    echo
  } >"$md"
  "${NICE[@]}" "$RUN/bin/webhookload" run -case "$CASE" -ca "$certs/ca.crt" \
    -hdscale-url "https://$wh/mutate" -hdscale-control "http://$ctl" -hdscale-metrics "http://$metrics/metrics" \
    -hdscale-pid "$(pid_of hdscale-harness)" \
    -noop-url "https://$noop/mutate" -noop-metrics "https://$noop/metrics" -noop-pid "$(pid_of noop-local)" \
    -rates "${BENCH_RATES:-500,2000,5000}" -duration "${BENCH_ISO_DURATION:-10s}" -rounds "${BENCH_ISO_ROUNDS:-3}" \
    -profile-rate 2000 -profile-seconds 10 -profile-out "$prof" -out "$BENCH_OUT/webhook-isolation.json" | tee -a "$md"
  stop_started
  {
    echo
    echo "CPU profile of the hdscale server process at 2,000/s (\`go tool pprof -top -nodecount=25 $prof\`):"
    echo
    echo '```'
    go tool pprof -top -nodecount=25 "$prof" 2>/dev/null | sed -n '/^Duration/,$p'
    echo '```'
    echo
    echo "Cumulative view (\`go tool pprof -top -cum -nodecount=30\`):"
    echo
    echo '```'
    go tool pprof -top -cum -nodecount=30 "$prof" 2>/dev/null | sed -n '/^ *flat/,$p'
    echo '```'
    echo
    echo "In-process allocations per admission (\`go test -run '^\$' -bench BenchmarkAdmit -benchmem ./e2e/bench/webhookload/\`):"
    echo
    echo '```'
    (cd "$REPO_ROOT" && "${NICE[@]}" go test -run '^$' -bench BenchmarkAdmit -benchmem -count 3 ./e2e/bench/webhookload/ | grep -E '^(Benchmark|cpu|goos)')
    echo '```'
    # The webhook package's own benchmarks, when it has any.
    if grep -qs '^func Benchmark' "$REPO_ROOT"/webhook/*_test.go; then
      echo
      echo "The webhook package's benchmarks (\`go test -run '^\$' -bench . -benchmem ./webhook/\`):"
      echo
      echo '```'
      (cd "$REPO_ROOT" && "${NICE[@]}" go test -run '^$' -bench . -benchmem -count 3 ./webhook/ | grep -E '^(Benchmark|cpu|goos)')
      echo '```'
    fi
  } | tee -a "$md"
  log "results: $md"
}

E2E_VARIANTS=${BENCH_E2E_VARIANTS:-none,map,noop,hdscale,noop-patch,kyverno,gatekeeper}
ENGINES_DIR="$REPO_ROOT/e2e/bench/engines"
ENGINES_INSTALLED=()
wants_variant() { case ",$E2E_VARIANTS," in *",$1,"*) return 0 ;; esac; return 1; }

# engine_crds ENGINE: the engine's CRDs as YAML, from its Go module (the
# version built): Kyverno's config/crds/, the CRDs of Gatekeeper's
# deploy/gatekeeper.yaml.
engine_crds() {
  local dir
  case $1 in
    kyverno)
      dir=$(go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" | jq -r .Dir)
      find "$dir/config/crds" -name '*.yaml' | LC_ALL=C sort | while read -r f; do echo "---"; cat "$f"; done ;;
    gatekeeper)
      dir=$(go mod download -json "github.com/open-policy-agent/gatekeeper/v3@$GATEKEEPER_VERSION" | jq -r .Dir)
      awk '/^---/ { if (crd) printf "%s", doc; doc = ""; crd = 0 }
        /^kind: CustomResourceDefinition/ { crd = 1 }
        { doc = doc $0 "\n" }
        END { if (crd) printf "%s", doc }' "$dir/deploy/gatekeeper.yaml" ;;
  esac
}

# install_engine ENGINE VERSION BINARY: builds (cached), images, loads and
# installs one policy engine; waits for its Deployment.
install_engine() {
  local name=$1 ver=$2 bin=$3 image="hdscale/bench-$1:$2" deploy
  local binpath="$BIN_CACHE/$name-$ver/$bin"
  if [ ! -x "$binpath" ]; then
    log "$name $ver: building from its Go module (log $LOG_DIR/build-$name.log; ~5-10 min cold)"
    nice -n 10 bash "$TOOLS_DIR/build-bins.sh" "$name" >"$LOG_DIR/build-$name.log" 2>&1 ||
      { tail -20 "$LOG_DIR/build-$name.log" >&2; die "$name build failed (log $LOG_DIR/build-$name.log)"; }
  fi
  [ -x "$binpath" ] || die "$name: no $binpath after the build"
  image_exists "$image" || binary_image "$image" "$binpath" "/$bin"
  # Only into the nodes it can run on (no taint: its pods tolerate none),
  # the engine images being large (Kyverno's 141 MB).
  local nodes
  nodes=$(kctl get nodes -o json | jq -r '[.items[] | select((.spec.taints // []) | length == 0) | .metadata.name] | join(",")')
  LOAD_NODES=$nodes phase "load-$name-image" bash "$TOOLS_DIR/load-image.sh" "$image"
  ENGINES_INSTALLED+=("$name")
  engine_crds "$name" | kctl apply --server-side --force-conflicts -f - >/dev/null
  kctl wait --for condition=established --timeout=120s -f <(engine_crds "$name") >/dev/null
  sed "s#image: hdscale/bench-$name:.*#image: $image#" "$ENGINES_DIR/$name.yaml" | kctl apply --server-side --force-conflicts -f - >/dev/null
  deploy=$(sed -n '/^kind: Deployment/,/^---/s/^  name: //p' "$ENGINES_DIR/$name.yaml" | head -1)
  kctl -n "hdscale-bench-$name-system" rollout status "deploy/$deploy" --timeout=300s ||
    { kctl -n "hdscale-bench-$name-system" get pods -o wide; kctl -n "hdscale-bench-$name-system" logs "deploy/$deploy" --tail=30 || true; return 1; }
}

# remove_engines: what install_engine installed, unless BENCH_KEEP_ENGINES=1.
# Kyverno's webhook configurations are its own (it recreates them while it
# runs): removed after its Deployment.
remove_engines() {
  [ ${#ENGINES_INSTALLED[@]} -gt 0 ] && [ "${BENCH_KEEP_ENGINES:-0}" != 1 ] || return 0
  local name
  for name in "${ENGINES_INSTALLED[@]}"; do
    log "removing $name"
    kctl delete -f "$ENGINES_DIR/$name.yaml" --ignore-not-found --wait=true --timeout=120s >/dev/null || true
    [ "$name" = kyverno ] && kctl delete mutatingwebhookconfigurations,validatingwebhookconfigurations \
      -l webhook.kyverno.io/managed-by=kyverno --ignore-not-found >/dev/null || true
    engine_crds "$name" | kctl delete -f - --ignore-not-found --wait=false >/dev/null || true
  done
  ENGINES_INSTALLED=()
}

kctl() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

# cluster_ready: the kind cluster answers and hdscale's webhook is deployed.
cluster_ready() {
  [ -s "$CLUSTER_KUBECONFIG" ] || return 1
  kubectl --kubeconfig "$CLUSTER_KUBECONFIG" --request-timeout=10s -n hdscale-system get deploy hdscale-webhook >/dev/null 2>&1
}

e2e() {
  if ! (tools_path >/dev/null 2>&1 && cluster_ready); then
    [ "${BENCH_NO_CLUSTER_UP:-0}" = 1 ] && die "no kind cluster with hdscale deployed (make cluster-up deploy)"
    log "no cluster with hdscale deployed: running make cluster-up deploy"
    make -C "$REPO_ROOT" --no-print-directory cluster-up deploy
  fi
  tools_path
  . "$TOOLS_DIR/images.sh"
  local certs="$RUN/certs-cluster" md="$BENCH_OUT/webhook-e2e.md" image
  image="hdscale/bench-noopwebhook:$(sha256sum "$RUN/bin/noopwebhook" | cut -c1-12)"
  image_exists "$image" || binary_image "$image" "$RUN/bin/noopwebhook" /noopwebhook
  phase load-noop-image bash "$TOOLS_DIR/load-image.sh" "$image"
  rm -rf "$certs"
  "$RUN/bin/noopwebhook" gencert -dir "$certs" \
    -hosts bench-noop-webhook.hdscale-bench-noop-system.svc,bench-noop-webhook.hdscale-bench-noop-system.svc.cluster.local,bench-noop-patch-webhook.hdscale-bench-noop-system.svc,bench-noop-patch-webhook.hdscale-bench-noop-system.svc.cluster.local
  {
    echo "# bench-webhook e2e $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "machine: $(machine), kind $KIND_VERSION"
    echo
    echo "command: e2e/tools/bench-webhook.sh (BENCH_WEBHOOK_PARTS=e2e BENCH_E2E_VARIANTS=$E2E_VARIANTS BENCH_E2E_ROUNDS=${BENCH_E2E_ROUNDS:-5} BENCH_E2E_DURATION=${BENCH_E2E_DURATION:-10s} BENCH_E2E_CONCURRENCY=${BENCH_E2E_CONCURRENCY:-1,16})"
    if wants_variant kyverno || wants_variant gatekeeper; then
      echo
      echo "Policy engines built from their Go modules, installed from e2e/bench/engines/: Kyverno $KYVERNO_VERSION (admission controller only), Gatekeeper $GATEKEEPER_VERSION (--operation=mutation-webhook)."
    fi
    echo
  } >"$md"
  wants_variant kyverno && phase install-kyverno install_engine kyverno "$KYVERNO_VERSION" kyverno
  wants_variant gatekeeper && phase install-gatekeeper install_engine gatekeeper "$GATEKEEPER_VERSION" gatekeeper
  "$RUN/bin/admission" -kubeconfig "$CLUSTER_KUBECONFIG" -case "$CASE" -noop-image "$image" -noop-tls-dir "$certs" \
    -variants "$E2E_VARIANTS" \
    -rounds "${BENCH_E2E_ROUNDS:-5}" -duration "${BENCH_E2E_DURATION:-10s}" -concurrency "${BENCH_E2E_CONCURRENCY:-1,16}" \
    -out "$BENCH_OUT/webhook-e2e.json" | tee -a "$md"
  remove_engines
  log "results: $md"
}

for part in $PARTS; do
  case $part in
    isolation) phase webhook-isolation isolation ;;
    e2e) phase webhook-e2e e2e ;;
    *) die "unknown part $part (isolation, e2e)" ;;
  esac
done
