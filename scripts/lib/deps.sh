# Shared helpers for the project's scripts: package installation and the cached kube-apiserver build.
# Sourced, not executed.

KLB_CACHE="${KLB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keepalived-lb}"
APISERVER_VERSION="1.20.2"
# -r2: built with reflect2 1.0.2 (see ensure_apiserver); a binary of an older recipe is not reused.
APISERVER_BIN="$KLB_CACHE/kube-apiserver-v$APISERVER_VERSION-r2"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# Installs the named Debian packages that are missing; runs apt-get update once per call when needed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The Debian archive this machine installs from, read from its apt sources (mirrors differ per site).
debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
  if [ -z "$uri" ]; then
    uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list 2>/dev/null | head -n1)"
  fi
  if [ -z "$uri" ]; then
    log "no Debian archive found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    return 1
  fi
  printf '%s\n' "$uri"
}

ensure_build_deps() {
  # prometheus: its promtool checks and unit-tests the shipped alerting rules. bird2: BGP tests run real BIRD.
  # conntrack, conntrackd: the agent keeps connections across VIP moves with them (--keep-connections).
  ensure_packages libnl-3-dev libnl-route-3-dev libjemalloc-dev pkg-config iproute2 keepalived etcd-server python3 openssl curl util-linux nftables prometheus bird2 conntrack conntrackd
  # Tests apply deploy/ manifests with kubectl; Debian's kubernetes-client provides one if absent.
  command -v kubectl >/dev/null 2>&1 || ensure_packages kubernetes-client
}

# Debian's source packages from this machine's archive (a deb-src entry of its own); prints the folder, outside the
# repo, where sources are downloaded.
ensure_deb_src() {
  if [ ! -f /etc/apt/sources.list.d/klb-deb-src.sources ]; then
    local mirror
    mirror="$(debian_mirror)"
    cat >/etc/apt/sources.list.d/klb-deb-src.sources <<SRC
Types: deb-src
URIs: $mirror
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq >&2
  mkdir -p "$KLB_CACHE/deb-src"
  printf '%s\n' "$KLB_CACHE/deb-src"
}

# Builds the named Kubernetes v1.20 binaries (kube-apiserver, kube-proxy) from Debian's `kubernetes` source
# package, all that are missing in one unpack; later calls reuse the cached binaries.
ensure_kube_binaries() {
  local missing=() name
  for name in "$@"; do [ -x "$(kube_binary_path "$name")" ] || missing+=("$name"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  ensure_packages etcd-server golang-go rsync make dpkg-dev golang-github-modern-go-reflect2-dev
  mkdir -p "$KLB_CACHE"
  exec 9>"$KLB_CACHE/build.lock"
  flock 9
  missing=()
  for name in "$@"; do [ -x "$(kube_binary_path "$name")" ] || missing+=("$name"); done
  if [ ${#missing[@]} -eq 0 ]; then flock -u 9; return 0; fi
  local src
  src="$(ensure_deb_src)"
  ( cd "$src" && ls kubernetes_*.orig.tar.gz >/dev/null 2>&1 || apt-get source --download-only kubernetes >&2 )
  local tree="$KLB_CACHE/gopath/src/k8s.io/kubernetes"
  rm -rf "$KLB_CACHE/gopath"
  mkdir -p "$tree"
  log "unpacking kubernetes source"
  tar xzf "$src"/kubernetes_*.orig.tar.gz -C "$tree" --strip-components=1
  # v1.20 vendors reflect2 1.0.1, whose map iteration faults under Go >= 1.18 (the API server died on the
  # first custom resource it serialised); Debian's reflect2 1.0.2 is the upstream fix, same API.
  rsync -a --delete /usr/share/gocode/src/github.com/modern-go/reflect2/ "$tree/vendor/github.com/modern-go/reflect2/"
  for name in "${missing[@]}"; do
    log "building $name v$APISERVER_VERSION (about 5 minutes, once)"
    ( cd "$tree" && GOPATH="$KLB_CACHE/gopath" GOFLAGS=-mod=vendor CGO_ENABLED=0 GO111MODULE=auto \
        make WHAT="cmd/$name" >&2 )
    cp "$tree/_output/bin/$name" "$(kube_binary_path "$name").tmp"
    mv "$(kube_binary_path "$name").tmp" "$(kube_binary_path "$name")"
    log "cached $(kube_binary_path "$name")"
  done
  rm -rf "$KLB_CACHE/gopath"
  flock -u 9
}

# Where a built Kubernetes binary is cached.
kube_binary_path() {
  case "$1" in
    kube-apiserver) printf '%s\n' "$APISERVER_BIN" ;;
    *) printf '%s\n' "$KLB_CACHE/$1-v$APISERVER_VERSION-r2" ;;
  esac
}
KUBE_PROXY_BIN="$(kube_binary_path kube-proxy)"

ensure_apiserver() { ensure_kube_binaries kube-apiserver; }

# kube-proxy for the labs whose node namespaces run the real data plane (iptables mode).
ensure_kube_proxy() {
  ensure_packages iptables conntrack socat
  ensure_kube_binaries kube-proxy
}

# The release build of what ships (the image) and of what the controller bench measures: the toolchain's lld
# with packed relative relocations (RELR, glibc >= 2.36): a static PIE's 2.7 MB table of relative relocations
# shrinks to ~25 KB and is no longer read into memory at every start. And the code laid out by use: every
# function in a section of its own, those the controller runs first (scripts/lib/controller-layout.order.gz,
# made by scripts/layout), so the pages it touches are few (the kernel maps 64 KiB around each). Prints the
# `swift build` arguments; none (and a note) when the toolchain has no lld.
release_link_args() {
  local lld
  lld="$(dirname "$(readlink -f "$(command -v swiftc)")")/ld.lld"
  if [ ! -x "$lld" ]; then
    log "no ld.lld beside swiftc; linking with the default linker (without packed relocations)"
    return 0
  fi
  mkdir -p "$KLB_CACHE"
  local toolset="$KLB_CACHE/release-toolset.json"
  printf '{"schemaVersion": "1.0", "linker": {"path": "%s", "extraCLIOptions": ["-z", "pack-relative-relocs"]}}\n' \
    "$lld" >"$toolset.tmp"
  # Rewritten only when it changes: a newer toolset file makes SwiftPM rebuild everything.
  if cmp -s "$toolset.tmp" "$toolset"; then rm -f "$toolset.tmp"; else mv "$toolset.tmp" "$toolset"; fi
  printf '%s\n' --toolset "$toolset"
  # Only jemalloc's malloc_conf (CHeap) in the dynamic symbol table, not every Swift symbol: the dynamic loader
  # looks each shared library's symbols up in the executable first, which kept ~3 MiB of a 2.9 MB table resident.
  printf '%s\n' -Xlinker --no-export-dynamic -Xlinker --export-dynamic-symbol=malloc_conf
  # Segments aligned to 64 KiB, so the kernel loads the executable at a 64 KiB boundary: the page cache holds the file
  # in 64 KiB folios and a fault maps the whole folios its 64 KiB window meets; with the text 4 KiB off that boundary,
  # each window met two (25 pages resident per code fault instead of 16; text 12.4 -> 11.4 MiB at 10,000 Services).
  printf '%s\n' -Xlinker -z -Xlinker max-page-size=65536
  small_icu_link_args "$(dirname "$lld")"
  # KLB_LAYOUT_ORDER: another order than the committed one (scripts/layout's intermediate pass).
  local layout="${KLB_LAYOUT_ORDER:-$(dirname "${BASH_SOURCE[0]}")/controller-layout.order.gz}"
  [ -f "$layout" ] || return 0
  # Named by its content: a new layout changes the link command, so SwiftPM relinks.
  local order
  order="$KLB_CACHE/controller-layout-$(sha256sum "$layout" | cut -c1-16).order"
  [ -f "$order" ] || { gunzip -c "$layout" >"$order.tmp" && mv "$order.tmp" "$order"; }
  printf '%s\n' -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
    -Xlinker "--symbol-ordering-file=$order" -Xlinker --no-warn-symbol-ordering
}

# ICU's data with the root and English locales only (scripts/lib/icu-data.py says what is kept and why): an object
# with that data, and `--wrap` to point ICU's one reference to its data symbol at it, so the 34 MB archive member
# that defines the symbol is never pulled in (whatever the order of objects and archives on the link line).
# Prints the linker arguments; none (and a note) when the toolchain's ICU is not as expected.
small_icu_link_args() {
  local bin="$1" archive member symbol
  ensure_packages binutils python3
  archive="$bin/../lib/swift_static/linux/lib_FoundationICU.a"
  [ -f "$archive" ] || { log "no $archive; linking ICU's full data"; return 0; }
  member="$(ar t "$archive" | grep -x 'icu_packaged_data.*\.o' | head -n1)"
  [ -n "$member" ] || { log "no packaged data in $archive; linking ICU's full data"; return 0; }
  local work
  work="$(mktemp -d /tmp/klb-icu.XXXXXX)"
  ( cd "$work" && ar x "$archive" "$member" )
  symbol="$(nm "$work/$member" | awk '$2 == "R" && $3 ~ /^icudt[0-9]+_dat$/ { print $3 }')"
  if [ -z "$symbol" ]; then
    log "no icudtNN_dat in $archive($member); linking ICU's full data"; rm -rf "$work"; return 0
  fi
  local key object
  key="$( (sha256sum "$archive" "$(dirname "${BASH_SOURCE[0]}")/icu-data.py") | sha256sum | cut -c1-16)"
  object="$KLB_CACHE/${symbol%_dat}-small-$key-r2.o"
  if [ ! -s "$object" ]; then
    objcopy -O binary --only-section=.rodata "$work/$member" "$work/full.dat"
    python3 "$(dirname "${BASH_SOURCE[0]}")/icu-data.py" "$work/full.dat" "$work/small.dat"
    local wrapped="__wrap_$symbol"
    printf '%s\n' "  .section .rodata.$symbol,\"a\"" "  .globl $wrapped" "  .type $wrapped, @object" "  .balign 16" \
      "$wrapped:" "  .incbin \"$work/small.dat\"" "  .size $wrapped, . - $wrapped" >"$work/data.s"
    "$bin/clang" -c "$work/data.s" -o "$object.tmp" && mv "$object.tmp" "$object"
  fi
  rm -rf "$work"
  printf '%s\n' -Xlinker "$object" -Xlinker "--wrap=$symbol"
}
