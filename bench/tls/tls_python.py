#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/tls/tls_python.py — the Python peers of the TLS benchmark: the same server and clients
as tls_concur.cpp, in one process on one event loop (asyncio streams with ssl=), on asyncio's
own loop or on uvloop (--loop uvloop).

  tls_python.py --mode handshakes|bulk|https --seconds S --dir CERTDIR [--loop asyncio|uvloop]
prints the figure (handshakes/s, MiB/s or requests/s).
"""
import argparse
import asyncio
import ssl
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
CHUNK = 64 * 1024


async def serve(mode, reader, writer):
    try:
        if mode == "handshakes":
            writer.write(await reader.read(1))
        elif mode == "bulk":
            total = 0
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                total += len(data)
                if data.endswith(b"\n"):
                    break
            writer.write(b"%d\n" % total)
        else:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def run(mode, seconds, directory):
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(f"{directory}/server.pem", f"{directory}/server.key")
    cctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=f"{directory}/ca.pem")
    server = await asyncio.start_server(lambda r, w: serve(mode, r, w), "127.0.0.1", 0, ssl=sctx, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    start = time.monotonic()
    deadline = start + seconds
    done = 0

    async def connect():
        return await asyncio.open_connection("127.0.0.1", port, ssl=cctx, server_hostname="localhost")

    if mode == "handshakes":
        async def worker():
            nonlocal done
            while time.monotonic() < deadline:
                r, w = await connect()
                w.write(b"x")
                if await r.read(1) != b"x":
                    raise RuntimeError("bad echo")
                w.close()
                await w.wait_closed()
                done += 1
        await asyncio.gather(*(worker() for _ in range(8)))
        figure = done / (time.monotonic() - start)
    elif mode == "bulk":
        r, w = await connect()
        block = b"x" * CHUNK
        sent = 0
        while time.monotonic() < deadline:
            for _ in range(16):
                w.write(block)
                sent += len(block)
                await w.drain()
        w.write(b"\n")
        total = int(await r.readline())
        if total != sent + 1:
            raise RuntimeError("bytes lost")
        figure = sent / (1 << 20) / (time.monotonic() - start)
        w.close()
    else:
        # The clock starts once the 100 connections are open (their handshakes are not counted).
        go = asyncio.Event()
        ready = 0
        t0 = end = 0.0

        async def connection():
            nonlocal done, ready, t0, end
            r, w = await connect()
            ready += 1
            if ready == 100:
                t0 = time.monotonic()
                end = t0 + seconds
                go.set()
            await go.wait()
            while time.monotonic() < end:
                w.write(REQUEST)
                await r.readuntil(b"\r\n\r\n")
                await r.readexactly(13)
                done += 1
            w.close()
        await asyncio.gather(*(connection() for _ in range(100)))
        figure = done / (time.monotonic() - t0)
    server.close()
    return figure


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["handshakes", "bulk", "https"], default="handshakes")
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--dir", default=".")
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop
        uvloop.install()
    print("%.1f" % asyncio.run(run(a.mode, a.seconds, a.dir)))


if __name__ == "__main__":
    sys.exit(main())
