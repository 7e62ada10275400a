// SPDX-License-Identifier: MIT
// examples/cookbook/local_http.hpp — the "internet" of the downloader recipes: a small HTTP
// server on 127.0.0.1 that the program starts itself, so that nothing leaves the machine.
//
//   GET /files/<n>      200, a body of <n> bytes (file_body(n): deterministic, checkable)
//   GET /slow/<n>       200 as /files/<n>, but only after 30 s: a client's timeout hits first
//   anything else       404 Not Found
//
// serve_file() is the connection handler, for asyncio::start_server in the program's own loop
// (the asyncio downloader). BackgroundServer runs the same server in a thread of its own with
// its own event loop, for a program that has no loop (the threaded downloader), and http_get()
// is the blocking client such a program calls from its threads.
#pragma once

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include <concur/asyncio.hpp>
#include <concur/threading.hpp>

namespace cookbook {

/// The body served for /files/<n>: <n> bytes, a repeating pattern that depends on <n>.
inline std::string file_body(std::size_t n) {
  std::string body(n, '\0');
  for (std::size_t i = 0; i < n; ++i) body[i] = static_cast<char>('a' + (i + n) % 26);
  return body;
}

/// The number at the end of `path` after `prefix`, if the whole rest is a number.
inline std::optional<std::size_t> path_number(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  path.remove_prefix(prefix.size());
  std::size_t n = 0;
  const auto [end, err] = std::from_chars(path.data(), path.data() + path.size(), n);
  if (err != std::errc{} || end != path.data() + path.size() || path.empty() || n > (1u << 24)) return std::nullopt;
  return n;
}

namespace detail {

/// Reads one request and writes its response.
inline concur::asyncio::Task<void> answer(concur::asyncio::StreamReader& reader, concur::asyncio::StreamWriter& writer) {
  std::string head;
  try {
    head = co_await reader.readuntil("\r\n\r\n");
  } catch (const std::exception&) {
    co_return;  // the client went away or sent garbage: nothing to answer
  }
  const std::size_t sp = head.find(' ');
  const std::size_t sp2 = sp == std::string::npos ? sp : head.find(' ', sp + 1);
  const std::string path = sp2 == std::string::npos ? std::string() : head.substr(sp + 1, sp2 - sp - 1);
  std::optional<std::size_t> n = path_number(path, "/files/");
  if (!n) {
    n = path_number(path, "/slow/");
    if (n) co_await concur::asyncio::sleep(std::chrono::seconds(30));  // cancelled if the server closes first
  }
  if (n) {
    writer.write(fmt::format("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", *n));
    writer.write(file_body(*n));
  } else {
    writer.write("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }
  co_await writer.drain();
}

}  // namespace detail

/// The connection handler: one GET per connection (HTTP/1.0 style: the server closes after
/// the response), the connection closed on every path.
inline concur::asyncio::Task<void> serve_file(concur::asyncio::StreamReader reader, concur::asyncio::StreamWriter writer) {
  co_await concur::asyncio::closing(writer, detail::answer(reader, writer));
}

/// The server of serve_file() in a thread of its own: started by the constructor (which
/// returns once it listens), stopped by stop() or the destructor.
class BackgroundServer {
 public:
  BackgroundServer() : m_thread({.name = "local-http"}, [this] { run(); }) {
    m_thread.start();
    m_listening.wait();
    if (m_error) std::rethrow_exception(m_error);
  }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;
  ~BackgroundServer() { stop(); }

  /// The port it listens on (127.0.0.1).
  [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

  /// Closes the server (a request still being served is cancelled) and joins its thread.
  void stop() {
    if (m_loop != nullptr && !m_stopped) {
      m_stopped = true;
      try {
        m_loop->call_soon_threadsafe([this] { m_server.close(); });
      } catch (const concur::RuntimeError&) {
        // The loop is already closed: the server thread has ended by itself.
      }
    }
    if (m_thread.is_alive()) m_thread.join();
  }

 private:
  void run() {
    try {
      concur::asyncio::run(serve());
    } catch (...) {
      m_error = std::current_exception();
      m_listening.set();
    }
  }

  concur::asyncio::Task<void> serve() {
    m_server = co_await concur::asyncio::start_server(serve_file, "127.0.0.1", 0);
    m_port = m_server.port();
    m_loop = &concur::asyncio::get_running_loop();
    m_listening.set();  // the constructor reads m_port and m_loop after this
    co_await m_server.serve_forever();  // until stop() closes the server
    m_server.close_clients();
    co_await m_server.wait_closed();
  }

  concur::threading::Event m_listening;
  concur::asyncio::Server m_server;              // the server thread only, after m_listening
  concur::asyncio::EventLoop* m_loop = nullptr;  // written before m_listening.set(), then read-only
  std::uint16_t m_port = 0;                      // as m_loop
  std::exception_ptr m_error;                    // as m_loop
  bool m_stopped = false;                        // the owning thread only
  concur::threading::Thread m_thread;            // last: started once the members above exist
};

/// Throws RuntimeError("HTTP Error 404: Not Found") (urllib's message) unless `status_line`
/// ("HTTP/1.0 200 OK") says 200.
inline void check_status(const std::string& status_line) {
  const std::size_t code = status_line.find(' ');
  if (code == std::string::npos || status_line.size() < code + 4) {
    throw concur::RuntimeError("malformed HTTP status line: " + status_line);
  }
  if (status_line.compare(code + 1, 3, "200") == 0) return;
  const std::string reason = status_line.size() > code + 5 ? status_line.substr(code + 5) : std::string();
  throw concur::RuntimeError(fmt::format("HTTP Error {}: {}", status_line.substr(code + 1, 3), reason));
}

/// A blocking GET of http://127.0.0.1:<port><path>, standing in for an HTTP library (Python's
/// urllib.request.urlopen(url, timeout=...).read()): returns the body. `timeout` bounds each
/// wait for the server, as urlopen's does: TimeoutError when nothing arrives for that long.
/// OSError when the connection fails; RuntimeError("HTTP Error 404: Not Found") for a status
/// other than 200.
inline std::string http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw concur::OSError(errno, "socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throw concur::OSError(errno, fmt::format("connect to 127.0.0.1:{}", port));
  }
  const std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw concur::OSError(errno, "send");
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[16384];
  for (;;) {  // HTTP/1.0: the body ends where the server closes the connection
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      throw concur::TimeoutError(fmt::format("no answer from 127.0.0.1:{}{} within {} ms", port, path, timeout.count()));
    }
    if (n < 0) throw concur::OSError(errno, "recv");
    response.append(buffer, static_cast<std::size_t>(n));
  }
  const std::size_t end_of_head = response.find("\r\n\r\n");
  if (end_of_head == std::string::npos) throw concur::RuntimeError("malformed HTTP response");
  check_status(response.substr(0, response.find("\r\n")));
  return response.substr(end_of_head + 4);
}

}  // namespace cookbook
