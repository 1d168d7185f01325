#!/usr/bin/env python3
"""A loopback TCP proxy that tests use to cut a client off from the API server and let it back.

    tcp-proxy.py TARGET_PORT      listens on a free 127.0.0.1 port, prints it, forwards to TARGET_PORT
    SIGUSR1: partition (close every connection, refuse new ones); SIGUSR2: heal.
"""
import os
import signal
import socket
import sys
import threading

# Drop descriptors inherited from the test process: Foundation's Process learns that a child
# exited when every copy of a bookkeeping pipe is closed, so an inherited copy here would make
# the test wait for this proxy instead of its own child.
os.closerange(3, 65536)

target = ("127.0.0.1", int(sys.argv[1]))
partitioned = threading.Event()
lock = threading.Lock()
open_sockets = set()


def close_all():
    with lock:
        for s in list(open_sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        open_sockets.clear()


def on_partition(signum, frame):
    partitioned.set()
    threading.Thread(target=close_all, daemon=True).start()


def on_heal(signum, frame):
    partitioned.clear()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    if partitioned.is_set():
        client.close()
        return
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    with lock:
        open_sockets.update((client, upstream))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


signal.signal(signal.SIGUSR1, on_partition)
signal.signal(signal.SIGUSR2, on_heal)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    serve(conn)
