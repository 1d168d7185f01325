#!/usr/bin/env bash
# The shipped manifests on a real v1.20 cluster (scripts/cluster), run the way users run them (part of
# scripts/test): the image from scripts/image imported on every node, `kubectl apply -k` of an overlay of
# deploy/base (scripts/lib/cluster-lab), a hello Deployment behind a Cluster and a Local LoadBalancer Service,
# and a client on the nodes' LAN connecting to every VIP every 10 ms through each operation below. Prints one
# JSON line per check with its figures; exits non-zero naming the step that failed. Removes the cluster on any
# exit (--keep leaves it up for a look: scripts/cluster down klbtest).
#   scripts/lib/cluster-test.sh [--keep] [--quick]     --quick: up, apply, answers, agent rollout only
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"

keep=0 quick=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --quick) quick=1 ;;
    *) echo "cluster test: unknown argument \"$arg\"; allowed: --keep, --quick" >&2; exit 2 ;;
  esac
done
name="${KLB_CLUSTER_TEST_NAME:-klbtest}"
work="$(mktemp -d /tmp/klb-cluster-test.XXXXXX)"
probe_pid="" long_pid=""
cleanup() {
  local status=$?
  [ -z "$probe_pid" ] || kill "$probe_pid" 2>/dev/null || true
  [ -z "$long_pid" ] || kill "$long_pid" 2>/dev/null || true
  if [ "$status" != 0 ] && [ -n "${KUBECONFIG:-}" ]; then
    timeout 20 kubectl get pods -A -o wide >&2 2>&1 || true
  fi
  [ "$keep" = 1 ] || scripts/cluster down "$name" >&2 || true
  rm -rf "$work"
}
trap cleanup EXIT

check() { printf '{"check":"%s","ok":true%s}\n' "$1" "${2:+,$2}"; }
fail() { echo "cluster test: $*" >&2; exit 1; }
step() { log "$*"; }
source scripts/lib/cluster-lab.sh

# Connects to every VIP every 10 ms from the client until probe_stop, which sets per VIP (CLUSTER, LOCAL)
# PROBE_ATTEMPTS_X, PROBE_FAILED_X, PROBE_LONGEST_MS_X, PROBE_MOVES_X and PROBE_RESET_AT_MOVE_X (not in a
# subshell: only this shell can wait for the probe to write its counts).
probe_start() {
  # Not through in_client: $! must be the probe itself (ip netns exec execs it), not a subshell around it.
  ip netns exec "$KLB_CLUSTER_CLIENT_NS" python3 scripts/lib/chaos-probe.py "$VIPS" 0.01 3600 "$work/probe.jsonl" &
  probe_pid=$!
  # Long-lived connections (hello's echo port), reported beside the check: which survive the operation.
  rm -f "$work/long.jsonl"
  ip netns exec "$KLB_CLUSTER_CLIENT_NS" python3 scripts/lib/long-probe.py "$VIPS" 8090 4 "$work/long.jsonl" &
  long_pid=$!
  sleep 1
}
probe_stop() {
  kill "$probe_pid"
  # It ends by itself once every connection is lost.
  kill "$long_pid" 2>/dev/null || true
  wait "$probe_pid" || true
  wait "$long_pid" || true
  probe_pid="" long_pid=""
  # "survived/opened" per VIP, in the order given (the probe writes nothing if it could not run); on stderr, how and
  # when (UTC) each lost one went, to read beside the agents' logs.
  read -r LONG_CLUSTER LONG_LOCAL < <(python3 -c '
import json, os, sys
rows = {}
for line in open(sys.argv[1]) if os.path.exists(sys.argv[1]) else []:
    row = json.loads(line); rows[row["vip"]] = "%d/%d" % (row["survived"], row["opened"])
    if row["lost"]:
        print("long-lived connections to %s lost: %s" % (row["vip"], "; ".join(row["lost"])), file=sys.stderr)
print(" ".join(rows.get(vip, "none") for vip in sys.argv[2:]))
' "$work/long.jsonl" "$cluster_vip" "$local_vip" || echo "none none")
  # One line per VIP, in the order given: attempts, failed, longest outage in ms.
  {
    read -r PROBE_ATTEMPTS_CLUSTER PROBE_FAILED_CLUSTER PROBE_LONGEST_MS_CLUSTER PROBE_MOVES_CLUSTER \
      PROBE_RESET_AT_MOVE_CLUSTER
    read -r PROBE_ATTEMPTS_LOCAL PROBE_FAILED_LOCAL PROBE_LONGEST_MS_LOCAL PROBE_MOVES_LOCAL PROBE_RESET_AT_MOVE_LOCAL
  } < <(
    python3 - "$work/probe.jsonl" "$cluster_vip" "$local_vip" <<'PY'
import json, sys
vips = sys.argv[2:]
figures = {vip: [0, 0, 0.0, 0, 0] for vip in vips}
for line in open(sys.argv[1]):
    record = json.loads(line)
    vip = figures.get(record["vip"])
    if vip is None:
        continue
    if "ok" in record:
        vip[0] += record["ok"] + record["fail"]
        vip[1] += record["fail"]
        vip[3] += record["moves"]
        vip[4] += record["reset_at_move"]
    else:
        vip[2] = max(vip[2], record["end"] - record["start"])
for attempts, failed, longest, moves, reset_at_move in (figures[vip] for vip in vips):
    print(attempts, failed, round(longest * 1000), moves, reset_at_move)
PY
  )
  [ "${PROBE_ATTEMPTS_CLUSTER:-0}" -gt 0 ] && [ "${PROBE_ATTEMPTS_LOCAL:-0}" -gt 0 ] ||
    fail "the probe made no connection attempt (output: $(cat "$work/probe.jsonl"))"
}

# The probe's first outage records of the CLUSTER or LOCAL VIP, each with the error that began it.
outages() {
  local vip="$cluster_vip"
  [ "$1" = LOCAL ] && vip="$local_vip"
  grep -F "\"vip\": \"$vip\", \"start\"" "$work/probe.jsonl" | head -5 | tr '\n' ' '
}

# What each node's conntrack table holds for the client ports of the first failed connections to a VIP (CLUSTER or
# LOCAL), on stderr: which entry a failed connection met.
failed_entries() {
  local vip="$cluster_vip" port node
  [ "$1" = LOCAL ] && vip="$local_vip"
  for port in $(python3 -c '
import json, sys
ports = []
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row.get("vip") == sys.argv[2]: ports += row.get("ports", [])
print(" ".join(str(p) for p in ports[:4]))
' "$work/probe.jsonl" "$vip"); do
    for node in $KLB_CLUSTER_NODES; do
      echo "--- $node: conntrack entries of client port $port to $vip" >&2
      ip netns exec "$(ns_of "$node")" conntrack -L -p tcp --orig-port-src "$port" 2>/dev/null | grep -F "$vip" >&2 ||
        true
    done
  done
}

# Runs an operation under the probe. A maximum outage of 0: not one connection to that VIP may fail, but for those
# reset at a move (in flight when the VIP moved to a node whose conntrack has no entry for them; counted and
# reported); otherwise it may stay unanswered at most that long. The operation may print extra JSON fields for the
# check on stdout.
probed() { # check-name cluster-vip-max-outage-ms local-vip-max-outage-ms function
  local check_name="$1" start extra kind max attempts failed longest moves reset unexplained figures=""; shift 1
  local -A maxima=([CLUSTER]="$1" [LOCAL]="$2"); shift 2
  # KLB_CLUSTER_TEST_FROM=CHECK: skip the operations before CHECK (iterating on one, with --keep).
  if [ -n "${KLB_CLUSTER_TEST_FROM:-}" ]; then
    [ "$check_name" = "$KLB_CLUSTER_TEST_FROM" ] || { log "skipping $check_name"; return 0; }
    KLB_CLUSTER_TEST_FROM=""
  fi
  probe_start
  start=$SECONDS
  extra="$("$@")"
  sleep 2
  probe_stop
  for kind in CLUSTER LOCAL; do
    max="${maxima[$kind]}"
    attempts="PROBE_ATTEMPTS_$kind"; failed="PROBE_FAILED_$kind"; longest="PROBE_LONGEST_MS_$kind"
    moves="PROBE_MOVES_$kind"; reset="PROBE_RESET_AT_MOVE_$kind"
    # Failures that were not resets at a move, allowed or not: what their client ports met, for the log.
    unexplained=$((${!failed} - ${!reset}))
    [ "$unexplained" = 0 ] || failed_entries "$kind"
    if [ "$max" = 0 ]; then
      [ "$unexplained" = 0 ] ||
        fail "$check_name: $kind VIP: ${!failed} of ${!attempts} connections failed, ${!reset} of them reset at one" \
          "of ${!moves} moves (longest outage ${!longest} ms); the first outages: $(outages "$kind")"
    else
      [ "${!longest}" -le "$max" ] ||
        fail "$check_name: $kind VIP unanswered for ${!longest} ms (allowed $max; ${!failed} of ${!attempts} failed)"
    fi
    figures+="\"${kind,,}\":{\"attempts\":${!attempts},\"failed\":${!failed},\"reset_at_move\":${!reset},"
    figures+="\"moves\":${!moves},\"longest_outage_ms\":${!longest}},"
  done
  figures+="\"long_lived_survived\":{\"cluster\":\"$LONG_CLUSTER\",\"local\":\"$LONG_LOCAL\"},"
  check "$check_name" "$figures\"seconds\":$((SECONDS - start))${extra:+,$extra}"
  # KLB_CLUSTER_TEST_UNTIL=CHECK: stop after CHECK (with --keep: the cluster as that check left it).
  [ "$check_name" != "${KLB_CLUSTER_TEST_UNTIL:-}" ] || exit 0
}

# Processes named NAME in a node's network namespace (host-network pods share it).
node_processes() { # node name
  local pid
  for pid in $(ip netns pids "$(ns_of "$1")"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
  done
  return 0
}
moved_from() { [ -n "$(holder "$1")" ] && [ "$(holder "$1")" != "$2" ]; }
held_by() { [ "$(holder "$1")" = "$2" ]; }

leader_pod() { kc -n kube-system get lease keepalived-cloud-provider -o jsonpath='{.spec.holderIdentity}' | cut -d_ -f1; }

step "the image and a 3-node cluster"
# A cluster left by a killed run is not reused (unless iterating on one check).
[ -n "${KLB_CLUSTER_TEST_FROM:-}" ] || scripts/cluster down "$name" >&2
lab_up 3
size_mib="$(podman image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.1f", $1 / 1048576 }')"
# The target is 60 MiB (203 with the whole Debian base, 104.7 with Debian's keepalived and ICU's full data).
awk -v s="$size_mib" 'BEGIN { exit !(s <= 60) }' || fail "the image is $size_mib MiB (more than 60)"
podman run --rm --network none --entrypoint /usr/local/bin/keepalived-lb "$image" keepalived-vip-agent --version \
  >/dev/null || fail "the agent does not start in the image"
container="$(podman create "$image")"
listed="$(podman cp "$container:/usr/share/keepalived-lb/packages.txt" - | tar -xO)"
podman rm "$container" >/dev/null
# libsystemd0 comes only with Debian's conntrackd (built with systemd notify support); keepalived is built without.
grep -q '^keepalived 1:2.* VRRP only' <<<"$listed" && grep -q '^nftables ' <<<"$listed" &&
  grep -q '^bird2 ' <<<"$listed" && grep -q '^conntrackd ' <<<"$listed" && grep -q '^conntrack ' <<<"$listed" &&
  ! grep -q -E '^(perl|libperl|libsnmp|libglib)' <<<"$listed" ||
  fail "the package list in the image is wrong: $listed"
bird="$(podman run --rm --network none --entrypoint /usr/sbin/bird "$image" --version 2>&1)" ||
  fail "BIRD does not run in the image: $bird"
check image_small_with_package_list "\"size_mib\":$size_mib,\"packages\":$(grep -c . <<<"$listed"),\"bird\":\"${bird##* }\""

# The upgrade README documents, run by a kubelet: the predecessor's own Deployment (scripts/lib/fixtures) with only
# the image swapped, over what the predecessor left: the default ServiceAccount bound to cluster-admin (it shipped
# no RBAC), two Services with the addresses it handed out, its ConfigMap with the ledger annotation. Then README's
# patch of image and liveness probe, as printed there. No agents run yet: the predecessor's pool (198.51.100.64/26)
# is allocated from, never put on an interface. Everything is removed before deploy/base goes on.
predecessor_dropin() {
  local start=$SECONDS entry svc ip method uid ledger="" pod fresh now data want patch
  kc create clusterrolebinding predecessor-default --clusterrole=cluster-admin \
    --serviceaccount=kube-system:default >/dev/null
  for entry in "legacy-a 198.51.100.90 NAT" "legacy-b 198.51.100.80 DR"; do
    read -r svc ip method <<<"$entry"
    kc create service loadbalancer "$svc" --tcp=8080:8080 >/dev/null
    kc patch service "$svc" --subresource=status --type=merge \
      -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$ip\"}]}}}" >/dev/null
    uid="$(kc get svc "$svc" -o jsonpath='{.metadata.uid}')"
    ledger+="${ledger:+,}{\"uid\":\"$uid\",\"ip\":\"$ip\",\"serviceNamespace\":\"default\",\"serviceName\":\"$svc\""
    ledger+=",\"forwardMethod\":\"$method\"}"
  done
  kc create -n kube-system -f - >/dev/null <<CM
apiVersion: v1
kind: ConfigMap
metadata:
  name: vip-configmap
  namespace: kube-system
  annotations:
    k8s.co/cloud-provider-config: '{"services":[$ledger]}'
data:
  198.51.100.90: default/legacy-a
  198.51.100.80: default/legacy-b:DR
CM
  sed "s#localhost/keepalived-lb:latest#$IMAGE_NAME:$(image_release)#" scripts/lib/fixtures/predecessor-deployment.yaml |
    kc apply -f - >/dev/null
  kc -n kube-system rollout status deploy/keepalived-cloud-provider --timeout=110s >&2
  pod="$(kc -n kube-system get pods -l app=keepalived-cloud-provider -o jsonpath='{.items[0].metadata.name}')"
  [ -z "$(kc -n kube-system get pod "$pod" -o jsonpath='{.spec.containers[0].command}{.spec.containers[0].args}')" ] ||
    fail "the predecessor's pod must run with neither command nor args"
  kc create service loadbalancer fresh --tcp=8080:8080 >/dev/null
  wait_for 60 "an address for the Service fresh" eval \
    '[ -n "$(kc get svc fresh -o jsonpath="{.status.loadBalancer.ingress[0].ip}")" ]' || exit 1
  fresh="$(kc get svc fresh -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
  for entry in "legacy-a 198.51.100.90" "legacy-b 198.51.100.80"; do
    read -r svc ip <<<"$entry"
    now="$(kc get svc "$svc" -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
    [ "$now" = "$ip" ] || fail "$svc had $ip from the predecessor and now has \"$now\""
    [[ "$(kc get svc "$svc" -o jsonpath='{.metadata.finalizers}')" == *load-balancer-cleanup* ]] ||
      fail "$svc was not taken over (no finalizer)"
  done
  case "$fresh" in 198.51.100.90|198.51.100.80|"") fail "the new Service got \"$fresh\", an address already held" ;; esac
  data="$(kc -n kube-system get cm vip-configmap -o jsonpath='{.data}')"
  for want in '"198.51.100.90":"default/legacy-a:NAT"' '"198.51.100.80":"default/legacy-b:DR"' "\"$fresh\":\"default/fresh\""; do
    [[ "$data" == *"$want"* ]] || fail "the ConfigMap's data lacks $want: $data"
  done
  # README: the predecessor's liveness probe (127.0.0.1:10252, kube-controller-manager's old port) fails here...
  wait_for 60 "the predecessor's liveness probe to fail as README says" eval \
    'kc -n kube-system get events --field-selector "involvedObject.name=$pod,reason=Unhealthy" -o name | grep -q .' ||
    exit 1
  # ...and its patch, run as printed there with our image, leaves a pod the kubelet keeps.
  patch="$(awk '/kubectl -n kube-system patch deployment keepalived-cloud-provider --type json/ { f = 1 }
    f { print } f && /]'"'"'$/ { exit }' README.md)"
  [ -n "$patch" ] || fail "README.md no longer holds the patch of the predecessor's Deployment"
  patch="$(sed -E "s#REGISTRY/keepalived-lb:[0-9.]+#$IMAGE_NAME:$(image_release)#; s#^ *kubectl #kc #" <<<"$patch")"
  eval "$patch" >/dev/null
  kc -n kube-system rollout status deploy/keepalived-cloud-provider --timeout=110s >&2
  wait_for 60 "the predecessor's first pod to go" eval \
    '[ "$(kc -n kube-system get pods -l app=keepalived-cloud-provider -o name | wc -l)" = 1 ]' || exit 1
  pod="$(kc -n kube-system get pods -l app=keepalived-cloud-provider -o jsonpath='{.items[0].metadata.name}')"
  # Three probe periods of 10 s.
  sleep 30
  [ -z "$(kc -n kube-system get events --field-selector "involvedObject.name=$pod,reason=Unhealthy" -o name)" ] &&
    [ "$(kc -n kube-system get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ] ||
    fail "after README's patch the pod $pod still fails its liveness probe"
  [ "$(kc get svc legacy-a -o jsonpath='{.status.loadBalancer.ingress[0].ip}')" = 198.51.100.90 ] ||
    fail "legacy-a lost its address across README's patch"
  check predecessor_dropin_keeps_addresses \
    "\"kept\":[\"198.51.100.90\",\"198.51.100.80\"],\"new\":\"$fresh\",\"seconds\":$((SECONDS - start))"
  # Gone before deploy/base: the Services first, while a controller still runs to release them.
  kc delete svc legacy-a legacy-b fresh --wait=true >/dev/null
  kc -n kube-system delete deploy keepalived-cloud-provider --wait=true >/dev/null
  kc -n kube-system wait --for=delete pod -l app=keepalived-cloud-provider --timeout=60s >/dev/null 2>&1 || true
  kc -n kube-system delete cm vip-configmap >/dev/null
  kc delete clusterrolebinding predecessor-default >/dev/null
}
[ -n "${KLB_CLUSTER_TEST_FROM:-}" ] || { step "drop-in: the predecessor's Deployment, image swapped"; predecessor_dropin; }

step "deploy/base through the lab overlay; the controller and the agents become Ready"
start=$SECONDS
lab_apply
for account in keepalived-cloud-provider keepalived-vip-agent; do
  kc -n kube-system get pods -o jsonpath='{.items[*].spec.serviceAccountName}' | grep -qw "$account" ||
    fail "no pod runs under the service account $account"
done
check manifests_ready "\"seconds\":$((SECONDS - start)),\"nodes\":3"

# The privileges the kernel enforces on the running processes, as the manifests claim them (SECURITY.md).
container_pid() { # namespace pod: the host pid of the pod's first container, from its node's containerd
  local node id
  node="$(kc -n "$1" get pod "$2" -o jsonpath='{.spec.nodeName}')"
  id="$(kc -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')"
  ctr --address "$KLB_CLUSTER_DIR/n${node##*-n}/containerd.sock" -n k8s.io tasks ls |
    awk -v id="${id#containerd://}" '$1 == id { print $2 }'
}
privileges() { # pid: "uid effective-capabilities no-new-privs seccomp-mode root-mount-options"
  local status="/proc/$1/status"
  printf '%s %s %s %s %s\n' "$(awk '/^Uid:/ { print $3 }' "$status")" "$(awk '/^CapEff:/ { print $2 }' "$status")" \
    "$(awk '/^NoNewPrivs:/ { print $2 }' "$status")" "$(awk '/^Seccomp:/ { print $2 }' "$status")" \
    "$(awk '$5 == "/" { print $6 }' "/proc/$1/mountinfo" | tail -n1 | cut -d, -f1)"
}
privileges_as_claimed() {
  local pod pid seen want keepalived=0
  for pod in $(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-cloud-provider -o jsonpath='{.items[*].metadata.name}'); do
    pid="$(container_pid kube-system "$pod")"
    seen="$(privileges "$pid")"
    # uid 65532, no capability, no privilege gain, seccomp filter (2), read-only root.
    want="65532 0000000000000000 1 2 ro"
    [ "$seen" = "$want" ] || fail "controller $pod (pid $pid) runs with \"$seen\", not \"$want\""
  done
  for pod in $(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent -o jsonpath='{.items[*].metadata.name}'); do
    pid="$(container_pid kube-system "$pod")"
    # root with only NET_ADMIN and NET_RAW (bits 12, 13), and the keepalived it starts no more than that.
    want="0 0000000000003000 1 2 ro"
    seen="$(privileges "$pid")"
    [ "$seen" = "$want" ] || fail "agent $pod (pid $pid) runs with \"$seen\", not \"$want\""
    for pid in $(node_processes "$(kc -n kube-system get pod "$pod" -o jsonpath='{.spec.nodeName}')" keepalived); do
      seen="$(privileges "$pid")"
      [ "$seen" = "$want" ] || fail "keepalived of $pod (pid $pid) runs with \"$seen\", not \"$want\""
      keepalived=$((keepalived + 1))
    done
  done
  [ "$keepalived" -ge 3 ] || fail "found $keepalived keepalived processes on the 3 agents' nodes"
  check privileges_as_claimed "\"controller\":\"uid 65532, no capabilities\",\"agent\":\"uid 0, NET_ADMIN+NET_RAW\""
}

step "hello behind a Cluster and a Local LoadBalancer Service"
lab_hello
VIPS="$cluster_vip,$local_vip"
read -r served_by _ seen_client <<<"$(ask "$local_vip")"
endpoint_nodes="$(kc get pods -l app=hello -o jsonpath='{.items[*].spec.nodeName}')"
local_holder="$(holder "$local_vip")"
grep -qw "$local_holder" <<<"$endpoint_nodes" ||
  fail "the Local VIP $local_vip is on $local_holder, which has no hello pod (pods on: $endpoint_nodes)"
[ "$served_by" = "$local_holder" ] && [ "$seen_client" = 192.0.2.250 ] ||
  fail "through the Local VIP: served by $served_by (holder $local_holder), the pod saw $seen_client, not 192.0.2.250"
check hello_answers "\"cluster_vip\":\"$cluster_vip\",\"local_vip\":\"$local_vip\",\"local_holder\":\"$local_holder\",\"client_seen\":\"$seen_client\""

# The kubectl plugin in the image, run inside the controller's pod under its account: address, pool, node.
plugin_sees() {
  local pod
  pod="$(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-cloud-provider -o jsonpath='{.items[0].metadata.name}')"
  kc -n kube-system exec "$pod" -- /usr/local/bin/kubectl-keepalived status -o json | python3 -c '
import json, sys
report = json.load(sys.stdin)
row = next(r for r in report["services"] if r["name"] == "hello-cluster")
assert row["addresses"] == [sys.argv[1]] and row["announcedBy"] == [sys.argv[2]] and not row["problems"], row
' "$cluster_vip" "$(holder "$cluster_vip")"
}
wait_for 30 "kubectl-keepalived status to show $cluster_vip on $(holder "$cluster_vip")" plugin_sees || exit 1
check plugin_status_in_cluster
# Once the hello Services give every agent instances to run keepalived for.
privileges_as_claimed

# Waits for the agent DaemonSet's rollout (three nodes take about 75 s: grace, start, keepalived's first report,
# minReadySeconds). If it does not finish, prints what the unready agent pods say, so a failed run can be read.
rollout_finishes() {
  local pod
  timeout 160 kubectl -n kube-system rollout status ds/keepalived-vip-agent --timeout=150s >&2 && return 0
  # A pod can be ready and not yet available (minReadySeconds): its age and restarts say which.
  kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent -o wide >&2 || true
  for pod in $(kc -n kube-system get pods -l app.kubernetes.io/name=keepalived-vip-agent \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.containerStatuses[0].ready}{" "}{end}'); do
    [ "${pod#*=}" != true ] || continue
    pod="${pod%%=*}"
    echo "--- $pod, not ready: its events and the last of its log" >&2
    kc -n kube-system describe pod "$pod" | sed -n '/^Events:/,$p' >&2 || true
    kc -n kube-system logs "$pod" --tail=80 >&2 || true
  done
  return 1
}

agent_rollout_restart() {
  kc -n kube-system rollout restart ds/keepalived-vip-agent >&2
  rollout_finishes || fail "the agent rollout did not finish"
}
probed agent_rollout_restart 0 0 agent_rollout_restart
[ "$quick" = 1 ] && exit 0

agent_image_change() {
  kc -n kube-system set image ds/keepalived-vip-agent "agent=$IMAGE_NAME:lab-update" >&2
  rollout_finishes || fail "the agent image change did not finish"
}
probed agent_image_change 0 0 agent_image_change

# One hello pod: only its node may hold the Local VIP, and the rollout stops that node's agent too. The agent holds
# such a VIP itself (keepalived clears its own VIPs when it starts), so it never leaves the node.
step "a Local Service with one pod: its VIP stays on that node through an agent rollout"
# The nodes of the hello pods not being deleted: a terminating pod is no endpoint any more (a CI run once saw one
# stay Terminating for over 60 s, its 5 s grace long past, on a busy machine).
serving_nodes() {
  kc get pods -l app=hello -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.spec.nodeName}}
{{end}}{{end}}'
}
one_pod() { [ "$(serving_nodes | grep -c .)" = 1 ]; }
kc scale deploy/hello --replicas 1 >/dev/null
wait_for 60 "one hello pod" one_pod ||
  fail "hello did not scale down to one pod in 60 s: $(kc get pods -l app=hello -o wide --no-headers | tr -s ' \n' ' ;')" \
    "events: $(kc get events --field-selector involvedObject.kind=Pod --no-headers 2>/dev/null | tail -n 8 | tr -s ' \n' ' ;')"
sole_node="$(serving_nodes | head -n 1)"
wait_for 30 "$local_vip on $sole_node" held_by "$local_vip" "$sole_node" ||
  fail "the Local VIP did not settle on $sole_node, the node of its one pod: held by '$(holder "$local_vip")'"
sole_holder_rollout() {
  local polls=0 absent=0
  rm -f "$work/stop-polling"
  # Which node holds the VIP, as often as `ip` allows (about every 50 ms over three nodes).
  (
    while [ ! -e "$work/stop-polling" ]; do
      polls=$((polls + 1))
      [ "$(holder "$local_vip")" = "$sole_node" ] || absent=$((absent + 1))
      sleep 0.02
    done
    echo "$polls $absent" >"$work/polls"
  ) >/dev/null 2>&1 &
  # Not holding this function's stdout: `probed` reads it to the end, which would wait for the poller forever.
  local poller=$!
  kc -n kube-system rollout restart ds/keepalived-vip-agent >&2
  if ! rollout_finishes; then
    touch "$work/stop-polling"
    wait "$poller" || true
    fail "the agent rollout did not finish"
  fi
  touch "$work/stop-polling"
  wait "$poller"
  read -r polls absent <"$work/polls"
  [ "$absent" = 0 ] || fail "the one-pod Local VIP was off $sole_node in $absent of $polls polls during the rollout"
  printf '"node":"%s","polls":%s,"vip_absent_polls":%s' "$sole_node" "$polls" "$absent"
}
probed sole_holder_agent_rollout 0 0 sole_holder_rollout
kc scale deploy/hello --replicas 2 >/dev/null
kc rollout status deploy/hello --timeout=110s >/dev/null || fail "hello did not scale back to two pods"
wait_for 30 "answers through both VIPs" eval 'ask "$cluster_vip" && ask "$local_vip"' ||
  fail "after scaling hello back to two pods the VIPs did not answer"

step "controller: a rollout and the leader's pod deleted keep every address"
before="$(addresses)"
controller_rollout() {
  kc -n kube-system rollout restart deploy/keepalived-cloud-provider >&2
  kc -n kube-system rollout status deploy/keepalived-cloud-provider --timeout=115s >&2
}
probed controller_rollout 0 0 controller_rollout
[ "$(addresses)" = "$before" ] || fail "after the controller rollout the addresses are $(addresses), not $before"
leader_pod_deleted() {
  local leader
  leader="$(leader_pod)"
  kc -n kube-system delete pod "$leader" --wait=true >&2
  wait_for 60 "a new leader after $leader" eval '[ -n "$(leader_pod)" ] && [ "$(leader_pod)" != "$leader" ]' || exit 1
  kc -n kube-system rollout status deploy/keepalived-cloud-provider --timeout=115s >&2
  printf '"old_leader":"%s","new_leader":"%s"' "$leader" "$(leader_pod)"
}
probed leader_pod_deleted 0 0 leader_pod_deleted
[ "$(addresses)" = "$before" ] || fail "after the leader's pod was deleted the addresses are $(addresses), not $before"

step "the exclusion label set at runtime, then a drain: the VIPs leave first"
exclusion_label() {
  local node
  node="$(holder "$cluster_vip")"
  kc label node "$node" node.kubernetes.io/exclude-from-external-load-balancers=true >&2
  wait_for 30 "$cluster_vip to leave $node" moved_from "$cluster_vip" "$node" || exit 1
  kc label node "$node" node.kubernetes.io/exclude-from-external-load-balancers- >&2
  printf '"node":"%s","to":"%s"' "$node" "$(holder "$cluster_vip")"
}
probed exclusion_label_at_runtime 0 0 exclusion_label
drain() {
  local node
  node="$(holder "$local_vip")"
  kc drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=110s >&2
  kc rollout status deploy/hello --timeout=110s >&2
  wait_for 30 "$local_vip to leave $node" moved_from "$local_vip" "$node" || exit 1
  kc uncordon "$node" >&2
  printf '"node":"%s","local_vip_to":"%s"' "$node" "$(holder "$local_vip")"
}
# kube-proxy 1.20 drops a Local Service's traffic on a node whose only local endpoint is terminating (1.26+ sends
# it there while it still serves): the Local VIP may miss connections while it moves (placement target: ≤ 1 s).
# A drain that also evicts the controller's leader moves the Local VIP only once a standby leads (its next try,
# every 2 s by default): 1,693 ms in one CI run (session 31), so 3 s then.
drain_local_max=1000
[ "$(kc -n kube-system get pod "$(leader_pod)" -o jsonpath='{.spec.nodeName}' 2>/dev/null)" != \
  "$(holder "$local_vip")" ] || drain_local_max=3000
probed drain_local_holder 0 "$drain_local_max" drain

step "keepalived killed inside an agent pod"
keepalived_killed() {
  local node pid
  node="$(holder "$cluster_vip")"
  local killed restarted
  killed="$(date +%s%N)"
  for pid in $(node_processes "$node" keepalived); do kill -9 "$pid" 2>/dev/null || true; done
  wait_for 60 "keepalived to run again on $node" eval '[ -n "$(node_processes "$node" keepalived)" ]' || exit 1
  restarted="$(date +%s%N)"
  wait_for 60 "$cluster_vip back on $node" held_by "$cluster_vip" "$node" || exit 1
  printf '"node":"%s","keepalived_back_ms":%s' "$node" "$(((restarted - killed) / 1000000))"
}
probed keepalived_killed 1000 1000 keepalived_killed

step "--keep-connections: long-lived connections through an agent rollout"
# Switched on as an operator would (a patch of the DaemonSet's arguments; that rollout still resets what is open:
# the old agents sync nothing), then a rollout under it; long_lived_survived says how many of the four connections
# through each VIP survived (RELIABILITY.md "Keeping connections across a move"). Reported, not yet judged: 2 of 4
# survived in the one run with a working image (0 without the flag). New connections may wait one retransmission
# (a handshake in flight at a move; 1 in 5,702 in one run, 211 ms), hence 1 s allowed, not 0.
keep_connections_on() {
  kc -n kube-system patch ds/keepalived-vip-agent --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--keep-connections"}]' >&2
  rollout_finishes || fail "the rollout that switched --keep-connections on did not finish"
}
# Switching on is itself a rollout from agents that do not sync yet: a request in flight at one of its moves may
# time out (seen: 1 of 6,560, 211 ms), so an outage is allowed here and not in the rollout under the flag.
probed keep_connections_switched_on 1000 1000 keep_connections_on
# Under the flag a new Local connection timed out about once per rollout (1 of 6,634 and of 7,430, 211 ms): one
# whose client port a stale entry of another node's had; 1 in eight rollouts since those are deleted (session 28). The
# Cluster VIP, none in eight runs, timed out 12 of 6,112 in one CI run (two stretches, the longest 421 ms; cause not
# found yet, RELIABILITY.md): 1 s allowed, and failed_entries prints the entries those ports met whenever any fails.
# The long-lived connections are reported, not judged: 4/4 in five runs from keep_connections_switched_on after a
# pod's answer waits for its VIP's adoption (session 31), but 1/4 in the whole test in CI (RELIABILITY.md).
probed keep_connections_agent_rollout 1000 1000 agent_rollout_restart

step "a node's kubelet, containerd and agent killed together, and the node off the LAN"
# Its hello pod moves away first: traffic kube-proxy sends to a dead node's pod is not the VIP's gap to measure.
victim="$(holder "$cluster_vip")"
kc cordon "$victim" >&2
kc delete pod -l app=hello --field-selector "spec.nodeName=$victim" >&2
kc rollout status deploy/hello --timeout=110s >&2
wait_for 30 "$local_vip to leave $victim" eval '! grep -qw "$victim" <<<"$(holder "$local_vip")"' || exit 1
node_killed() {
  local i pid
  i="${victim##*-n}"
  for pid in $(cat "$KLB_CLUSTER_DIR/n$i/kubelet.pid" "$KLB_CLUSTER_DIR/n$i/containerd.pid") \
    $(node_processes "$victim" keepalived-vip-) $(node_processes "$victim" keepalived); do
    kill -9 "$pid" 2>/dev/null || true
  done
  # A dead node answers nothing: without this the VIPs keepalived left on its eth0 would go on serving.
  ip -n "$(ns_of "$victim")" link set eth0 down
  wait_for 30 "$cluster_vip to leave $victim" moved_from "$cluster_vip" "$victim" || exit 1
  printf '"node":"%s","to":"%s"' "$victim" "$(holder "$cluster_vip")"
}
# The VRRP failover window: three missed 200 ms adverts plus skew (RELIABILITY.md, scripts/chaos).
probed node_killed 1000 1000 node_killed
