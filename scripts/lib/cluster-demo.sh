#!/usr/bin/env bash
# `scripts/demo --cluster`: what a newcomer sees on a real Kubernetes v1.20 cluster (scripts/cluster, 3 nodes):
# the shipped manifests applied with `kubectl apply -k`, their pods, a hello Deployment behind a LoadBalancer
# Service with its EXTERNAL-IP, an answer through the VIP from a client on the nodes' LAN, and a failover when the
# agent pod on the VIP's node is deleted. Removes the cluster on exit (--keep leaves it: scripts/cluster down demo).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    *) echo "scripts/demo --cluster: unknown argument \"$arg\"; allowed: --keep" >&2; exit 2 ;;
  esac
done
name=demo
step() { printf '\n== %s\n' "$*"; }
fail() { echo "scripts/demo --cluster: $*" >&2; exit 1; }
source scripts/lib/cluster-lab.sh
cleanup() {
  local status=$?
  [ "$status" = 0 ] || echo "scripts/demo --cluster: failed (exit $status); removing the cluster" >&2
  if [ "$keep" = 1 ] && [ "$status" = 0 ]; then
    echo "the cluster stays up: source <(scripts/cluster env $name); scripts/cluster down $name when done"
  else
    scripts/cluster down "$name" >&2 || true
  fi
}
trap cleanup EXIT

step "a 3-node Kubernetes v1.20 cluster with the image on every node (first run: builds, several minutes)"
lab_up 3
kc get nodes -o wide

step "kubectl apply -k scripts/lib/cluster-lab (deploy/base, pool 192.0.2.192/27)"
lab_apply
kc -n kube-system get pods -o wide

step "a hello Deployment behind LoadBalancer Services (externalTrafficPolicy Cluster and Local)"
lab_hello
kc get pods -o wide
kc get svc hello-cluster hello-local
for vip in "$cluster_vip" "$local_vip"; do
  echo "from the client 192.0.2.250 through $vip (on $(holder "$vip")): $(ask "$vip")   [node pod client-seen]"
done
echo "(Cluster: kube-proxy may forward to the other node's pod and shows it the node's address; Local: the pod on"
echo " the VIP's node answers and sees the client's own address)"

step "failover: the agent pod on $(holder "$cluster_vip") deleted"
master="$(holder "$cluster_vip")"
agent="$(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent \
  --field-selector "spec.nodeName=$master" -o jsonpath='{.items[0].metadata.name}')"
start=$(date +%s%N)
kc -n kube-system delete pod "$agent" --wait=false >/dev/null
# Short attempts: a SYN lost while the VIP moves would otherwise wait out TCP's 1 s retransmission.
until now="$(holder "$cluster_vip")" && [ -n "$now" ] && [ "$now" != "$master" ] && ask "$cluster_vip" 0.2 >/dev/null 2>&1; do
  [ $(( ($(date +%s%N) - start) / 1000000000 )) -lt 60 ] || fail "$cluster_vip did not leave $master within 60 s"
  sleep 0.01
done
end=$(date +%s%N)
echo "$cluster_vip moved from $master to $now and answered after $(( (end - start) / 1000000 )) ms: $(ask "$cluster_vip")"
# The DaemonSet replaces the deleted pod: three agents Ready again, none terminating.
agents_back() {
  local pods
  pods="$(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent --no-headers)"
  [ "$(grep -c ' 1/1 *Running ' <<<"$pods")" = 3 ] && ! grep -q Terminating <<<"$pods"
}
wait_for 120 "three agents Ready again" agents_back || fail "the DaemonSet did not replace $agent within 120 s"
kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent -o wide
step "done"
