"""Connects to every VIP:8080 from the client namespace every INTERVAL seconds for at most
DURATION seconds (or until SIGTERM) and writes one JSON line per outage, the first failed attempt
to the next success: {"vip": V, "start": T0, "end": T1, "error": first failure, "ports": the client ports of
its failed attempts (at most 20)}, then per VIP {"vip": V, "ok": N, "fail": M,
"moves": K, "reset_at_move": R}. A move is a change of the VIP's MAC address in this namespace's ARP
table; a reset at a move is a connection that was established and then reset while the MAC changed under
it: the new holder has no conntrack state for a connection the old one translated, so a Service that
masquerades (externalTrafficPolicy Cluster) or whose new node has other pods (Local) loses the few
connections in flight at that instant. Those are counted among "fail" too.
Usage: chaos-probe.py VIPS(comma list) INTERVAL DURATION OUTPUT"""
import json
import signal
import socket
import sys
import threading
import time

vips = [v for v in sys.argv[1].split(",") if v]
interval, duration, output = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
lock = threading.Lock()
out = open(output, "w", buffering=1)


def emit(record):
    with lock:
        out.write(json.dumps(record) + "\n")


def neighbour(vip):
    """The MAC address this namespace's ARP table has for VIP (None for none, or an IPv6 VIP)."""
    try:
        with open("/proc/net/arp") as table:
            for line in table:
                fields = line.split()
                # Flags 0x2: complete; an incomplete entry has no address yet.
                if fields and fields[0] == vip and int(fields[2], 16) & 0x2:
                    return fields[3]
    except (OSError, ValueError, IndexError):
        pass
    return None


def probe(vip):
    failing_since = None
    first_error = ""
    # The client ports of the outage's failed attempts: which conntrack entries to look for on the nodes.
    ports = []
    ok = fail = moves = reset_at_move = 0
    last_mac = None
    end = time.time() + duration
    while not stop.is_set() and time.time() < end:
        attempt = time.time()
        mac_before = neighbour(vip)
        if mac_before not in (None, last_mac) and last_mac is not None:
            moves += 1
        last_mac = mac_before or last_mac
        established = False
        connection = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_STREAM)
        try:
            connection.settimeout(0.2)
            connection.connect((vip, 8080))
            established = True
            connection.recv(16)
            connection.close()
            ok += 1
            if failing_since is not None:
                emit({"vip": vip, "start": failing_since, "end": attempt, "error": first_error, "ports": ports})
                failing_since = None
                ports = []
        except OSError as error:
            fail += 1
            try:
                # Bound by connect even when it failed; 0 when it never got that far.
                port = connection.getsockname()[1]
            except OSError:
                port = 0
            connection.close()
            if port and len(ports) < 20:
                ports.append(port)
            mac_after = neighbour(vip)
            # A reset reported by connect itself came after the handshake (a reset in SYN_SENT is a refusal,
            # ECONNREFUSED): established too, only faster than connect could return.
            established = established or isinstance(error, ConnectionResetError)
            moved = None not in (mac_before, mac_after) and mac_after != mac_before
            if established and moved:
                reset_at_move += 1
            if failing_since is None:
                failing_since = attempt
                # What the first failure of a stretch was, to tell a reset from a refusal or a timeout.
                first_error = "%s%s%s" % (
                    type(error).__name__,
                    " once established" if established else "",
                    " as the VIP moved" if moved else "",
                )
        stop.wait(interval)
    if failing_since is not None:
        emit({"vip": vip, "start": failing_since, "end": time.time(), "open": True, "error": first_error, "ports": ports})
    emit({"vip": vip, "ok": ok, "fail": fail, "moves": moves, "reset_at_move": reset_at_move})


threads = [threading.Thread(target=probe, args=(vip,)) for vip in vips]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
