#!/usr/bin/env bash
# What keeps a TCP connection through a Cluster VIP alive when the VIP moves to another node (a research lab, not
# part of scripts/test). Two nodes translate like kube-proxy for a Cluster Service (DNAT to the pod, masquerade),
# a client holds one connection open through the VIP and sends a line every 20 ms, and the VIP moves from n1 to
# n2 mid-connection. Prints one JSON line per variant and pod placement (on the old holder n1, on the new n2):
# whether the connection survived, and the longest wait for an answer.
#   scripts/lib/handover-lab.sh
# Variants: plain (what the product does today); conntrackd (FTFW sync over multicast, the new holder commits its
# external cache before it takes the address); conntrackd_snat_vip (the same, with kube-proxy's masquerade
# pre-empted by an SNAT to the VIP, an address every holder has); handover (that, plus the steps in `run`).
# Network namespaces klbh-*, documentation ranges only: LAN 192.0.2.0/24, VIP 192.0.2.100, pods 198.51.100.0/24.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
source "$here/scripts/lib/deps.sh"
ensure_packages iptables nftables conntrack conntrackd python3

P=klbh
work="$(mktemp -d /tmp/klb-handover.XXXXXX)"
down() {
  local ns
  for ns in c n1 n2 p lan; do
    { ip netns pids "$P-$ns" 2>/dev/null || true; } | xargs -r kill -KILL
    ip netns delete "$P-$ns" 2>/dev/null || true
  done
}
trap 'down; rm -rf "$work"' EXIT

# pod_on: n1|n2; snat: masq|vip; guard: 0|1
up() {
  local pod_on="$1" snat="$2" guard="$3" other=n2 ns n
  [ "$pod_on" = n2 ] && other=n1
  local -A address=([n1]=192.0.2.11 [n2]=192.0.2.12)
  down
  for ns in c n1 n2 p lan; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
  ip -n "$P-lan" link add br0 type bridge
  ip -n "$P-lan" link set br0 up
  for ns in c n1 n2; do
    ip link add "$P-$ns-e" type veth peer name eth0 netns "$P-$ns"
    ip link set "$P-$ns-e" netns "$P-lan"
    ip -n "$P-lan" link set "$P-$ns-e" master br0 up
    ip -n "$P-$ns" link set eth0 up
  done
  ip -n "$P-c" addr add 192.0.2.250/24 dev eth0
  for n in n1 n2; do ip -n "$P-$n" addr add "${address[$n]}/24" dev eth0; done
  ip link add "$P-p-e" type veth peer name eth0 netns "$P-p"
  ip link set "$P-p-e" netns "$P-$pod_on"
  ip -n "$P-$pod_on" link set "$P-p-e" up
  ip -n "$P-$pod_on" addr add 198.51.100.1/24 dev "$P-p-e"
  ip -n "$P-p" link set eth0 up
  ip -n "$P-p" addr add 198.51.100.2/24 dev eth0
  ip -n "$P-p" route add default via 198.51.100.1
  ip -n "$P-$other" route add 198.51.100.0/24 via "${address[$pod_on]}"
  for n in n1 n2; do
    ip netns exec "$P-$n" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$P-$n" iptables -t nat -A PREROUTING -d 192.0.2.100 -p tcp --dport 80 \
      -j DNAT --to-destination 198.51.100.2:8080
    ip netns exec "$P-$n" iptables -t nat -A POSTROUTING -d 198.51.100.0/24 -m conntrack --ctstate DNAT -j MASQUERADE
    ip netns exec "$P-$n" iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
    # Before the masquerade (srcnat priority 100): the first NAT chain that binds an address wins.
    [ "$snat" = masq ] || ip netns exec "$P-$n" nft -f - <<'NFT'
table ip klbh {
  chain post { type nat hook postrouting priority 99; ct original ip daddr 192.0.2.100 snat ip to 192.0.2.100; }
}
NFT
    # A TCP packet to the VIP that is not a SYN and has no entry belongs to a flow another node translated: dropped
    # (the client sends it again) rather than picked up mid-stream as a new flow to a random endpoint.
    [ "$guard" = 0 ] || ip netns exec "$P-$n" nft -f - <<'NFT'
table ip klbh-midflow {
  chain pre { type filter hook prerouting priority -150; ip daddr 192.0.2.100 tcp flags & syn == 0 ct state new drop; }
}
NFT
  done
  ip -n "$P-n1" addr add 192.0.2.100/32 dev eth0
  # In a subshell of its own: this shell neither tracks nor reports it; `down` kills it with its namespace.
  (ip netns exec "$P-p" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen(8)
def serve(c):
    try:
        while (d := c.recv(100)): c.sendall(d)
    except OSError: pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' >/dev/null 2>&1 &)
}

# snat: with vip, entries whose original source is the VIP are left out: a node's transit entry for a flow another
# node translated, whose reply tuple is the translating node's, so the two could never both be committed.
conntrackd_up() {
  local snat="$1" n address ignore=""
  [ "$snat" = masq ] || ignore=" IPv4_address 192.0.2.100"
  for n in n1 n2; do
    address=192.0.2.11
    [ "$n" = n2 ] && address=192.0.2.12
    cat >"$work/$n.conf" <<EOF
Sync {
	Mode FTFW {
	}
	Multicast {
		IPv4_address 225.0.0.50
		Group 3780
		IPv4_interface $address
		Interface eth0
		Checksum on
	}
}
General {
	HashSize 8192
	HashLimit 65536
	LogFile $work/$n.log
	Syslog off
	LockFile $work/$n.lock
	UNIX { Path $work/$n.ctl }
	Filter From Userspace {
		Protocol Accept { TCP }
		Address Ignore { IPv4_address 127.0.0.1$ignore }
	}
}
EOF
    # A SIGKILLed conntrackd leaves its lock file, which stops the next one.
    rm -f "$work/$n.lock" "$work/$n.ctl"
    (ip netns exec "$P-$n" conntrackd -C "$work/$n.conf" >/dev/null 2>&1 &)
  done
  for n in n1 n2; do
    for _ in $(seq 50); do [ -S "$work/$n.ctl" ] && break; sleep 0.1; done
    [ -S "$work/$n.ctl" ] || { echo "conntrackd did not start in $P-$n: $(cat "$work/$n.log")" >&2; return 1; }
  done
}

# variant pod_on snat(masq|vip) sync(none|conntrackd) steps(move|handover)
#   move: the new holder commits what it learnt, then takes the address, as a notify script would.
#   handover: in keepalived's order (the address first, the agent's commit on MASTER), with the mid-flow guard on
#   every node, the new holder's transit entries deleted before its commit, and the old holder keeping its entries
#   for a second (until the commit has surely happened; its deletion reaches the peers) while it drops what the new
#   holder forwards to its pod from the VIP, which would otherwise clash with them.
run() {
  local name="$1" pod_on="$2" snat="$3" sync="$4" steps="$5" client mac result guard=0
  [ "$steps" = move ] || guard=1
  up "$pod_on" "$snat" "$guard"
  [ "$sync" = none ] || conntrackd_up "$snat"
  sleep 1
  ip netns exec "$P-c" python3 -c '
import socket, sys, time
s = socket.create_connection(("192.0.2.100", 80), timeout=3); n = 0; worst = 0.0; end = time.time() + 5
try:
    while time.time() < end:
        sent = time.time(); s.sendall(b"x\n")
        if not s.recv(10): print("closed after %d lines" % n); sys.exit(1)
        worst = max(worst, time.time() - sent); n += 1; time.sleep(0.02)
except OSError as e:
    print("%s after %d lines" % (type(e).__name__, n)); sys.exit(1)
print("%d lines, longest answer %d ms" % (n, worst * 1000))
' >"$work/client" 2>&1 &
  client=$!
  sleep 1.5
  mac="$(ip -n "$P-n2" -br link show eth0 | awk '{print $3}')"
  ip -n "$P-n1" addr del 192.0.2.100/32 dev eth0
  if [ "$steps" = move ]; then
    [ "$sync" = none ] || ip netns exec "$P-n2" conntrackd -C "$work/n2.conf" -c >/dev/null
    ip -n "$P-n2" addr add 192.0.2.100/32 dev eth0
    ip -n "$P-c" neigh replace 192.0.2.100 lladdr "$mac" dev eth0
  else
    ip netns exec "$P-n1" nft -f - <<'NFT'
table ip klbh-release {
  chain pre { type filter hook prerouting priority -150; iif "eth0" ip saddr 192.0.2.100 tcp flags & syn == 0 ct state new drop; }
}
NFT
    ip -n "$P-n2" addr add 192.0.2.100/32 dev eth0
    ip -n "$P-c" neigh replace 192.0.2.100 lladdr "$mac" dev eth0
    ip netns exec "$P-n2" conntrack -D --orig-src 192.0.2.100 >/dev/null 2>&1 || true
    ip netns exec "$P-n2" conntrackd -C "$work/n2.conf" -c >/dev/null
    sleep 1
    ip netns exec "$P-n1" conntrack -D --orig-dst 192.0.2.100 >/dev/null 2>&1 || true
    ip netns exec "$P-n1" nft delete table ip klbh-release
  fi
  if wait "$client"; then result=true; else result=false; fi
  printf '{"variant":"%s","pod_on":"%s","snat":"%s","sync":"%s","survived":%s,"client":"%s"}\n' \
    "$name" "$pod_on" "$snat" "$sync" "$result" "$(tr -d '\n"' <"$work/client")"
  down
}

for pod_on in n1 n2; do
  run plain "$pod_on" masq none move
  run conntrackd "$pod_on" masq conntrackd move
  run conntrackd_snat_vip "$pod_on" vip conntrackd move
  run handover "$pod_on" vip conntrackd handover
done
