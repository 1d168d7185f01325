# The lab cluster as scripts/lib/cluster-test.sh and `scripts/demo --cluster` set it up: the image from
# scripts/image on a scripts/cluster cluster, deploy/base through scripts/lib/cluster-lab, and the hello Services.
# Sourced from the repository's root (it sources deps.sh, image.sh and processes.sh); its functions read $name
# (the cluster's name). Defines fail() if the caller has not.
source scripts/lib/deps.sh
source scripts/lib/image.sh
source scripts/lib/processes.sh

declare -F fail >/dev/null || fail() { echo "$(basename "$0"): $*" >&2; exit 1; }
kc() { timeout 120 kubectl "$@"; }
in_client() { ip netns exec "$KLB_CLUSTER_CLIENT_NS" "$@"; }

# Builds the image, brings up a cluster of NODES nodes (or reuses a running one) and imports the image on every
# node, also as :lab-update (a second tag, for an image change of the DaemonSet). Exports the cluster's
# environment (scripts/cluster env) and sets $image.
lab_up() { # nodes
  local built
  # The tag scripts/image printed: the version it built, even if the tree changed meanwhile.
  built="$(bash scripts/image --no-archive | tail -n1)"
  podman_setup
  image="$IMAGE_NAME:$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["image"].split(":", 1)[1])' "$built")"
  source <(scripts/cluster up "$name" --nodes "$1")
  podman tag "$image" "$IMAGE_NAME:lab-update"
  local tag
  for tag in "$(image_release)" lab-update; do scripts/cluster load "$name" "$IMAGE_NAME:$tag" >&2; done
}

# deploy/base through the lab overlay, until the controller Deployment and the agent DaemonSet are Ready.
lab_apply() {
  kc apply -k scripts/lib/cluster-lab >/dev/null
  kc -n kube-system rollout status deploy/keepalived-cloud-provider --timeout=110s >&2
  kc -n kube-system rollout status ds/keepalived-vip-agent --timeout=110s >&2
}

addresses() { kc get svc hello-cluster hello-local -o jsonpath='{.items[*].status.loadBalancer.ingress[*].ip}'; }

# One line from the hello server through ADDRESS: "<node> <pod> <client address the pod saw>".
ask() { in_client python3 scripts/lib/lab-net.py ask "$1" 8080 "${2:-1}"; } # address [timeout-seconds]

# The network namespace of NODE (scripts/cluster names them klbc-NAME-nI).
ns_of() { printf 'klbc-%s-n%s\n' "$name" "${1##*-n}"; }

# The node whose eth0 is up and holds ADDRESS (empty if none does; several if more than one does).
holder() {
  local node
  for node in $KLB_CLUSTER_NODES; do
    if ip -n "$(ns_of "$node")" -br addr show eth0 | grep " UP " | grep -q " $1/"; then printf '%s ' "$node"; fi
  done | sed 's/ $//'
}

# The hello Deployment behind a Cluster and a Local Service, until both VIPs answer the client; sets $cluster_vip
# and $local_vip.
lab_hello() {
  kc apply -f scripts/lib/cluster-hello.yaml >/dev/null
  kc rollout status deploy/hello --timeout=110s >&2
  wait_for 60 "an EXTERNAL-IP for both hello Services" eval '[ "$(addresses | wc -w)" = 2 ]' ||
    fail "the hello Services got no EXTERNAL-IP within 60 s: $(addresses)"
  read -r cluster_vip local_vip <<<"$(addresses)"
  wait_for 30 "answers through $cluster_vip and $local_vip" eval 'ask "$cluster_vip" && ask "$local_vip"' ||
    fail "the VIPs $cluster_vip and $local_vip did not answer the client within 30 s"
}
