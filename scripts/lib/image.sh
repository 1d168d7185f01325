# Helpers for building and running the OCI image without a Docker daemon (podman + runc).
# Sourced after deps.sh, not executed.

IMAGE_NAME="localhost/keepalived-lb"
# Bump BASE_RECIPE when ensure_base_image changes: cached bases of an older recipe are not reused.
BASE_RECIPE=2
BASE_IMAGE="localhost/klb-debian-base:bookworm-$BASE_RECIPE"
BASE_TAR="$KLB_CACHE/debian-bookworm-minbase-$BASE_RECIPE.tar"

# The version the image and both executables carry: the newest v* tag, else 0.0.0-COMMITS-gHASH.
# The release (VERSION, what deploy/base's image tag names) when HEAD is its clean tag; else a dev version of it.
image_version() {
  local release
  release="$(image_release)"
  if [ "$(git describe --tags --exact-match 2>/dev/null)" = "v$release" ] && git diff --quiet HEAD -- 2>/dev/null; then
    printf '%s\n' "$release"
  else
    printf '%s-dev.%s.g%s%s\n' "$release" "$(git rev-list --count HEAD)" "$(git rev-parse --short HEAD)" \
      "$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty)"
  fi
}

image_release() { tr -d ' \n' <VERSION; }

# podman's settings for these machines: runc (crun fails on hybrid cgroups), cgroupfs, file events,
# and ulimits within the VM's hard limits. Passed through CONTAINERS_CONF; /etc is left alone.
podman_setup() {
  ensure_packages podman runc debootstrap skopeo uidmap
  mkdir -p "$KLB_CACHE"
  local conf="$KLB_CACHE/containers.conf"
  cat >"$conf.tmp" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  mv "$conf.tmp" "$conf"
  export CONTAINERS_CONF="$conf"
}

# A minimal Debian bookworm base from this machine's apt mirror, cached as a tarball outside the repo.
ensure_base_image() {
  podman image exists "$BASE_IMAGE" && return 0
  if [ ! -s "$BASE_TAR" ]; then
    local rootfs mirror
    mirror="$(debian_mirror)"
    rootfs="$(mktemp -d /tmp/klb-rootfs.XXXXXX)"
    log "making the Debian bookworm base with debootstrap (about a minute, once)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
    # debootstrap leaves the packages it installed in apt's cache: a third of the tree.
    rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
      "$rootfs"/usr/share/info/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf "$rootfs"
  fi
  podman import --change 'CMD ["bash"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}
