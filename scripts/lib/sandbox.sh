# A LoadBalancer sandbox on one machine, for scripts/demo (one cluster or the guide's three) and the image
# test: per cluster a real etcd + kube-apiserver (scripts/testenv), two nodes and a client as network
# namespaces on a bridge of their own, the controller and an agent with real keepalived per node.
# Components run as host processes (SB_MODE=host, the default) or from the OCI image (SB_MODE=image):
# then the controller runs in a namespace of its own like a pod, each agent in its node's namespace
# with only NET_ADMIN/NET_RAW, and both reach the API server through a bridge that
# forwards 127.0.0.1:PORT inside the namespace to the host's loopback over a Unix socket.
# Sourced after deps.sh, not executed. Everything it starts is recorded and stopped by sb_cleanup.

SB_MODE="${SB_MODE:-host}"
SB_IMAGE="${SB_IMAGE:-localhost/keepalived-lb:$(tr -d ' \n' <VERSION)}"
SB_ID="klbs$$"
SB_WORK=""
SB_PIDS=()
SB_CONTAINERS=()
SB_CLUSTERS=()
SB_STEP=""

sb_init() {
  SB_WORK="$(mktemp -d /tmp/klb-sandbox.XXXXXX)"
  trap 'sb_failed $LINENO' ERR
  trap sb_cleanup EXIT
  trap 'exit 130' INT TERM
}

sb_step() {
  SB_STEP="$*"
  printf '\n\033[1m== %s\033[0m\n' "$*"
}

sb_failed() {
  printf '\n%s: step "%s" failed (line %s); logs under %s until clean-up\n' "$(basename "$0")" "$SB_STEP" "$1" \
    "$SB_WORK" >&2
  local f
  for f in "$SB_WORK"/*/*.log; do
    [ -f "$f" ] || continue
    printf -- '--- last lines of %s\n' "${f#"$SB_WORK"/}" >&2
    tail -5 "$f" >&2
  done
}

sb_cleanup() {
  set +e
  trap - ERR
  local pid c name alive
  for c in "${SB_CONTAINERS[@]}"; do podman stop --time 5 "$c" >/dev/null 2>&1; done
  for c in "${SB_CONTAINERS[@]}"; do podman rm --force "$c" >/dev/null 2>&1; done
  for pid in "${SB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  # Agents hand over and remove their VIPs on SIGTERM; give them a moment before SIGKILL.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${SB_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${SB_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  for f in "$SB_WORK"/*/*/keepalived.pid; do
    [ -f "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null
  done
  for name in $(ip netns list | awk '{print $1}' | grep "^$SB_ID-"); do ip netns delete "$name"; done
  for name in "${SB_CLUSTERS[@]}"; do bash scripts/testenv down "$SB_ID-$name" >/dev/null 2>&1; done
  rm -rf "$SB_WORK"
  log "cleaned up"
}

# Runs a command in the background as a recorded child (stopped by sb_cleanup).
sb_spawn() {
  "$@" &
  SB_PIDS+=($!)
}

# sb_cluster NAME NET: a control plane and the namespaces NAME-node-1, NAME-node-2, NAME-client on
# NET.0/24 (a documentation range: NET is e.g. 192.0.2). Node objects carry their InternalIP; each node
# answers HTTP on 8080 with its cluster and node name, standing in for kube-proxy and the pods.
sb_cluster() {
  local cluster="$1" net="$2" dir="$SB_WORK/$1" i=0 node ns addr sw
  mkdir -p "$dir"
  SB_CLUSTERS+=("$cluster")
  bash scripts/testenv up "$SB_ID-$cluster" | grep '^export ' >"$dir/env"
  sb_env "$cluster"
  echo "$net" >"$dir/net"
  sw="$SB_ID-$cluster-sw"
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  for node in node-1 node-2 client; do
    i=$((i + 1))
    ns="$SB_ID-$cluster-$node"
    addr="$net.1$i"
    [ "$node" = client ] && addr="$net.100"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add eth0 type veth peer name "v$i" netns "$sw"
    ip -n "$sw" link set "v$i" master br0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    [ "$node" = client ] && continue
    kubectl create -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata: {name: $node}
NODE
    # (kubectl >= 1.24 for --subresource)
    kubectl patch node "$node" --subresource=status --type=merge \
      -p "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$addr\"}]}}" >/dev/null
    sb_spawn ip netns exec "$ns" python3 -c "
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'Hello, world! (cluster $cluster, served by $node)\n'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()"
  done
}

# Exports KUBECONFIG (admin) and KLB_* for CLUSTER in the current shell.
sb_env() {
  # shellcheck disable=SC1090
  source "$SB_WORK/$1/env"
}

sb_api_port() { local s; s="$(cat "$KLB_TESTENV_DIR/server")"; echo "${s##*:}"; }

# In-cluster credentials for a ServiceAccount, as a kubelet mounts them: a token from the TokenRequest
# API (so RBAC applies exactly as on a cluster), the API server's CA and the namespace.
sb_service_account_dir() {
  local cluster="$1" namespace="$2" account="$3" dir="$SB_WORK/$1/sa-$3"
  mkdir -p "$dir"
  # No kube-controller-manager here makes the `default` accounts: create what is missing.
  kubectl -n "$namespace" get serviceaccount "$account" >/dev/null 2>&1 ||
    kubectl -n "$namespace" create serviceaccount "$account" >/dev/null
  kubectl create -n "$namespace" --raw "/api/v1/namespaces/$namespace/serviceaccounts/$account/token" \
    -f - <<<'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["token"], end="")' >"$dir/token"
  cp "$KLB_TESTENV_DIR/certs/apiserver.crt" "$dir/ca.crt"
  printf '%s' "$namespace" >"$dir/namespace"
  chmod 0755 "$dir"
  chmod 0644 "$dir"/*
  echo "$dir"
}

# Makes the API server reachable at 127.0.0.1:PORT inside namespace NS (its certificate names 127.0.0.1).
sb_api_bridge() {
  local cluster="$1" ns="$2" port sock="$SB_WORK/$1/api.sock"
  port="$(sb_api_port)"
  if [ ! -S "$sock" ]; then
    sb_spawn socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:127.0.0.1:$port"
    for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.05; done
  fi
  sb_spawn ip netns exec "$ns" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$sock"
}

sb_in_cluster_env() { # prints podman -e arguments for the in-cluster API address
  echo "-e KUBERNETES_SERVICE_HOST=127.0.0.1 -e KUBERNETES_SERVICE_PORT=$(sb_api_port)"
}

# sb_controller CLUSTER ARGS...: the controller of CLUSTER with ARGS (after the connection flags).
sb_controller() {
  local cluster="$1"; shift
  local dir="$SB_WORK/$cluster" name ns sa
  case "$SB_MODE" in
    host)
      sb_spawn "$SB_BIN/keepalived-cloud-provider" --kubeconfig "$KUBECONFIG" \
        --metrics-bind-address 127.0.0.1:0 --health-bind-address 0 "$@" >"$dir/controller.log" 2>&1 ;;
    image)
      ns="$SB_ID-$cluster-ctl"
      ip netns list | grep -q "^$ns\b" || { ip netns add "$ns"; ip -n "$ns" link set lo up; sb_api_bridge "$cluster" "$ns"; }
      sa="$(sb_service_account_dir "$cluster" kube-system keepalived-cloud-provider)"
      name="$SB_ID-$cluster-controller-$RANDOM"
      SB_CONTAINERS+=("$name")
      # As the Deployment runs it: read-only root, uid 65532, no capabilities, no privilege escalation.
      # shellcheck disable=SC2046
      podman run -d --name "$name" --network "ns:/run/netns/$ns" --read-only --user 65532:65532 \
        --cap-drop all --security-opt no-new-privileges \
        -v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" $(sb_in_cluster_env) \
        "$SB_IMAGE" keepalived-cloud-provider "$@" >/dev/null
      sb_spawn podman logs --follow "$name" >"$dir/controller.log" 2>&1 ;;
  esac
}

# sb_agent CLUSTER NODE ARGS...: the agent of NODE (unicast VRRP on eth0).
sb_agent() {
  local cluster="$1" node="$2"; shift 2
  local dir="$SB_WORK/$cluster" ns="$SB_ID-$cluster-$node" name sa
  mkdir -p "$dir/$node"
  case "$SB_MODE" in
    host)
      sb_spawn "$SB_BIN/keepalived-vip-agent" --kubeconfig "$KUBECONFIG" --node-name "$node" --netns "$ns" \
        --interface eth0 --unicast --state-dir "$dir/$node" --metrics-bind-address 0 --health-bind-address 0 "$@" \
        >"$dir/$node.log" 2>&1 ;;
    image)
      sb_api_bridge "$cluster" "$ns"
      sa="$(sb_service_account_dir "$cluster" kube-system keepalived-vip-agent)"
      name="$SB_ID-$cluster-$node-agent"
      SB_CONTAINERS+=("$name")
      # As the DaemonSet runs it: the node's network, root with only the capabilities deploy/base/agent.yaml adds.
      # shellcheck disable=SC2046
      podman run -d --name "$name" --network "ns:/run/netns/$ns" --read-only --user 0:0 \
        --cap-drop all $(sb_agent_capabilities) \
        --security-opt no-new-privileges --tmpfs /run/keepalived-vip-agent \
        -e NODE_NAME="$node" -v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" $(sb_in_cluster_env) \
        "$SB_IMAGE" keepalived-vip-agent --interface eth0 --unicast "$@" >/dev/null
      sb_spawn podman logs --follow "$name" >"$dir/$node.log" 2>&1 ;;
  esac
}

# `--cap-add X` for each capability the shipped DaemonSet adds (read from deploy/base/agent.yaml, so the two
# cannot drift).
sb_agent_capabilities() {
  local list
  list="$(sed -n 's/.*capabilities: {add: \[\(.*\)\], drop.*/\1/p' deploy/base/agent.yaml | tr -d '" ')"
  [ -n "$list" ] || { echo "sandbox: no capabilities found in deploy/base/agent.yaml" >&2; return 1; }
  local cap; for cap in ${list//,/ }; do printf -- '--cap-add %s ' "$cap"; done
}

# Creates the guide's hello-world Service in the current cluster and prints its EXTERNAL-IP once set.
sb_hello_world() {
  kubectl create -f - >/dev/null <<SVC
apiVersion: v1
kind: Service
metadata: {name: hello-world, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: hello-world}
  ports: [{port: 8080, targetPort: 8080}]
SVC
  sb_wait_ip hello-world
}

sb_wait_ip() {
  local svc="$1" vip=""
  for _ in $(seq 1 150); do
    vip="$(kubectl get svc "$svc" -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
    [ -n "$vip" ] && break
    sleep 0.2
  done
  [ -n "$vip" ] || { echo "Service $svc got no EXTERNAL-IP within 30 s" >&2; return 1; }
  echo "$vip"
}

# The nodes of CLUSTER that hold VIP on eth0.
sb_holder() {
  local node
  for node in node-1 node-2; do
    ip -n "$SB_ID-$1-$node" -br addr show eth0 | grep -qw "$2/32" && echo "$node"
  done
  return 0
}

# sb_reach CLUSTER VIP [SECONDS]: one HTTP GET through the VIP from the client namespace.
sb_reach() { ip netns exec "$SB_ID-$1-client" curl -sS --max-time "${3:-2}" "http://$2:8080/"; }

# Waits until exactly one node holds VIP and the client gets an answer through it.
sb_wait_served() {
  local cluster="$1" vip="$2"
  for _ in $(seq 1 150); do
    [ "$(sb_holder "$cluster" "$vip" | wc -l)" = 1 ] && sb_reach "$cluster" "$vip" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "VIP $vip of cluster $cluster is not served by exactly one node within 30 s (holders: $(sb_holder "$cluster" "$vip" | tr '\n' ' '))" >&2
  return 1
}
