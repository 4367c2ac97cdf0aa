# Image helpers shared by node-image.sh and cluster-up.sh: images made from
# static binaries without a registry or a Dockerfile (docker import of a
# tarball). Source it after lib.sh.
# shellcheck shell=bash

# scratch_dir: a minimal filesystem for one static binary.
scratch_dir() {
  local dir; dir=$(mktemp -d "$HDSCALE_CACHE/img-build.XXXX")
  mkdir -p "$dir/etc/ssl/certs" "$dir/tmp" "$dir/usr/local/bin" "$dir/var/run"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$dir/etc/group"
  echo 'hosts: files dns' >"$dir/etc/nsswitch.conf"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
  echo "$dir"
}

# import_dir DIR TAG ENTRYPOINT_JSON: docker import of DIR as TAG.
import_dir() {
  local dir=$1 tag=$2 entry=$3
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENTRYPOINT $entry" - "$tag" >/dev/null
  rm -rf "$dir"
  log "image $tag"
}

# binary_image TAG BINARY PATH_IN_IMAGE
binary_image() {
  local tag=$1 bin=$2 dest=$3 dir
  dir=$(scratch_dir)
  install -D -m 0755 "$bin" "$dir$dest"
  import_dir "$dir" "$tag" "[\"$dest\"]"
}

# metrics_server_image: hdscale/metrics-server:<version>, a scratch image of
# the metrics-server binary built by build-bins.sh; prints the name.
metrics_server_image() {
  local tag="hdscale/metrics-server:$METRICS_SERVER_VERSION"
  local bin="$BIN_CACHE/metrics-server-$METRICS_SERVER_VERSION/metrics-server"
  if ! image_exists "$tag"; then
    [ -x "$bin" ] || die "metrics-server not built: run e2e/tools/build-bins.sh metrics-server"
    binary_image "$tag" "$bin" /metrics-server
  fi
  echo "$tag"
}
