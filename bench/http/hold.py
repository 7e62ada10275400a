#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/http/hold.py — opens N keep-alive connections to a server, makes one request on
each (so the server has accepted it and set it up), then holds them all open and idle and
prints "held N" until its stdin closes. run.sh reads the server's RSS meanwhile: the memory
of N idle connections.

  hold.py PORT N
"""
import resource
import selectors
import socket
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    sel = selectors.DefaultSelector()
    done = 0
    # Connect in batches so the server's listen backlog never overflows.
    for start in range(0, count, 500):
        batch = []
        for _ in range(min(500, count - start)):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(REQUEST)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
            batch.append(s)
        socks.extend(batch)
        pending = len(batch)
        while pending:
            for key, _ in sel.select(timeout=30):
                data = key.fileobj.recv(4096)
                if not data:
                    sys.exit(f"hold.py: server closed a connection")
                key.data.extend(data)
                if key.data.endswith(b"Hello, World!"):
                    sel.unregister(key.fileobj)
                    pending -= 1
                    done += 1
    print(f"held {done}", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
