# keepalived-lb: the controller, the node agent and the kubectl plugin, with keepalived, BIRD, nftables and
# conntrackd.
# Built by scripts/image (podman, no Docker daemon): the executable is a release build with the Swift standard
# library linked statically, copied in from the build context's bin/. Two stages: Debian bookworm (minbase)
# installs the packages, and the image gets only what runs: the three executables, the shared libraries they
# load (their ldd closure, so neither perl nor net-snmp's data comes along, only the libraries keepalived links),
# and the few files they read. keepalived is built from Debian's source with VRRP only (scripts/lib/image.sh,
# ensure_image_keepalived): it links libc alone, where Debian's binary brings net-snmp, perl, GLib and OpenSSL.
ARG BASE=localhost/klb-debian-base:bookworm-2
FROM ${BASE} AS packages

# nftables for the agent's VIP firewall, BIRD 2 for pools announced by BGP, conntrackd and conntrack for
# --keep-connections (netbase: /etc/protocols, without which conntrackd's "Protocol Accept { TCP }" matches nothing
# and it syncs no entry), and the libraries the Swift executable links (libnl for netlink, jemalloc as the
# allocator, libstdc++ and zlib for the static Swift runtime).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nftables bird2 conntrackd conntrack netbase libnl-3-200 \
      libnl-route-3-200 libjemalloc2 libstdc++6 zlib1g ca-certificates

# VRRP: keepalived as built by scripts/image, and the Debian source version it was built from.
ARG KEEPALIVED_VERSION=unknown
COPY bin/keepalived /usr/sbin/keepalived

# One multi-call binary (one copy of the static Swift runtime), linked under the names of its commands.
COPY bin/keepalived-lb /usr/local/bin/keepalived-lb

RUN set -eu; r=/rootfs; \
    mkdir -p "$r/usr/local/bin" "$r/usr/sbin" "$r/etc/ssl/certs" "$r/run/keepalived-vip-agent" "$r/tmp" \
      "$r/usr/share/keepalived-lb"; \
    chmod 1777 "$r/tmp"; \
    : > /tmp/files; \
    for exe in /usr/sbin/keepalived /usr/sbin/nft /usr/sbin/bird /usr/sbin/birdc /usr/sbin/conntrackd \
      /usr/sbin/conntrack /usr/local/bin/keepalived-lb; do \
      cp -a "$exe" "$r$exe"; echo "$exe" >> /tmp/files; \
      for lib in $(ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
        mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"; echo "$lib" >> /tmp/files; \
      done; \
    done; \
    for name in keepalived-cloud-provider keepalived-vip-agent kubectl-keepalived; do \
      ln -s keepalived-lb "$r/usr/local/bin/$name"; \
    done; \
    cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"; \
    for file in /etc/protocols /etc/services; do if [ -f "$file" ]; then cp "$file" "$r/etc/"; fi; done; \
    printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
      'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' > "$r/etc/passwd"; \
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' > "$r/etc/group"; \
    mkdir -p "$r/etc/ld.so.conf.d"; cp /etc/ld.so.conf "$r/etc/"; cp /etc/ld.so.conf.d/*.conf "$r/etc/ld.so.conf.d/"; \
    ldconfig -r "$r"; \
    for file in $(sort -u /tmp/files); do \
      dpkg -S "$file" 2>/dev/null || dpkg -S "$(readlink -f "$file")" 2>/dev/null || dpkg -S "/usr$file" 2>/dev/null \
        || true; \
    done | cut -d: -f1 | tr ',' '\n' | tr -d ' ' | { cat; echo ca-certificates; } | sort -u \
      | xargs dpkg-query -W -f '${Package} ${Version}\n' > "$r/usr/share/keepalived-lb/packages.txt"; \
    echo "keepalived ${KEEPALIVED_VERSION} (built from Debian's source: VRRP only, no SNMP, DBus or LVS)" \
      >> "$r/usr/share/keepalived-lb/packages.txt"; \
    echo "keepalived-lb $(/usr/local/bin/keepalived-lb keepalived-cloud-provider --version)" \
      >> "$r/usr/share/keepalived-lb/packages.txt"; \
    "$r/usr/sbin/keepalived" --version 2>&1 | head -n1

FROM scratch
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="keepalived-lb" \
      org.opencontainers.image.description="Bare-metal LoadBalancer provider for Kubernetes: controller and keepalived VRRP node agent" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=packages /rootfs /

# Non-root by default (the controller needs nothing else); the agent's DaemonSet runs it as root with only
# NET_ADMIN and NET_RAW, which keepalived, netlink and nftables need.
USER 65532:65532

# The predecessor's image ran its controller with no arguments: an unchanged Deployment keeps working.
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["keepalived-cloud-provider"]
