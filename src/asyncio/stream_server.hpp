// SPDX-License-Identifier: MIT
// The state of a Server (private to src/asyncio/): its listening sockets, the connections it
// accepted, and the tasks waiting for it to close. See concur/asyncio/streams.hpp.
//
// Accepting: the server makes, binds and listens on its sockets itself, polls them with a
// uv_poll_t and calls accept4() itself, then hands each new socket to a StreamTransport
// (uv_tcp_open / uv_pipe_open). It does not use uv_listen(): when accept() fails with EMFILE or
// ENFILE, libuv's listener accepts and closes every pending connection (its "EMFILE trick")
// without telling the program, so clients are turned away and nothing is reported; and
// where that trick is unavailable it calls back with the error in a loop that does not return
// until accept() stops failing. Here, as in Python's selector loop, a failed accept() pauses
// every listening socket of the server for `accept_retry_delay` (1 s, Python's
// ACCEPT_RETRY_DELAY) or until one of the server's connections closes (a descriptor came
// back), whichever is first, and is reported to the loop's exception handler at most once per
// `accept_report_interval` (later failures within it are counted in the next report). The
// pending connections wait in the listen backlog meanwhile and are served once descriptors
// are available again.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "concur/asyncio/streams.hpp"
#include "stream_transport.hpp"

namespace concur::asyncio::detail {

class ServerState {
 public:
  /// One listening socket and the poll handle that watches it for connections. The socket
  /// is closed by close() and the object deleted by the poll handle's close callback;
  /// `server` is null once detached.
  struct Listener {
    uv_poll_t poll;
    int fd = -1;                    // the listening socket (SOCK_NONBLOCK | SOCK_CLOEXEC); -1 once closed
    ServerState* server = nullptr;
  };

  /// How long accepting pauses after accept() failed (unless a connection closes first).
  static constexpr std::chrono::seconds accept_retry_delay{1};
  /// The shortest time between two reports of failed accept() calls.
  static constexpr double accept_report_interval = 1.0;
  /// The most connections accepted per readiness of one listening socket (the loop then
  /// serves other I/O; the socket stays readable and is polled again).
  static constexpr int accept_batch = 128;

  ServerState(EventLoop& loop, ClientConnected cb, const ServerOptions& options, StreamTransport::Kind kind);
  ~ServerState();
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  /// A new listener: a socket of `family` (AF_INET, AF_INET6 or AF_UNIX) with its poll handle.
  Listener& add_listener(int family);
  void start_serving();
  void close() noexcept;
  void close_clients(bool abort) noexcept;
  void client_closed(StreamTransport& t) noexcept;

  EventLoop& m_loop;
  std::shared_ptr<const ClientConnected> m_cb;  // shared with the client tasks (captures live here)
  std::size_t m_limit;
  int m_backlog;
  std::optional<ssl::SSLContext> m_ssl;  // TLS server: each connection's handshake runs first
  Timeout m_ssl_handshake_timeout;
  Timeout m_ssl_shutdown_timeout;
  StreamTransport::Kind m_kind;
  std::vector<Listener*> m_listeners;     // open listening handles; cleared by close()
  std::string m_unix_path;                // a Unix-domain server's socket file, removed by close()
  StreamTransport* m_clients = nullptr;   // connections accepted and not yet closed (intrusive)
  std::size_t m_client_count = 0;
  IoWaitList m_close_waiters;             // serve_forever(): fired by close()
  IoWaitList m_gone_waiters;              // wait_closed(): fired when closed and no client is left
  bool m_serving = false;
  bool m_closed = false;
  bool m_serving_forever = false;
  bool m_loop_closed = false;             // EventLoop::close() closed it: m_loop is gone
  LoopHandle m_loop_handle{&on_loop_close, this};  // linked to the loop until close()
  // Accept failures (see the file comment).
  bool m_accept_paused = false;           // serving, but the listeners are not polled
  TimerHandle m_accept_retry;             // resumes accepting; armed while m_accept_paused
  double m_last_accept_report = -1;       // loop time of the last report (-1: none yet)
  std::uint64_t m_unreported_accept_errors = 0;  // failures since the last report, not reported

 private:
  static void on_readable(uv_poll_t* poll, int status, int events) noexcept;
  static void on_loop_close(LoopHandle* h) noexcept;  // EventLoop::close(): close()
  void accept_ready(Listener& l) noexcept;
  void adopt(int fd) noexcept;            // a new connection's socket: its transport and task
  void accept_failed(int err) noexcept;   // pause, arm the retry, report (rate-limited)
  void poll_listeners() noexcept;         // starts polling every listener (accepting)
  void resume_accepting() noexcept;
};

}  // namespace concur::asyncio::detail
