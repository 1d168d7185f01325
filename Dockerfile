# keepalived-lb: the controller, the node agent and the kubectl plugin, with keepalived, libnl and jemalloc.
# Built by scripts/image (podman, no Docker daemon): the executables are release builds with the Swift standard
# library linked statically, copied in from the build context's bin/; the base is Debian bookworm (minbase).
ARG BASE=localhost/klb-debian-base:bookworm-2
FROM ${BASE}

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="keepalived-lb" \
      org.opencontainers.image.description="Bare-metal LoadBalancer provider for Kubernetes: controller and keepalived VRRP node agent" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0"

# keepalived for VRRP; the shared libraries the executable links (libnl for netlink, jemalloc as the
# allocator, libstdc++ and zlib for the static Swift runtime); CA certificates for kubeconfigs that name
# a public CA (in a pod the service account's CA is mounted); nftables for the agent's VIP firewall. Debian's
# keepalived links net-snmp, which links libperl; perl's own modules (18 MB) are never loaded and go.
RUN apt-get update \
 && apt-get install -y --no-install-recommends keepalived libnl-3-200 libnl-route-3-200 libjemalloc2 \
      libstdc++6 zlib1g ca-certificates nftables \
 && dpkg --purge --force-depends perl-modules-5.36 \
 && keepalived --version 2>&1 | head -n1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
 && mkdir -p /run/keepalived-vip-agent

# One multi-call binary (one copy of the static Swift runtime), linked under the names of its commands.
COPY bin/keepalived-lb /usr/local/bin/keepalived-lb
RUN for name in keepalived-cloud-provider keepalived-vip-agent kubectl-keepalived; do \
      ln -s keepalived-lb "/usr/local/bin/$name"; \
    done

# Non-root by default (the controller needs nothing else); the agent's DaemonSet runs it as root with only
# NET_ADMIN and NET_RAW, which keepalived, netlink and nftables need.
USER 65532:65532

# The predecessor's image ran its controller with no arguments: an unchanged Deployment keeps working.
CMD ["keepalived-cloud-provider"]
