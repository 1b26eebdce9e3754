#!/usr/bin/env python3
# One TCP stream over loopback between a pipe's two ends, for the tar
# baseline of bench/tree/run.sh: `tar c | relay.py | tar x` moves the tar
# stream through a real socket (connect, send, receive) the way `tar c |
# ssh host tar x` would, minus the encryption. A thread moves stdin into the
# socket and the main thread moves the socket into stdout, with splice(2)
# when stdin and stdout are pipes (no copy through Python), else 256 KiB
# reads and writes, like the mioftp client and server. Alone it moves about
# 1 GiB/s here, so it is not what limits the baseline.
import os
import shutil
import socket
import sys
import threading

BUF = 256 * 1024


def move(src, dst):
    """Copies fd src to fd dst until end of input."""
    try:
        while os.splice(src, dst, BUF) > 0:
            pass
        return
    except (AttributeError, OSError):
        pass  # not a pipe on either side, or no splice: plain copies
    with os.fdopen(src, "rb", closefd=False) as i, os.fdopen(dst, "wb", closefd=False) as o:
        shutil.copyfileobj(i, o, BUF)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(1)


def send():
    with socket.create_connection(listener.getsockname()) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        move(sys.stdin.fileno(), s.fileno())
        s.shutdown(socket.SHUT_WR)


sender = threading.Thread(target=send)
sender.start()
conn, _ = listener.accept()
with conn:
    move(conn.fileno(), sys.stdout.fileno())
sender.join()
