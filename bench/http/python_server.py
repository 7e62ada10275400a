#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/http/python_server.py — the Python peers: HTTP/1.1 keep-alive hello-world servers on
asyncio, written as asyncio's documentation shows, in two styles:

  --style streams    asyncio.start_server + StreamReader.readuntil(b"\\r\\n\\r\\n") + drain()
  --style protocol   loop.create_server + a Protocol whose data_received answers every
                     complete request in the data (pipelined ones included)

and on two loops: asyncio's own (default) or uvloop (--uvloop; Debian's python3-uvloop, so
run it with /usr/bin/python3). Prints "listening on PORT" when ready.
"""
import argparse
import asyncio
import resource
import signal

RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 13\r\n\r\nHello, World!")


async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            # Answer a pipelined batch with one write, as the other peers do.
            while b"\r\n\r\n" in reader._buffer:  # noqa: SLF001 - no public peek
                await reader.readuntil(b"\r\n\r\n")
                writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


class HttpProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        if self.pending:
            data = self.pending + data
        complete = data.count(b"\r\n\r\n")
        self.pending = data[data.rfind(b"\r\n\r\n") + 4:] if complete else data
        if complete:
            self.transport.write(RESPONSE * complete)


async def main(args):
    loop = asyncio.get_running_loop()
    if args.style == "streams":
        server = await asyncio.start_server(handle, args.host, args.port, backlog=4096)
    else:
        server = await loop.create_server(HttpProtocol, args.host, args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--style", choices=["streams", "protocol"], default="streams")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main(args))
