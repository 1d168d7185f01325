"""Holds connections open through each VIP and says which survive (scripts/lib/cluster-test.sh).

    python3 long-probe.py VIP[,VIP...] PORT COUNT OUTPUT

Opens COUNT connections to every VIP's PORT (an echo server), sends a line on each every 100 ms and reads it back.
A connection is lost when it is reset or closed, or when an echo is 5 s late; lost ones are not reopened. On
SIGTERM writes one JSON line per VIP to OUTPUT: {"vip", "opened", "survived", "lost": [reason, ...]}.
"""

import json
import select
import signal
import socket
import sys
import time

INTERVAL = 0.1
LATE = 5.0


def main() -> None:
    vips, port, count, output = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    # socket -> [vip, bytes still expected, when the oldest unanswered line was sent]
    live: dict[socket.socket, list] = {}
    figures = {vip: {"vip": vip, "opened": 0, "survived": 0, "lost": []} for vip in vips}
    for vip in vips:
        for _ in range(count):
            try:
                connection = socket.create_connection((vip, port), timeout=3)
            except OSError as error:
                figures[vip]["lost"].append("connect: " + type(error).__name__)
                continue
            connection.setblocking(False)
            live[connection] = [vip, 0, None]
            figures[vip]["opened"] += 1

    def lose(connection: socket.socket, reason: str) -> None:
        vip = live.pop(connection)[0]
        now = time.time()
        figures[vip]["lost"].append(
            "%s after %.1f s (at %s.%03d)"
            % (reason, time.monotonic() - started, time.strftime("%H:%M:%S", time.gmtime(now)), now % 1 * 1000)
        )
        connection.close()

    started = time.monotonic()
    next_send = started
    while not stopping and live:
        now = time.monotonic()
        if now >= next_send:
            next_send = now + INTERVAL
            for connection, state in list(live.items()):
                try:
                    sent = connection.send(b"x\n")
                except BlockingIOError:
                    continue
                except OSError as error:
                    lose(connection, type(error).__name__)
                    continue
                # Only what left: a full send buffer (a stalled path) must not count as an echo owed.
                state[1] += sent
                state[2] = state[2] or now
        readable, _, _ = select.select(list(live), [], [], max(0.0, next_send - time.monotonic()))
        for connection in readable:
            try:
                data = connection.recv(4096)
            except OSError as error:
                lose(connection, type(error).__name__)
                continue
            if not data:
                lose(connection, "closed")
                continue
            state = live[connection]
            state[1] -= len(data)
            if state[1] <= 0:
                state[1], state[2] = 0, None
        for connection, state in list(live.items()):
            if state[2] is not None and time.monotonic() - state[2] > LATE:
                lose(connection, "no echo for %d s" % LATE)
    for connection, state in live.items():
        figures[state[0]]["survived"] += 1
    with open(output, "w") as out:
        for vip in vips:
            out.write(json.dumps(figures[vip]) + "\n")


main()
