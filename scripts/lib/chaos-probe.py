"""Connects to every VIP:8080 from the client namespace every INTERVAL seconds for at most
DURATION seconds (or until SIGTERM) and writes one JSON line per outage, the first failed attempt
to the next success: {"vip": V, "start": T0, "end": T1, "error": first failure}, then per VIP {"vip": V, "ok": N, "fail": M,
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
        try:
            connection = socket.create_connection((vip, 8080), timeout=0.2)
            established = True
            connection.recv(16)
            connection.close()
            ok += 1
            if failing_since is not None:
                emit({"vip": vip, "start": failing_since, "end": attempt, "error": first_error})
                failing_since = None
        except OSError as error:
            fail += 1
            mac_after = neighbour(vip)
            # A reset reported by connect itself came after the handshake (a reset in SYN_SENT is a refusal,
            # ECONNREFUSED): established too, only faster than create_connection could return.
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
        emit({"vip": vip, "start": failing_since, "end": time.time(), "open": True, "error": first_error})
    emit({"vip": vip, "ok": ok, "fail": fail, "moves": moves, "reset_at_move": reset_at_move})


threads = [threading.Thread(target=probe, args=(vip,)) for vip in vips]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
