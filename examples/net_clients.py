#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real clients against the networking examples (CTest: example.http_server.clients,
example.chat_server.nc, example.*.abuse).

  net_clients.py http PATH/TO/http_server    ab, wrk, 10,000 keep-alive connections, malformed
                                             requests, then SIGINT: the server must exit 0
  net_clients.py chat PATH/TO/chat_server    two `nc` clients: a line from one reaches the other
  net_clients.py http-abuse PATH/TO/http_server  slowloris clients get 408 after the header
                                             timeout while others are served; idle and silent
                                             connections are closed; a client that never reads
                                             is dropped; past --max-connections clients get
                                             503, and are served again once others leave;
                                             --port 70000 is refused
  net_clients.py echo-abuse PATH/TO/echo_server  an over-long line: one error line back, one
                                             stderr line; --port 70000 is refused
  net_clients.py chat-abuse PATH/TO/chat_server  a member who never reads is disconnected, the
                                             room goes on; --port 70000 is refused

Everything runs on 127.0.0.1 with a port the server picks (it prints it); every wait has a
deadline and nothing sleeps to synchronize. Exit status: 0 passed, 1 failed, 77 skipped (a
client tool is missing, or the open-file limit is too small for 10,000 connections; the other
checks still ran and passed).
"""

import errno
import os
import re
import resource
import select
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


def start(argv, port_pattern, stderr=None):
    """Starts a server; returns (process, its stdout reader, the port it printed)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
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


# ---- abusive clients ---------------------------------------------------------------------------
# Each wait below has a generous deadline that only detects a failure; nothing waits for a time
# to pass to see what happened.

DEADLINE = 30  # seconds: far beyond any timeout the servers are given here


def wait_closed(sock, timeout=DEADLINE):
    """Reads `sock` until the server closes or resets it; returns (bytes received, seconds)."""
    start = time.monotonic()
    sock.setblocking(False)
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            left = start + timeout - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"the server did not close the connection within {timeout} s (got {received[:60]!r})")
            if not selector.select(left):
                continue
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                return received, time.monotonic() - start
            if not chunk:
                return received, time.monotonic() - start
            received += chunk


def wait_hangup(sock, timeout=DEADLINE):
    """Waits, without reading, until the server closes or resets `sock` (POLLHUP/POLLRDHUP/POLLERR)."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CheckFailed(f"the server did not drop a client that never reads within {timeout} s")
        if poller.poll(left * 1000):
            return


def http_get(port, keep=False):
    """One GET / on a new connection; returns (the answer's first line, the socket if `keep`)."""
    sock = socket.create_connection((HOST, port), timeout=DEADLINE)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    received = b""
    while not (b"\r\n\r\n" in received and (received.endswith(b"Hello, World!") or b"Connection: close" in received)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    status = received.split(b"\r\n", 1)[0].decode(errors="replace")
    if keep:
        return status, sock
    sock.close()
    return status, None


def refuses_port_70000(binary, name):
    result = subprocess.run([binary, "--port", "70000"], capture_output=True, text=True, timeout=DEADLINE,
                            stdin=subprocess.DEVNULL)
    check(result.returncode == 2 and "65535" in result.stderr,
          f"{name} --port 70000 is refused (exit {result.returncode}, {result.stderr.strip()!r})")


def slow_clients_are_closed(port, header_timeout, count=20):
    """`count` slowloris clients trickle a header byte at a time; a normal client is served
    meanwhile; each slow one gets 408 and is closed, no sooner than the header timeout."""
    opened = time.monotonic()
    slow = [socket.create_connection((HOST, port), timeout=DEADLINE) for _ in range(count)]
    trickle = b"X-Slow: " + b"a" * 10000
    for s in slow:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        s.setblocking(False)
    status, _ = http_get(port)
    check(status == "HTTP/1.1 200 OK", f"a normal client is served while {count} slow clients trickle ({status!r})")
    answers = {}
    sent = 0
    with selectors.DefaultSelector() as selector:
        for s in slow:
            selector.register(s, selectors.EVENT_READ, b"")
        deadline = opened + DEADLINE
        while len(answers) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"only {len(answers)} of {count} slow clients were closed within {DEADLINE} s")
            for key, _ in selector.select(min(left, 0.05)):
                try:
                    chunk = key.fileobj.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    selector.modify(key.fileobj, selectors.EVENT_READ, key.data + chunk)
                else:
                    selector.unregister(key.fileobj)
                    answers[key.fileobj] = (key.data, time.monotonic() - opened)
            # One more header byte from each slow client still open (the pace of the trickle,
            # not a wait for anything).
            if sent < len(trickle):
                for s in slow:
                    if s not in answers:
                        try:
                            s.send(trickle[sent:sent + 1])
                        except OSError:
                            pass  # closed meanwhile: its answer is being read
                sent += 1
    for s in slow:
        s.close()
    statuses = [data.split(b"\r\n", 1)[0] for data, _ in answers.values()]
    check(all(st == b"HTTP/1.1 408 Request Timeout" for st in statuses),
          f"every slow client gets 408 ({sorted(set(statuses))})")
    earliest = min(elapsed for _, elapsed in answers.values())
    check(earliest >= header_timeout, f"none is closed before the header timeout ({earliest:.3f} s >= {header_timeout} s)")


def idle_clients_are_closed(port, header_timeout, idle_timeout):
    # Times are measured from before the request is sent (before the connection is made):
    # the server's idle (header) timeout starts after that, whatever the machine's load.
    sent_at = time.monotonic()
    status, sock = http_get(port, keep=True)
    check(status == "HTTP/1.1 200 OK", "a keep-alive client is answered")
    received, _ = wait_closed(sock)
    elapsed = time.monotonic() - sent_at
    sock.close()
    check(received == b"" and elapsed >= idle_timeout,
          f"an idle keep-alive connection is closed silently after the idle timeout ({elapsed:.3f} s)")
    opened_at = time.monotonic()
    sock = socket.create_connection((HOST, port), timeout=DEADLINE)
    received, _ = wait_closed(sock)
    elapsed = time.monotonic() - opened_at
    sock.close()
    check(received == b"" and elapsed >= header_timeout,
          f"a connection that sends nothing is closed silently after the header timeout ({elapsed:.3f} s)")


def non_reading_client_is_dropped(port):
    """Pipelines requests and never reads the answers: the server stops reading, holds a bounded
    backlog, and drops the client after the idle timeout; others are served meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((HOST, port))
    sock.setblocking(False)
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() * 256
    sent = 0
    blocked = dropped = False
    while sent < 64 * 1024 * 1024:  # bounded: the server stops reading long before this
        try:
            sent += sock.send(request)
        except BlockingIOError:
            blocked = True
            break
        except OSError:
            dropped = True  # already dropped (this process was slow to fill the buffers)
            break
    check(blocked or dropped,
          f"the server stops reading from a client that does not read its answers ({sent} bytes sent)")
    status, _ = http_get(port)
    check(status == "HTTP/1.1 200 OK", "another client is served meanwhile")
    if not dropped:
        wait_hangup(sock)
    sock.close()
    check(True, "the client that never reads is dropped")


def connection_cap(binary):
    cap = 4
    proc, out, port = start([binary, "--host", HOST, "--port", "0", "--max-connections", str(cap)],
                            r"listening on (?:[\d.]+:)?(\d+)", stderr=subprocess.PIPE)
    held = []
    try:
        for _ in range(cap):
            status, sock = http_get(port, keep=True)
            check(status == "HTTP/1.1 200 OK", f"a client within the cap of {cap} is served")
            held.append(sock)
        status, _ = http_get(port)
        check(status == "HTTP/1.1 503 Service Unavailable", f"a client past the cap gets 503 ({status!r})")
        for sock in held[:2]:
            sock.close()
        # The server learns of the two departures asynchronously: new clients may still get 503
        # until it has; one of them must be served, within the deadline.
        deadline = time.monotonic() + DEADLINE
        statuses = []
        while time.monotonic() < deadline:
            status, _ = http_get(port)
            statuses.append(status)
            if status != "HTTP/1.1 503 Service Unavailable":
                break
        check(statuses[-1] == "HTTP/1.1 200 OK",
              f"after two clients leave, a new client is served ({statuses[-1]!r} after {len(statuses)} tries)")
        status, sock = http_get(port, keep=True)
        check(status == "HTTP/1.1 200 OK", "and another one (back at the cap)")
        held.append(sock)
        stop(proc, "http_server")
        err = proc.stderr.read().decode(errors="replace")
        check(err.count("new clients get 503") >= 1, f"the cap is reported on stderr ({err.strip()!r})")
    finally:
        for sock in held:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()


def check_http_abuse(binary):
    refuses_port_70000(binary, "http_server")
    header_timeout, idle_timeout = 0.3, 0.5
    proc, out, port = start([binary, "--host", HOST, "--port", "0", "--header-timeout", str(header_timeout),
                             "--idle-timeout", str(idle_timeout)], r"listening on (?:[\d.]+:)?(\d+)")
    try:
        slow_clients_are_closed(port, header_timeout)
        idle_clients_are_closed(port, header_timeout, idle_timeout)
        non_reading_client_is_dropped(port)
        stop(proc, "http_server")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    connection_cap(binary)
    return 0


def check_echo_abuse(binary):
    refuses_port_70000(binary, "echo_server")
    proc, out, port = start([binary, "--host", HOST, "--port", "0"], r"Serving on \S+:(\d+)", stderr=subprocess.PIPE)
    try:
        for _ in range(3):
            with socket.create_connection((HOST, port), timeout=DEADLINE) as sock:
                try:
                    sock.sendall(b"a" * 100_000)  # no newline: over the 64 KiB limit
                except (BrokenPipeError, ConnectionResetError):
                    pass  # answered and closed before the last bytes went
                received, _ = wait_closed(sock)
            check(received == b"error: line longer than 65536 bytes\n",
                  f"an over-long line is answered with one error line ({received[:60]!r})")
        with socket.create_connection((HOST, port), timeout=DEADLINE) as sock:
            sock.sendall(b"still here\n")
            check(sock.recv(100) == b"still here\n", "the server still echoes")
        stop(proc, "echo_server")
        err = proc.stderr.read().decode(errors="replace")
        lines = [line for line in err.splitlines() if line]
        check(len(lines) == 3 and all("sent a line longer than 65536 bytes" in line for line in lines),
              f"one stderr line per over-long line's connection ({lines!r})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    return 0


def check_chat_abuse(binary):
    refuses_port_70000(binary, "chat_server")
    proc, out, port = start([binary, "--host", HOST, "--port", "0"], r"nc \S+ (\d+)", stderr=subprocess.PIPE)
    socks = []

    def join(name, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(DEADLINE)
        sock.connect((HOST, port))
        socks.append(sock)
        reader = sock.makefile("rb")
        check(reader.readline() == b"Welcome! Your name?\n", f"{name} is welcomed")
        sock.sendall(name.encode() + b"\n")
        return sock, reader

    try:
        silent, _ = join("silent", rcvbuf=4096)  # never reads again
        talker, talker_lines = join("talker")
        line = b"x" * 1000 + b"\n"
        sent = 0
        left_notice = None
        talker.setblocking(False)
        deadline = time.monotonic() + DEADLINE
        with selectors.DefaultSelector() as selector:
            selector.register(talker, selectors.EVENT_READ | selectors.EVENT_WRITE)
            received = b""
            while left_notice is None:
                if time.monotonic() > deadline or sent > 64 * 1024 * 1024:
                    raise CheckFailed(f"the silent member was not dropped ({sent} bytes sent)")
                for _, events in selector.select(1.0):
                    if events & selectors.EVENT_READ:
                        received += talker.recv(65536)
                        if b"* silent left\n" in received:
                            left_notice = received
                    if events & selectors.EVENT_WRITE and left_notice is None:
                        try:
                            sent += talker.send(line * 64)
                        except BlockingIOError:
                            pass
        check(True, f"the room hears that a member who never reads left ({sent} bytes sent)")
        # Its connection is closed: what the kernel still held for it arrives, then EOF (the
        # lines the server had queued for it were dropped).
        received, _ = wait_closed(silent)
        check(len(received) < sent, f"the member who never reads is disconnected (EOF after {len(received)} bytes)")
        talker.setblocking(True)
        talker.settimeout(DEADLINE)
        other, other_lines = join("other")
        check(talker_lines.readline() == b"* other joined (2 here)\n", "a new member can still join")
        other.sendall(b"hello\n")
        check(talker_lines.readline() == b"other: hello\n", "and chat")
        stop(proc, "chat_server")
        err = proc.stderr.read().decode(errors="replace")
        lines = [line for line in err.splitlines() if line]
        check(len(lines) == 1 and "silent left" in lines[0] and "disconnected" in lines[0],
              f"one stderr line says so ({lines!r})")
    finally:
        for sock in socks:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    return 0


MODES = {
    "http": check_http,
    "chat": check_chat,
    "http-abuse": check_http_abuse,
    "echo-abuse": check_echo_abuse,
    "chat-abuse": check_chat_abuse,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        print(__doc__)
        return 2
    try:
        return MODES[sys.argv[1]](sys.argv[2])
    except (CheckFailed, OSError, subprocess.SubprocessError) as e:
        print(f"FAILED: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
