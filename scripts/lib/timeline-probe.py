"""Connects to VIP:8080 every 2 ms (50 ms timeout) and records what the client saw.
Usage: timeline-probe.py VIP SECONDS OUTPUT [UNTIL [GO_FILE]]
Writes "TIME ok NODE" or "TIME fail" per attempt (epoch seconds). With UNTIL, stops at the first
answer from that node ("any": from any node); exits 1 if none came within SECONDS. With GO_FILE,
starts connecting only once that file exists (as a client that learnt the address from the
Service's status)."""
import os
import socket
import sys
import time

vip, seconds, output = sys.argv[1], float(sys.argv[2]), sys.argv[3]
until = sys.argv[4] if len(sys.argv) > 4 else None
go = sys.argv[5] if len(sys.argv) > 5 else None
end = time.time() + seconds
while go is not None and not os.path.exists(go) and time.time() < end:
    time.sleep(0.001)
with open(output, "w", buffering=1) as out:
    while time.time() < end:
        attempt = time.time()
        try:
            connection = socket.create_connection((vip, 8080), timeout=0.05)
            node = connection.recv(64).decode()
            connection.close()
            out.write("%.6f ok %s\n" % (attempt, node))
            if until is not None and (until == "any" or until == node):
                sys.exit(0)
        except OSError:
            out.write("%.6f fail\n" % attempt)
        time.sleep(0.002)
sys.exit(1 if until is not None else 0)
