#!/usr/bin/env bash
# Builds the kind node image offline and prints its name on stdout (logs go to
# stderr). No registry is needed: every image is made locally.
#
# Usage: node-image.sh            build (or find) the node image, print its name
#        node-image.sh --rootfs   only build the cached Debian rootfs tarball
#        node-image.sh --base     only the rootfs and the base image
#        node-image.sh --provided succeed (and print it) if KIND_NODE_IMAGE is usable
#
#   KIND_NODE_IMAGE=<image>  use this (e.g. kind's published node image) when
#                            the engine has it or can pull it and its
#                            /kind/version is $KUBE_VERSION; otherwise build.
#
# The build, each step cached under $HDSCALE_CACHE or as a tagged image:
#   rootfs  debootstrap --variant=minbase of $DEBIAN_SUITE with what a kind node
#           needs, as a tarball keyed by suite + package list
#   base    hdscale/kind-base:<key>: rootfs + kind's base-image files (from the
#           sigs.k8s.io/kind module) + containerd v2, crictl, CNI plugins;
#           containerd gets restrict_oom_score_adj = true
#   images  the control-plane images with the exact names `kubeadm config images
#           list` prints (plus containerd's sandbox image name for pause):
#           single static binaries in scratch images, kube-proxy on the rootfs
#           with an iptables backend wrapper
#   node    hdscale/kind-node:<KUBE_VERSION>-<key>: base + kubelet/kubeadm/kubectl,
#           /kind/version, the images preloaded into the node's containerd,
#           nodenet (CNI stand-in, a systemd unit) with its RBAC as
#           /kind/manifests/default-cni.yaml, a host-path default StorageClass.
# The key hashes versions.env, this script and the sources it packs, so a
# changed input makes a new tag and an existing tag is never rebuilt.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TOOLS_DIR/images.sh"
docker_env

NODE_REPO=hdscale/kind-node
BASE_REPO=hdscale/kind-base
ROOTFS_PACKAGES=(systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool
  util-linux mount kmod libseccomp2 pigz fuse-overlayfs bash ca-certificates procps
  runc containernetworking-plugins jq)

BUILD_KEY=$(hash_of "$TOOLS_DIR/versions.env" "$TOOLS_DIR/node-image.sh" "$TOOLS_DIR/images.sh" "$TOOLS_DIR/nodenet" \
  "$TOOLS_DIR/pause" "$TOOLS_DIR/manifests/default-cni.yaml" "$TOOLS_DIR/manifests/default-storage.yaml")
NODE_IMAGE="$NODE_REPO:$KUBE_VERSION-$BUILD_KEY"
BASE_IMAGE="$BASE_REPO:$KIND_VERSION-$BUILD_KEY"
K8S_BIN="$BIN_CACHE/k8s-$KUBE_VERSION"

# --- a provided node image ------------------------------------------------

provided_image() {
  local img=${KIND_NODE_IMAGE:-}
  [ -n "$img" ] || return 1
  if ! image_exists "$img"; then
    log "KIND_NODE_IMAGE=$img is not local; trying to pull it"
    docker pull "$img" >&2 || { log "cannot pull $img; building the node image offline"; return 1; }
  fi
  local v
  v=$(docker run --rm --entrypoint cat "$img" /kind/version 2>/dev/null || true)
  if [ "$v" != "$KUBE_VERSION" ]; then
    log "KIND_NODE_IMAGE=$img has Kubernetes '${v:-?}', not $KUBE_VERSION; building offline"
    return 1
  fi
  log "using provided node image $img"
  echo "$img"
}

# --- rootfs ---------------------------------------------------------------

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' | grep -v security | grep '/debian/\?$' | head -1 || true)
  [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{print $2}' | grep -v security | grep '/debian/\?$' | head -1 || true)
  [ -n "$m" ] || die "no Debian mirror in the apt sources; set DEBIAN_MIRROR"
  echo "$m"
}

ROOTFS_TAR="$HDSCALE_CACHE/rootfs/debian-$DEBIAN_SUITE-$(echo "${ROOTFS_PACKAGES[*]}" | sha256sum | cut -c1-12).tar"

build_rootfs() {
  [ -f "$ROOTFS_TAR" ] && { log "rootfs cached: $ROOTFS_TAR"; return 0; }
  mkdir -p "$HDSCALE_CACHE/locks"
  exec 8>"$HDSCALE_CACHE/locks/rootfs"
  flock 8 # a concurrent build (build-all.sh) finishes first
  [ -f "$ROOTFS_TAR" ] && { flock -u 8; log "rootfs cached: $ROOTFS_TAR"; return 0; }
  command -v debootstrap >/dev/null || die "debootstrap missing: run e2e/tools/docker-up.sh"
  local mirror dir
  mirror=$(debian_mirror)
  dir=$(mktemp -d "$HDSCALE_CACHE/rootfs-build.XXXX")
  log "debootstrap $DEBIAN_SUITE from $mirror (log: $LOG_DIR/debootstrap.log)"
  local pkgs; pkgs=$(IFS=,; echo "${ROOTFS_PACKAGES[*]}")
  if ! debootstrap --variant=minbase --include="$pkgs" "$DEBIAN_SUITE" "$dir" "$mirror" \
    >"$LOG_DIR/debootstrap.log" 2>&1; then
    tail -20 "$LOG_DIR/debootstrap.log" >&2
    umount_below "$dir"
    rm -rf "$dir"
    die "debootstrap failed"
  fi
  umount_below "$dir"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/* \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
    "$dir"/tmp/* "$dir"/dev/* "$dir"/run/*
  mkdir -p "$(dirname "$ROOTFS_TAR")"
  tar --numeric-owner -C "$dir" -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
  flock -u 8
  log "rootfs: $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

umount_below() {
  local m
  for m in $(awk -v d="$1" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
}

# --- base image -------------------------------------------------------------

kind_module_dir() {
  local d
  d=$(cd / && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$d/images/base/files" ] || die "kind module has no images/base/files ($d)"
  echo "$d"
}

build_base() {
  image_exists "$BASE_IMAGE" && { log "base image cached: $BASE_IMAGE"; return 0; }
  local kind_dir ctd="$BIN_CACHE/containerd-$CONTAINERD_VERSION" crictl="$BIN_CACHE/crictl-$CRICTL_VERSION"
  kind_dir=$(kind_module_dir)
  local dir; dir=$(mktemp -d "$HDSCALE_CACHE/base-build.XXXX")
  tar -C "$dir" -xf "$ROOTFS_TAR"

  # kind's base-image files, with the Dockerfile's modes
  cp -r --no-preserve=mode,ownership "$kind_dir/images/base/files/." "$dir/"
  find "$dir/kind" "$dir/etc/containerd" "$dir/etc/systemd/system" "$dir/etc/sysctl.d" \
    "$dir/etc/default" "$dir/LICENSES" -type f -exec chmod 0644 {} +
  chmod 0644 "$dir/etc/crictl.yaml"
  chmod 0755 "$dir/kind" "$dir/kind/bin" "$dir"/kind/bin/* "$dir"/usr/local/bin/*

  # containerd: restrict_oom_score_adj (a pod sandbox's oom_score_adj -998
  # fails where the engine cannot raise it) and the sandbox image it names
  sed -i 's/^\(\s*restrict_oom_score_adj\s*=\s*\)false/\1true/' "$dir/etc/containerd/config.toml"
  grep -Eq '^\s*restrict_oom_score_adj\s*=\s*true' "$dir/etc/containerd/config.toml" ||
    die "could not set restrict_oom_score_adj in kind's containerd config"

  install -m 0755 "$ctd/containerd" "$ctd/ctr" "$ctd/containerd-shim-runc-v2" "$crictl/crictl" \
    "$dir/usr/local/bin/"
  mkdir -p "$dir/opt/cni/bin"
  local p
  for p in host-local loopback ptp portmap; do
    [ -x "$dir/usr/lib/cni/$p" ] || die "CNI plugin $p missing in the rootfs"
    ln -sf "/usr/lib/cni/$p" "$dir/opt/cni/bin/$p"
  done

  # the Dockerfile's RUN steps
  chroot "$dir" /bin/bash -euc '
    ctr oci spec |
      jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" |
      jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo "ReadKMsg=no" >>/etc/systemd/journald.conf
    ln -sf /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
    systemctl mask systemd-binfmt.service >/dev/null 2>&1
    mkdir -p /etc/kubernetes/manifests
  '
  [ -s "$dir/etc/containerd/cri-base.json" ] || die "cri-base.json not generated"

  tar --numeric-owner -C "$dir" -c . | docker import - "$BASE_IMAGE-rootfs" >/dev/null
  rm -rf "$dir"
  # metadata (docker import --change cannot set STOPSIGNAL): a Dockerfile
  # without context, FROM the local image only
  printf '%s\n' "FROM $BASE_IMAGE-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' |
    DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" - >/dev/null
  docker rmi "$BASE_IMAGE-rootfs" >/dev/null
  log "base image: $BASE_IMAGE"
}

# --- control-plane images -----------------------------------------------------

# kube-proxy runs iptables/ip6tables/conntrack: Debian rootfs + binary, with
# the iptables commands pointing at a wrapper that picks the backend (nft or
# legacy) the node already uses on first call, as the upstream image does.
kube_proxy_image() {
  local tag=$1 dir
  dir=$(mktemp -d "$HDSCALE_CACHE/img-build.XXXX")
  tar -C "$dir" -xf "$ROOTFS_TAR"
  install -m 0755 "$K8S_BIN/kube-proxy" "$dir/usr/local/bin/kube-proxy"
  cat >"$dir/usr/sbin/iptables-wrapper" <<'EOF'
#!/bin/sh
# Chooses the iptables backend the host network namespace already uses, points
# the iptables commands at it, then runs the command that was asked for.
set -e
legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
nft=$( (timeout 5 sh -c "iptables-nft-save; ip6tables-nft-save" || true) 2>/dev/null | grep -c '^-' || true)
# same rule as kind's entrypoint (select_iptables): a tie goes to legacy
if [ "${legacy:-0}" -ge "${nft:-0}" ]; then mode=legacy; else mode=nft; fi
for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "xtables-$mode-multi" "/usr/sbin/.$c.tmp"
  mv -f "/usr/sbin/.$c.tmp" "/usr/sbin/$c"
done
exec "/usr/sbin/$(basename "$0")" "$@"
EOF
  chmod 0755 "$dir/usr/sbin/iptables-wrapper"
  local c
  for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf iptables-wrapper "$dir/usr/sbin/$c"
  done
  import_dir "$dir" "$tag" '["/usr/local/bin/kube-proxy"]'
}

# control_plane_images: builds every image kubeadm will ask for and prints
# their names, one a line.
control_plane_images() {
  local sandbox=$1 img name pause_bin
  pause_bin=$(build_tool pause)
  local images
  images=$("$K8S_BIN/kubeadm" config images list --kubernetes-version "$KUBE_VERSION" 2>/dev/null)
  [ -n "$images" ] || die "kubeadm config images list printed nothing"
  # leftovers of an interrupted build would otherwise become dangling images
  # shellcheck disable=SC2086
  docker rmi $images "$sandbox" >/dev/null 2>&1 || true
  for img in $images; do
    name=${img%:*}; name=${name##*/}
    case "$name" in
      kube-apiserver | kube-controller-manager | kube-scheduler)
        binary_image "$img" "$K8S_BIN/$name" "/usr/local/bin/$name" ;;
      kube-proxy) kube_proxy_image "$img" ;;
      etcd)
        [ "${img##*:}" = "$ETCD_IMAGE_TAG" ] || log "WARNING: kubeadm wants $img, versions.env pins etcd $ETCD_IMAGE_TAG"
        binary_image "$img" "$BIN_CACHE/etcd-$ETCD_VERSION/etcd" /usr/local/bin/etcd ;;
      coredns)
        [ "${img##*:}" = "$COREDNS_VERSION" ] || log "WARNING: kubeadm wants $img, versions.env pins coredns $COREDNS_VERSION"
        binary_image "$img" "$BIN_CACHE/coredns-$COREDNS_VERSION/coredns" /coredns ;;
      pause) binary_image "$img" "$pause_bin" /pause ;;
      *) die "no recipe for image $img that kubeadm lists" ;;
    esac
    echo "$img"
  done
  if ! echo "$images" | grep -qxF "$sandbox"; then
    binary_image "$sandbox" "$pause_bin" /pause
    echo "$sandbox"
  fi
}

# --- node image -------------------------------------------------------------

build_node() {
  local cid="hdscale-node-build-$$"
  local nodenet; nodenet=$(build_tool nodenet)
  local sandbox
  sandbox=$(docker run --rm --entrypoint cat "$BASE_IMAGE" /etc/containerd/config.toml |
    sed -n 's/^\s*sandbox_image\s*=\s*"\([^"]*\)".*/\1/p' | head -1)
  [ -n "$sandbox" ] || die "no sandbox_image in the base image's containerd config"

  local images
  images=$(control_plane_images "$sandbox")

  docker rm -f "$cid" >/dev/null 2>&1 || true
  docker run -d --name "$cid" --entrypoint sleep --security-opt seccomp=unconfined \
    "$BASE_IMAGE" infinity >/dev/null
  at_exit "docker rm -f -v $cid >/dev/null 2>&1"

  local b
  for b in kubelet kubeadm kubectl; do docker cp "$K8S_BIN/$b" "$cid:/usr/bin/$b"; done
  docker cp "$nodenet" "$cid:/usr/local/bin/hdscale-nodenet"
  docker exec "$cid" mkdir -p /kind/manifests
  docker cp "$TOOLS_DIR/manifests/default-cni.yaml" "$cid:/kind/manifests/default-cni.yaml"
  docker cp "$TOOLS_DIR/manifests/default-storage.yaml" "$cid:/kind/manifests/default-storage.yaml"
  docker exec -i "$cid" bash -euc '
    chown root:root /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl /usr/local/bin/hdscale-nodenet
    chmod 0755 /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl /usr/local/bin/hdscale-nodenet
    chmod 0644 /kind/manifests/*
    echo -n "$1" >/kind/version
    cat >/etc/systemd/system/hdscale-nodenet.service <<EOF
[Unit]
Description=hdscale node network (CNI stand-in for kindnetd, e2e/tools/nodenet)
After=network.target

[Service]
ExecStart=/usr/local/bin/hdscale-nodenet
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
    systemctl enable hdscale-nodenet.service >/dev/null 2>&1
    nohup containerd >/tmp/containerd.log 2>&1 &
    for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
    ctr version >/dev/null
  ' _ "$KUBE_VERSION"

  log "preloading $(echo "$images" | wc -l) images into the node's containerd"
  # shellcheck disable=SC2086
  docker save $images | docker exec -i "$cid" ctr --namespace=k8s.io images import \
    --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
  local have img
  have=$(docker exec "$cid" ctr --namespace=k8s.io images list -q)
  for img in $images; do
    echo "$have" | grep -qxF "$img" || die "image $img missing in the node's containerd after import (have: $(echo $have))"
  done
  # (sleep is PID 1 and reaps nothing: a stopped containerd stays a zombie)
  docker exec "$cid" bash -c 'pkill -x containerd
    for i in $(seq 1 120); do ps -C containerd -o stat= | grep -qv "^Z" || exit 0; sleep 0.25; done; exit 1' ||
    die "containerd in the build container did not stop"
  docker exec "$cid" rm -rf /tmp/containerd.log /run/containerd

  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    "$cid" "$NODE_IMAGE" >/dev/null
  docker rm -f -v "$cid" >/dev/null
  # the registry-named tags were only needed for docker save
  # shellcheck disable=SC2086
  docker rmi $images >/dev/null 2>&1 || true
  log "node image: $NODE_IMAGE ($(docker image inspect --format '{{.Size}}' "$NODE_IMAGE" | numfmt --to=iec))"
}

# prune_old REPO KEEP: removes other tags of REPO (ignored when in use).
prune_old() {
  local repo=$1 keep=$2 t
  for t in $(docker images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    [ "$t" = "$keep" ] || docker rmi "$t" >/dev/null 2>&1 || true
  done
}

main() {
  case "${1:-}" in
    --rootfs) # only the Debian rootfs (build-all.sh runs it beside the Go builds)
      phase node-rootfs build_rootfs
      return 0 ;;
    --provided) # only report whether KIND_NODE_IMAGE is usable (prints it)
      provided_image
      return ;;
    --base) # rootfs and base image (needs containerd and crictl, not Kubernetes)
      phase node-rootfs build_rootfs
      phase node-bins bash "$TOOLS_DIR/build-bins.sh" containerd crictl >&2
      phase node-base build_base
      return 0 ;;
  esac
  if provided_image; then return 0; fi
  if image_exists "$NODE_IMAGE"; then
    log "node image cached: $NODE_IMAGE"
    echo "$NODE_IMAGE"
    return 0
  fi
  mkdir -p "$HDSCALE_CACHE/locks"
  exec 9>"$HDSCALE_CACHE/locks/node-image"
  flock 9 # one build at a time; a waiting caller then finds the image
  if ! image_exists "$NODE_IMAGE"; then
    phase node-rootfs build_rootfs
    phase node-bins bash "$TOOLS_DIR/build-bins.sh" containerd crictl etcd coredns k8s >&2
    phase node-base build_base
    phase node-build build_node
    prune_old "$NODE_REPO" "$NODE_IMAGE"
    prune_old "$BASE_REPO" "$BASE_IMAGE"
  fi
  flock -u 9
  echo "$NODE_IMAGE"
}

main "$@"
