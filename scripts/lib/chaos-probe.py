"""Connects to every VIP:8080 from the client namespace every INTERVAL seconds for at most
DURATION seconds (or until SIGTERM) and writes one JSON line per outage, the first failed attempt
to the next success: {"vip": V, "start": T0, "end": T1}, then per VIP {"vip": V, "ok": N, "fail": M}.
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


def probe(vip):
    failing_since = None
    ok = fail = 0
    end = time.time() + duration
    while not stop.is_set() and time.time() < end:
        attempt = time.time()
        try:
            connection = socket.create_connection((vip, 8080), timeout=0.2)
            connection.recv(16)
            connection.close()
            ok += 1
            if failing_since is not None:
                emit({"vip": vip, "start": failing_since, "end": attempt})
                failing_since = None
        except OSError:
            fail += 1
            if failing_since is None:
                failing_since = attempt
        stop.wait(interval)
    if failing_since is not None:
        emit({"vip": vip, "start": failing_since, "end": time.time(), "open": True})
    emit({"vip": vip, "ok": ok, "fail": fail})


threads = [threading.Thread(target=probe, args=(vip,)) for vip in vips]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
