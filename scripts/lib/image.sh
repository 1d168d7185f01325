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

# Bump KEEPALIVED_RECIPE when ensure_image_keepalived's build changes: an older recipe's binary is not reused.
KEEPALIVED_RECIPE=1

# The image's keepalived: built from the source Debian bookworm ships (its orig tarball, checked against the
# .dsc's SHA-256) with every feature that needs a library off. Debian's binary links net-snmp (and so perl),
# GLib for DBus, libsystemd, OpenSSL and libnl-genl for SNMP, DBus, LVS health checkers and VRRP AH
# authentication, 30 MB of libraries none of which the agent's configuration uses; this one links only libc.
# Built once into the cache outside the repo; prints "PATH VERSION".
ensure_image_keepalived() {
  local found
  found="$(ls -d "$KLB_CACHE"/keepalived-*-vrrp-r"$KEEPALIVED_RECIPE" 2>/dev/null | head -n1)"
  if [ -n "$found" ] && [ -x "$found/keepalived" ]; then
    printf '%s %s\n' "$found/keepalived" "$(cat "$found/version")"
    return 0
  fi
  ensure_packages gcc make libc6-dev pkg-config dpkg-dev
  local src dsc orig version upstream
  src="$(ensure_deb_src)"
  # The mirror may lack the packaging tarball (.debian.tar.xz); the .dsc and the upstream tarball are what count.
  ( cd "$src" && apt-get source --download-only keepalived >/dev/null 2>&1 || true )
  dsc="$(ls "$src"/keepalived_*.dsc 2>/dev/null | sort -V | tail -n1)"
  [ -n "$dsc" ] || { log "apt-get source keepalived downloaded no .dsc into $src"; return 1; }
  version="$(awk '$1 == "Version:" { print $2 }' "$dsc")"
  upstream="${version#*:}"
  upstream="${upstream%-*}"
  orig="$src/keepalived_$upstream.orig.tar.gz"
  [ -f "$orig" ] || { log "apt-get source keepalived did not download $orig"; return 1; }
  local want
  want="$(awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && $3 ~ /\.orig\.tar\.gz$/ { print $1 }' "$dsc")"
  [ "$(sha256sum "$orig" | cut -d' ' -f1)" = "$want" ] || { log "$orig does not match $dsc's SHA-256"; return 1; }
  local work out
  work="$(mktemp -d /tmp/klb-keepalived.XXXXXX)"
  out="$KLB_CACHE/keepalived-$upstream-vrrp-r$KEEPALIVED_RECIPE"
  log "building keepalived $upstream (VRRP only, from Debian's source) once"
  tar xzf "$orig" -C "$work" --strip-components=1
  # ac_cv_lib_magic_magic_open=no: libmagic only types notify scripts, which the agent never configures; without
  # it the build does not depend on whether libmagic-dev happens to be installed.
  ( cd "$work" && ./configure --prefix=/usr --sysconfdir=/etc --runstatedir=/run --disable-lvs --disable-vrrp-auth \
      --disable-snmp --disable-dbus --disable-systemd --disable-iptables --disable-nftables \
      --enable-json --enable-bfd ac_cv_lib_magic_magic_open=no >"$work/configure.log" 2>&1 \
    && make -j"$(nproc)" >"$work/make.log" 2>&1 ) || {
    log "keepalived build failed; the last lines of its logs:"; tail -n 20 "$work"/configure.log "$work"/make.log >&2
    rm -rf "$work"; return 1
  }
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  strip -o "$out.tmp/keepalived" "$work/keepalived/keepalived"
  printf '%s\n' "$version" >"$out.tmp/version"
  rm -rf "$work" "$out"
  mv "$out.tmp" "$out"
  printf '%s %s\n' "$out/keepalived" "$version"
}
