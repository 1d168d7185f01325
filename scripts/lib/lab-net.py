#!/usr/bin/env python3
"""Small network tools the lab tests run inside network namespaces (`ip netns exec NS python3 lab-net.py ...`).

  serve PORT TEXT [--peer]   TCP server on every address (IPv4 and IPv6): answers TEXT (with "/CLIENT-ADDRESS" after --peer)
  ask HOST PORT [TIMEOUT]    one connection; prints the answer, exit 1 when none
  reachable HOST PORT [TIMEOUT]  prints yes or no: whether a connection opens
  spread HOST PORT COUNT     COUNT new connections; prints "ANSWER=N …" (failed ones as "failed")
  pinned HOST PORT SRCPORT SECONDS OUTPUT [NOT_FROM]  one flow from a fixed source port every 2 ms, written like
                             timeline-probe.py; stops at the first answer not starting with NOT_FROM
  ping HOST                  one ICMP echo (half a second); prints pong when answered
  probe HOST PORT SECONDS    connects every 10 ms; prints "OK FAIL ANSWERS" (answers comma-separated)
  http-ok URL                exit 0 when URL answers 2xx within a second
  echo PORT                  TCP echo server on every address, one thread per connection
  hold HOST PORT SECONDS     one connection kept for SECONDS, a line echoed every 20 ms; prints "survived LINES
                             LONGEST_MS" (exit 0) or "ERROR after LINES" (exit 1)
  stepped HOST PORT DIR      two connections to an echo server, in steps the test paces through files in DIR: "a"
                             on the first (then DIR/open), on "DIR/waiting" "b" on it and "c" on a new second (then
                             DIR/checked), on "DIR/adopted" what the first gets back; prints one line per step
"""
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request


def listener(port):
    # IPv4 and IPv6 on one socket where the namespace has IPv6.
    try:
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
    except OSError:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
    s.listen(128)
    return s


def echo(port):
    def serve_one(c):
        try:
            while data := c.recv(4096):
                c.sendall(data)
        except OSError:
            pass
        c.close()

    s = listener(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_one, args=(c,), daemon=True).start()


def hold(host, port, seconds):
    lines = 0
    longest = 0.0
    try:
        c = socket.create_connection((host, port), timeout=3)
        end = time.time() + seconds
        while time.time() < end:
            sent = time.time()
            c.sendall(b"x\n")
            if not c.recv(16):
                print("closed after %d" % lines)
                sys.exit(1)
            longest = max(longest, time.time() - sent)
            lines += 1
            time.sleep(0.02)
    except OSError as error:
        print("%s after %d" % (type(error).__name__, lines))
        sys.exit(1)
    print("survived %d %d" % (lines, longest * 1000))


def stepped(host, port, directory):
    def exchange(c, text, timeout):
        c.settimeout(timeout)
        try:
            if text:
                c.sendall(text.encode() + b"\n")
            return c.recv(64).decode().strip() or "closed"
        except socket.timeout:
            return "timeout"
        except OSError as error:
            return type(error).__name__

    def step(name):
        open("%s/%s" % (directory, name), "w").close()

    def await_step(name):
        end = time.time() + 30
        while not os.path.exists("%s/%s" % (directory, name)):
            if time.time() > end:
                sys.exit("no %s within 30 s" % name)
            time.sleep(0.01)

    first = socket.create_connection((host, port), timeout=3)
    print("first open", exchange(first, "a", 3), flush=True)
    step("open")
    await_step("waiting")
    print("first waiting", exchange(first, "b", 1), flush=True)
    try:
        second = socket.create_connection((host, port), timeout=3)
        print("second waiting", exchange(second, "c", 3), flush=True)
    except OSError as error:
        print("second waiting", type(error).__name__, flush=True)
    step("checked")
    await_step("adopted")
    print("first adopted", exchange(first, "", 10), flush=True)


def serve(port, text, peer):
    s = listener(port)
    while True:
        c, address = s.accept()
        # An IPv4 client is shown as itself, not as ::ffff:a.b.c.d.
        client = address[0].removeprefix("::ffff:")
        c.sendall((text + ("/" + client if peer else "")).encode())
        c.close()


def ask(host, port, timeout):
    try:
        c = socket.create_connection((host, port), timeout=timeout)
        print(c.recv(256).decode().strip())
        c.close()
    except OSError:
        sys.exit(1)


def spread(host, port, count):
    # New connections, each from its own source port: with an L4 multipath hash each may take another path.
    answers = {}
    for _ in range(count):
        try:
            c = socket.create_connection((host, port), timeout=1)
            text = c.recv(64).decode()
            c.close()
        except OSError:
            text = "failed"
        answers[text] = answers.get(text, 0) + 1
    print(" ".join("%s=%d" % item for item in sorted(answers.items())))


def pinned(host, port, source_port, seconds, output, not_from):
    # One flow, always from the same source port (so a multipath hash keeps it on one path), every 2 ms: writes
    # "TIME ok ANSWER" or "TIME fail" lines until an answer that does not start with NOT_FROM (exit 0).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = time.time() + seconds
    with open(output, "w", buffering=1) as out:
        while time.time() < end:
            attempt = time.time()
            c = socket.socket(family)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Reset on close: no TIME_WAIT holds the source port.
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.settimeout(0.05)
            try:
                c.bind(("", source_port))
                c.connect((host, port))
                text = c.recv(64).decode()
                out.write("%.6f ok %s\n" % (attempt, text))
                if not_from and not text.startswith(not_from):
                    sys.exit(0)
            except OSError:
                out.write("%.6f fail\n" % attempt)
            finally:
                c.close()
            time.sleep(0.002)
    sys.exit(1 if not_from else 0)


def reachable(host, port, timeout):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        print("yes")
    except OSError:
        print("no")


def checksum(body):
    total = sum(struct.unpack("!%dH" % (len(body) // 2), body[: len(body) // 2 * 2]))
    if len(body) % 2:
        total += body[-1] << 8
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.5)
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4B4C, 1) + b"klb"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    s.sendto(body, (host, 0))
    end = time.time() + 0.5
    try:
        while time.time() < end:
            data, address = s.recvfrom(256)
            if address[0] == host and data[20] == 0:
                print("pong")
                return
    except socket.timeout:
        pass


def probe(host, port, seconds):
    ok = fail = 0
    answers = set()
    end = time.time() + seconds
    stopped = []
    # SIGTERM ends the probe early, still printing its counts (a test probing "for as long as this takes").
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    while time.time() < end and not stopped:
        try:
            c = socket.create_connection((host, port), timeout=0.2)
            answers.add(c.recv(16).decode())
            c.close()
            ok += 1
        except OSError:
            fail += 1
        time.sleep(0.01)
    print(ok, fail, ",".join(sorted(answers)))


def http_ok(url):
    urllib.request.urlopen(url, timeout=1)


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "serve":
        serve(int(args[0]), args[1], "--peer" in args[2:])
    elif command == "ask":
        ask(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 0.5)
    elif command == "pinned":
        pinned(args[0], int(args[1]), int(args[2]), float(args[3]), args[4], args[5] if len(args) > 5 else "")
    elif command == "spread":
        spread(args[0], int(args[1]), int(args[2]))
    elif command == "reachable":
        reachable(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 0.5)
    elif command == "ping":
        ping(args[0])
    elif command == "probe":
        probe(args[0], int(args[1]), float(args[2]))
    elif command == "http-ok":
        http_ok(args[0])
    elif command == "echo":
        echo(int(args[0]))
    elif command == "hold":
        hold(args[0], int(args[1]), float(args[2]))
    elif command == "stepped":
        stepped(args[0], int(args[1]), args[2])
    else:
        sys.exit("lab-net.py: unknown command " + command)


if __name__ == "__main__":
    main(sys.argv)
