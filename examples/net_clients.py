#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real clients against the networking examples (CTest: example.http_server.clients,
example.chat_server.nc).

  net_clients.py http PATH/TO/http_server    ab, wrk, 10,000 keep-alive connections, malformed
                                             requests, then SIGINT: the server must exit 0
  net_clients.py chat PATH/TO/chat_server    two `nc` clients: a line from one reaches the other

Everything runs on 127.0.0.1 with a port the server picks (it prints it); every wait has a
deadline and nothing sleeps to synchronize. Exit status: 0 passed, 1 failed, 77 skipped (a
client tool is missing, or the open-file limit is too small for 10,000 connections; the other
checks still ran and passed).
"""

import errno
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77
HOST = "127.0.0.1"
CONNECTIONS = 10_000


class CheckFailed(Exception):
    pass


def check(condition, what):
    print(f"  [{'ok' if condition else 'FAILED'}] {what}", flush=True)
    if not condition:
        raise CheckFailed(what)


class LineReader:
    """Lines from a pipe (a child's stdout), each read with a deadline."""

    def __init__(self, pipe):
        self._fd = pipe.fileno()
        os.set_blocking(self._fd, False)
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)

    def fileno(self):
        return self._fd

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                raise CheckFailed(f"no line within {timeout} s (got {self._buffer!r})")
            self.fill()
        return self.buffered_line()

    def fill(self):
        """Reads what the pipe has now (call when it is readable)."""
        chunk = os.read(self._fd, 65536)
        if not chunk:
            raise CheckFailed(f"end of output before a full line (got {self._buffer!r})")
        self._buffer += chunk

    def buffered_line(self):
        """The next complete line already read, or None."""
        if b"\n" not in self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def close(self):
        self._selector.close()


def start(argv, port_pattern):
    """Starts a server; returns (process, its stdout reader, the port it printed)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    out = LineReader(proc.stdout)
    try:
        line = out.readline(timeout=30)
    except CheckFailed:
        proc.kill()
        proc.wait()
        raise
    match = re.search(port_pattern, line)
    if not match:
        proc.kill()
        proc.wait()
        raise CheckFailed(f"cannot find the port in {line!r}")
    print(f"  server: {line}", flush=True)
    return proc, out, int(match.group(1))


def stop(proc, name):
    """SIGINT, then the server must exit 0 promptly."""
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise CheckFailed(f"{name} did not exit within 20 s of SIGINT")
    check(code == 0, f"{name} exits 0 on SIGINT (got {code})")


def field(text, name):
    """The number after `name:` in ab's report, or None."""
    match = re.search(rf"^{re.escape(name)}:\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


# ---- http_server -----------------------------------------------------------------------------


def run_ab(port):
    url = f"http://{HOST}:{port}/"
    result = subprocess.run(["ab", "-k", "-q", "-s", "20", "-n", "2000", "-c", "50", url],
                            capture_output=True, text=True, timeout=120)
    out = result.stdout
    check(result.returncode == 0, f"ab -k -n 2000 -c 50 exits 0 ({result.stderr.strip()})")
    check(field(out, "Complete requests") == 2000, "ab: 2000 complete requests")
    check(field(out, "Failed requests") == 0, "ab: 0 failed requests")
    check(field(out, "Non-2xx responses") in (None, 0), "ab: no non-2xx response")
    check(field(out, "Keep-Alive requests") == 2000, "ab: every request on a kept-alive connection")


def run_wrk(port):
    url = f"http://{HOST}:{port}/"
    result = subprocess.run(["wrk", "-t1", "-c50", "-d1s", "--timeout", "10s", url],
                            capture_output=True, text=True, timeout=120)
    out = result.stdout
    check(result.returncode == 0, f"wrk -t1 -c50 -d1s exits 0 ({result.stderr.strip()})")
    match = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    check(match is not None and int(match.group(1)) > 0,
          f"wrk: requests completed ({match.group(1) if match else 'none'})")
    check("Socket errors" not in out, "wrk: no socket error")
    check("Non-2xx or 3xx responses" not in out, "wrk: no non-2xx response")


def raise_open_file_limit(needed):
    """Raises the soft RLIMIT_NOFILE to `needed`; False if the hard limit is below it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        return False
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return True
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return True


def many_keep_alive_connections(port, count, timeout=120):
    """Opens `count` connections, then sends one request on each, then reads every answer, all
    while every connection stays open; returns the number answered with 200."""
    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    socks = []
    try:
        # 1. Connect, at most 256 handshakes in flight (the listen backlog is not flooded).
        connecting = 0
        connected = 0
        while connected < count:
            while len(socks) < count and connecting < 256:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                socks.append(s)
                if s.connect_ex((HOST, port)) not in (0, errno.EINPROGRESS):
                    raise CheckFailed(f"connect failed for connection {len(socks)}")
                selector.register(s, selectors.EVENT_WRITE)
                connecting += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"only {connected} of {count} connections opened in {timeout} s")
            for key, _ in selector.select(min(left, 1.0)):
                s = key.fileobj
                selector.unregister(s)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    raise CheckFailed(f"connect failed: {os.strerror(err)}")
                connecting -= 1
                connected += 1
        print(f"  {count} connections open", flush=True)
        # 2. One request on each (a few dozen bytes: the socket takes them at once).
        for s in socks:
            if s.send(request) != len(request):
                raise CheckFailed("a request was not sent whole")
            selector.register(s, selectors.EVENT_READ, b"")
        # 3. Every answer, each connection still open.
        answered = 0
        pending = count
        while pending > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in selector.select(min(left, 1.0)):
                s = key.fileobj
                chunk = s.recv(4096)
                if not chunk:
                    raise CheckFailed("the server closed a keep-alive connection")
                data = key.data + chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"Content-Length: (\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    selector.unregister(s)
                    pending -= 1
                    if head.startswith(b"HTTP/1.1 200"):
                        answered += 1
                else:
                    selector.modify(s, selectors.EVENT_READ, data)
        # All still open: a last request on the first and the last connection is answered too.
        for s in (socks[0], socks[-1]):
            s.setblocking(True)
            s.settimeout(max(1.0, deadline - time.monotonic()))
            s.sendall(request)
            check(s.recv(4096).startswith(b"HTTP/1.1 200"), "a connection opened among 10,000 still answers")
        return answered
    finally:
        selector.close()
        for s in socks:
            s.close()


def raw_exchange(port, payload, timeout=20):
    """Sends `payload` on a new connection; returns what the server sends until it closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(payload)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break  # answered, then reset because the rest of our request was never read
            if not chunk:
                break
            received += chunk
        return received


def malformed_requests(port):
    cases = [
        (b"\x00\x01\x02 garbage\r\n\r\n", b"HTTP/1.1 400", "garbage gets 400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b"HTTP/1.1 431",
         "a header over the limit gets 431"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", b"HTTP/1.1 413",
         "a body over the limit gets 413"),
    ]
    for payload, status, what in cases:
        answer = raw_exchange(port, payload)
        check(answer.startswith(status), f"{what} (got {answer[:40]!r})")
    answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"Hello, World!"),
          "the server still answers after malformed requests")


def check_http(binary):
    missing = [tool for tool in ("ab", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"SKIP: {' and '.join(missing)} not installed (scripts/install-deps.sh installs them)")
        return SKIP
    # The server inherits the raised limit, and raises its own to the hard limit anyway.
    many_ok = raise_open_file_limit(CONNECTIONS + 200)
    proc, out, port = start([binary, "--host", HOST, "--port", "0"], r"listening on (?:[\d.]+:)?(\d+)")
    try:
        run_ab(port)
        run_wrk(port)
        if many_ok:
            answered = many_keep_alive_connections(port, CONNECTIONS)
            check(answered == CONNECTIONS, f"{CONNECTIONS} concurrent keep-alive connections all answered "
                  f"({answered})")
        malformed_requests(port)
        stop(proc, "http_server")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    if not many_ok:
        print(f"SKIP: the hard open-file limit ({resource.getrlimit(resource.RLIMIT_NOFILE)[1]}) is below "
              f"{CONNECTIONS + 200}: the {CONNECTIONS}-connection check did not run (the others passed)")
        return SKIP
    return 0


# ---- chat_server -----------------------------------------------------------------------------


class NetcatClient:
    def __init__(self, port):
        # -N: shut the socket down for writing at the end of stdin (the server reads EOF).
        self.proc = subprocess.Popen(["nc", "-N", HOST, str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.out = LineReader(self.proc.stdout)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, wanted, what):
        line = self.out.readline(timeout=20)
        check(line == wanted, f"{what} (got {line!r})")

    def finish(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise CheckFailed("nc did not exit after its stdin closed")
        finally:
            self.out.close()
            self.proc.stdout.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def first_line(readers, timeout):
    """(index, line): the first line that arrives on any of `readers`."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for i, r in enumerate(readers):
            selector.register(r.fileno(), selectors.EVENT_READ, i)
        while True:
            for i, r in enumerate(readers):
                line = r.buffered_line()
                if line is not None:
                    return i, line
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"no line within {timeout} s")
            for key, _ in selector.select(left):
                readers[key.data].fill()


def check_chat(binary):
    if shutil.which("nc") is None:
        print("SKIP: nc is not installed")
        return SKIP
    proc, out, port = start([binary, "--host", HOST, "--port", "0"], r"nc \S+ (\d+)")
    clients = []
    try:
        alice = NetcatClient(port)
        clients.append(alice)
        alice.expect("Welcome! Your name?", "nc client 1 is welcomed")
        alice.send("alice")
        bob = NetcatClient(port)
        clients.append(bob)
        bob.expect("Welcome! Your name?", "nc client 2 is welcomed")
        bob.send("bob")
        # The server reads the two names on two connections, in either order: whoever joined
        # first hears the other join (then both are in the room).
        who, line = first_line([alice.out, bob.out], timeout=20)
        check((who, line) in ((0, "* bob joined (2 here)"), (1, "* alice joined (2 here)")),
              f"the first to join hears the other join (client {who + 1} got {line!r})")
        bob.send("hello from bob")
        alice.expect("bob: hello from bob", "a line from client 2 arrives at client 1")
        alice.send("hi bob")
        bob.expect("alice: hi bob", "a line from client 1 arrives at client 2")
        bob.finish()
        alice.expect("* bob left", "client 1 hears client 2 leave")
        alice.finish()
        stop(proc, "chat_server")
    finally:
        for c in clients:
            c.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("http", "chat"):
        print(__doc__)
        return 2
    try:
        return check_http(sys.argv[2]) if sys.argv[1] == "http" else check_chat(sys.argv[2])
    except (CheckFailed, OSError, subprocess.SubprocessError) as e:
        print(f"FAILED: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
