#!/usr/bin/env bash
# Ensures a Docker engine runs and can start privileged containers (kind
# nodes are privileged). Idempotent; safe to call before every cluster step.
#   1. installs the Debian packages the offline cluster tooling needs, if missing
#   2. starts dockerd in the background if no engine answers
#      (log: $HDSCALE_CACHE/logs/dockerd.log)
#   3. runs a privileged test container from a locally imported image; only if
#      that fails (a capability bounding set without CAP_SYS_RESOURCE, as on
#      some micro-VMs) it builds e2e/tools/runcwrap and restarts dockerd with
#      it as the default runtime.
#   4. raises the host's inotify limits to what kind documents for several
#      nodes (each node's systemd, kubelet and containerd watch files; a
#      second cluster, as the benchmarks start, failed with "too many open
#      files" at the Debian defaults of 128 instances).
# Usage: docker-up.sh            (source lib.sh + docker_env afterwards to use it)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRAP_RUNTIME=hdscale-runc
DOCKERD_LOG="$LOG_DIR/dockerd.log"
DEBIAN_PACKAGES=(docker.io containerd runc iptables debootstrap containernetworking-plugins
  debian-archive-keyring pigz util-linux ca-certificates)

install_packages() {
  local p missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages present"
    return 0
  fi
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
  log "installing ${missing[*]}"
  with_lock "$HDSCALE_CACHE/locks/apt" bash -c '
    apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' _ "${missing[@]}" \
    >"$LOG_DIR/apt.log" 2>&1 || { tail -20 "$LOG_DIR/apt.log" >&2; die "apt-get install failed"; }
}

engine_ok() { docker info >/dev/null 2>&1; }

dockerd_pid() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start_dockerd() {
  local args=("$@")
  command -v dockerd >/dev/null || die "dockerd not installed"
  log "starting dockerd ${args[*]} (log: $DOCKERD_LOG)"
  dockerd "${args[@]}" </dev/null >>"$DOCKERD_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$HDSCALE_CACHE/dockerd.pid"
  local deadline=$((SECONDS + 60))
  until engine_ok; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$DOCKERD_LOG" >&2; die "dockerd exited"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$DOCKERD_LOG" >&2; die "dockerd did not answer within 60s"; }
    sleep 1
  done
  log "dockerd running (pid $pid, $(docker version --format '{{.Server.Version}}'))"
}

stop_dockerd() {
  local pid; pid=$(dockerd_pid) || return 0
  log "stopping dockerd (pid $pid) to change its runtime"
  kill "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "dockerd (pid $pid) did not stop"
    sleep 1
  done
}

ensure_engine() {
  engine_ok && { log "Docker engine answers"; return 0; }
  if dockerd_pid >/dev/null; then
    wait_until 60 "the running dockerd to answer" engine_ok && return 0
    die "dockerd runs (pid $(dockerd_pid)) but does not answer; see $DOCKERD_LOG"
  fi
  start_dockerd
}

# probe_image: a tiny image made locally (runcwrap itself is the payload).
probe_image() {
  local bin; bin=$(build_tool runcwrap)
  local tag
  tag="hdscale/probe:$(basename "$(dirname "$bin")" | sed 's/^runcwrap-//')"
  if ! image_exists "$tag"; then
    local dir; dir=$(mktemp -d)
    cp "$bin" "$dir/probe"
    tar -C "$dir" -c probe | docker import --change 'ENTRYPOINT ["/probe"]' - "$tag" >/dev/null
    rm -rf "$dir"
  fi
  echo "$tag"
}

privileged_ok() {
  local img=$1 out
  if out=$(docker run --rm --privileged "$img" --probe 2>&1); then
    log "privileged containers work ($out)"
    return 0
  fi
  log "privileged test container failed: $(echo "$out" | tail -1)"
  return 1
}

ensure_privileged() {
  local img; img=$(probe_image)
  privileged_ok "$img" && return 0
  local current; current=$(docker info --format '{{.DefaultRuntime}}')
  [ "$current" = "$WRAP_RUNTIME" ] && die "privileged containers fail even with $WRAP_RUNTIME"
  local wrap; wrap=$(build_tool runcwrap)
  log "installing runc wrapper $wrap as default runtime $WRAP_RUNTIME"
  stop_dockerd
  start_dockerd --add-runtime "$WRAP_RUNTIME=$wrap" --default-runtime "$WRAP_RUNTIME"
  privileged_ok "$img" || die "privileged containers still fail with the runc wrapper"
}

# raise_inotify: fs.inotify.max_user_instances >= 512 and
# max_user_watches >= 524288 (kind's known-issues page), when we may.
raise_inotify() {
  local kv key want have
  for kv in fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288; do
    key=${kv%=*}; want=${kv#*=}
    have=$(sysctl -n "$key" 2>/dev/null || echo 0)
    [ "$have" -ge "$want" ] && continue
    if sysctl -qw "$key=$want" 2>/dev/null; then
      log "raised $key from $have to $want"
    else
      log "warning: $key is $have (< $want) and cannot be raised here; several kind nodes may fail with 'too many open files'"
    fi
  done
}

main() {
  phase docker-packages install_packages
  docker_env
  phase docker-engine ensure_engine
  docker_env
  phase docker-privileged ensure_privileged
  raise_inotify
}

main "$@"
