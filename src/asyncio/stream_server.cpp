// SPDX-License-Identifier: MIT
// start_server / start_unix_server and Server: listening handles, accepted connections, the
// per-connection tasks, close / wait_closed / serve_forever.
#include "stream_server.hpp"

#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "net_uv.hpp"
#include "stream_tls.hpp"

namespace concur::asyncio {

namespace detail {

namespace {

void close_listener(ServerState::Listener* l) noexcept {
  l->server = nullptr;
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->poll))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&l->poll),
           [](uv_handle_t* h) { delete static_cast<ServerState::Listener*>(h->data); });
  // uv_close() took the socket out of the poll set: it can close now, so that the port is free
  // when close() returns (as it is with a libuv listener).
  ::close(l->fd);
  l->fd = -1;
}

/// True for the errors accept() passes on from a connection that failed before it was
/// accepted (Linux's accept(2) says to retry as for EAGAIN), and for EINTR.
bool accept_error_is_transient(int err) noexcept {
  switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

/// The address `fd` is bound to, if it has one.
std::optional<Address> bound_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return to_address(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace

ServerState::ServerState(EventLoop& loop, ClientConnected cb, const ServerOptions& options, StreamTransport::Kind kind)
    : m_loop(loop),
      m_cb(std::make_shared<const ClientConnected>(std::move(cb))),
      m_limit(options.limit),
      m_backlog(options.backlog),
      m_ssl(options.ssl),
      m_ssl_handshake_timeout(options.ssl_handshake_timeout.value_or(default_ssl_handshake_timeout)),
      m_ssl_shutdown_timeout(options.ssl_shutdown_timeout.value_or(default_ssl_shutdown_timeout)),
      m_kind(kind) {
  if (!*m_cb) throw ValueError("start_server() needs a client_connected callback");
  if (m_limit == 0) throw ValueError("limit must be positive");
  if (!m_ssl && options.ssl_handshake_timeout) throw ValueError("ssl_handshake_timeout is only meaningful with ssl connections");
  if (!m_ssl && options.ssl_shutdown_timeout) throw ValueError("ssl_shutdown_timeout is only meaningful with ssl connections");
  if (m_ssl && m_ssl->protocol() != ssl::PROTOCOL_TLS_SERVER) {
    throw ValueError("a TLS server needs a PROTOCOL_TLS_SERVER context (create_default_context(Purpose::CLIENT_AUTH))");
  }
  if (m_ssl_handshake_timeout.count() <= 0) throw ValueError("ssl_handshake_timeout should be a positive number");
  if (m_ssl_shutdown_timeout.count() <= 0) throw ValueError("ssl_shutdown_timeout should be a positive number");
  loop.impl().attach(m_loop_handle);
}

void ServerState::on_loop_close(LoopHandle* h) noexcept {
  auto* s = static_cast<ServerState*>(h->m_owner);
  s->m_loop_closed = true;
  s->close();
}

ServerState::~ServerState() {
  close();
  // Connections outlive the server object (as in Python); they only forget it.
  for (StreamTransport* t = m_clients; t != nullptr;) {
    StreamTransport* next = t->m_next_client;
    t->m_server = nullptr;
    t->m_prev_client = t->m_next_client = nullptr;
    t = next;
  }
  assert(m_close_waiters.empty() && m_gone_waiters.empty());
}

ServerState::Listener& ServerState::add_listener(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_uv_error(-errno, "creating a listening socket");
  auto* l = new Listener;
  l->fd = fd;
  if (const int err = uv_poll_init_socket(uv_loop_of(m_loop), &l->poll, fd); err != 0) {
    ::close(fd);
    delete l;
    throw_uv_error(err, "creating a listening socket");
  }
  l->poll.data = l;
  l->server = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&l->poll));
  m_listeners.push_back(l);
  return *l;
}

void ServerState::start_serving() {
  if (m_closed) throw RuntimeError("server is closed");
  if (m_serving) return;
  for (Listener* l : m_listeners) {
    if (::listen(l->fd, m_backlog) != 0) {
      const int err = errno;
      const std::optional<Address> where = m_kind == StreamTransport::Kind::tcp
                                               ? bound_address(l->fd)
                                               : Address{Address::Family::unix_socket, m_unix_path, 0};
      throw_uv_error(-err, fmt::format("error while attempting to bind on address {}",
                                       where ? where->to_string() : std::string("?")));
    }
  }
  m_serving = true;
  poll_listeners();
}

void ServerState::poll_listeners() noexcept {
  for (Listener* l : m_listeners) {
    if (const int err = uv_poll_start(&l->poll, UV_READABLE, &on_readable); err != 0) {
      accept_failed(-err);  // pauses and retries later
      return;
    }
  }
}

void ServerState::on_readable(uv_poll_t* poll, int status, int) noexcept {
  auto* l = static_cast<Listener*>(poll->data);
  if (l->server == nullptr) return;
  if (status < 0) {
    l->server->accept_failed(-status);
    return;
  }
  l->server->accept_ready(*l);
}

void ServerState::accept_ready(Listener& l) noexcept {
  for (int i = 0; i < accept_batch && l.server != nullptr && !m_accept_paused; ++i) {
    const int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      adopt(fd);
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (accept_error_is_transient(err)) continue;
    accept_failed(err);  // last: the exception handler it may call may close the server
    return;
  }
}

void ServerState::adopt(int fd) noexcept {
  try {
    std::shared_ptr<StreamTransport> t = StreamTransport::create(m_loop, m_kind, m_limit);
    const int err = m_kind == StreamTransport::Kind::tcp ? uv_tcp_open(t->tcp(), fd) : uv_pipe_open(t->pipe(), fd);
    if (err != 0) {
      ::close(fd);  // the handle did not take it
      m_loop.call_exception_handler({"Error setting up a connection", uv_error_ptr(err, "accepting a connection"), {}});
      return;  // `t` closes as it goes
    }
    t->on_connected();
    t->m_server = this;
    t->m_next_client = m_clients;
    if (m_clients != nullptr) m_clients->m_prev_client = t.get();
    m_clients = t.get();
    ++m_client_count;
    // The handler's coroutine is the connection's task (no wrapper frame: 10,000 idle clients
    // cost 10,000 frames, not 20,000). An exception escaping it is reported by the task
    // ("Task exception was never retrieved") when its frame goes, and the frame's reader and
    // writer were the connection's last handles: it closes. The transport keeps the callback
    // alive, because a lambda coroutine's captures live in the callback object.
    t->m_client_connected = m_cb;
    if (m_ssl) {
      // The handshake first, in the connection's task (one frame more per TLS connection).
      (void)m_loop.create_task(serve_tls_connection(std::move(t), m_cb, *m_ssl, m_ssl_handshake_timeout, m_ssl_shutdown_timeout));
      return;
    }
    (void)m_loop.create_task((*m_cb)(StreamReader(t), StreamWriter(t)));
  } catch (...) {
    // create() failed before the socket was handed over (a failure after it is the
    // transport's: it owns the socket then and closes it).
    m_loop.call_exception_handler({"Error setting up a connection", std::current_exception(), {}});
  }
}

void ServerState::accept_failed(int err) noexcept {
  // Pause every listener: the error (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...) is the process's or
  // the system's, not one socket's, and polling on would spin on connections that cannot be
  // accepted. They wait in the listen backlog.
  for (Listener* l : m_listeners) uv_poll_stop(&l->poll);
  m_accept_paused = true;
  m_accept_retry.cancel();
  try {
    m_accept_retry = m_loop.call_later(accept_retry_delay, [this] {
      m_accept_retry = {};
      resume_accepting();
    });
  } catch (...) {
    // The loop is closing (no timer can be armed): the server closes with it.
  }
  const double now = m_loop.time();
  if (m_last_accept_report >= 0 && now - m_last_accept_report < accept_report_interval) {
    ++m_unreported_accept_errors;
    return;
  }
  m_last_accept_report = now;
  const bool resources = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
  std::string message = resources ? "socket.accept() out of system resource" : "socket.accept() failed";
  if (const std::uint64_t more = std::exchange(m_unreported_accept_errors, 0); more > 0) {
    message += fmt::format(" ({} more since the last report)", more);
  }
  m_loop.call_exception_handler(
      {std::move(message), uv_error_ptr(-err, "accepting a connection; accepting again in a second"), {}});
}

void ServerState::resume_accepting() noexcept {
  if (!m_accept_paused || !m_serving || m_closed) return;
  m_accept_paused = false;
  m_accept_retry.cancel();
  m_accept_retry = {};
  poll_listeners();
}

void ServerState::close() noexcept {
  if (m_closed) return;
  m_closed = true;
  m_serving = false;
  m_accept_paused = false;
  m_accept_retry.cancel();
  m_accept_retry = {};
  LoopImpl::detach(m_loop, m_loop_handle);
  for (Listener* l : m_listeners) close_listener(l);
  m_listeners.clear();
  if (!m_unix_path.empty()) {
    ::unlink(m_unix_path.c_str());
    m_unix_path.clear();
  }
  m_close_waiters.fire_all();
  if (m_client_count == 0) m_gone_waiters.fire_all();
}

void ServerState::close_clients(bool abort) noexcept {
  std::vector<StreamTransport*> clients;
  try {
    clients.reserve(m_client_count);
  } catch (...) {
  }
  for (StreamTransport* t = m_clients; t != nullptr; t = t->m_next_client) clients.push_back(t);
  for (StreamTransport* t : clients) {
    if (abort) {
      t->abort();
    } else {
      t->close();
    }
  }
}

void ServerState::client_closed(StreamTransport& t) noexcept {
  if (t.m_prev_client != nullptr) {
    t.m_prev_client->m_next_client = t.m_next_client;
  } else {
    m_clients = t.m_next_client;
  }
  if (t.m_next_client != nullptr) t.m_next_client->m_prev_client = t.m_prev_client;
  t.m_prev_client = t.m_next_client = nullptr;
  t.m_server = nullptr;
  --m_client_count;
  if (m_closed && m_client_count == 0) m_gone_waiters.fire_all();
  // Its descriptor is closed: a pause after a failed accept() ends now.
  if (m_accept_paused) resume_accepting();
}

void server_client_closed(ServerState& server, StreamTransport& t) noexcept { server.client_closed(t); }

// ---- ServerAwaiter -----------------------------------------------------------------------------

bool ServerAwaiter::await_ready() const noexcept {
  return m_until_clients_gone ? (m_server->m_closed && m_server->m_client_count == 0) : m_server->m_closed;
}

void ServerAwaiter::register_wait() {
  m_wait.m_source = m_server.get();
  if (m_until_clients_gone) {
    m_server->m_gone_waiters.push(&m_wait);
    m_wait.m_detach = [](IoWait* w) noexcept { static_cast<ServerState*>(w->m_source)->m_gone_waiters.remove(w); };
  } else {
    m_server->m_close_waiters.push(&m_wait);
    m_wait.m_detach = [](IoWait* w) noexcept { static_cast<ServerState*>(w->m_source)->m_close_waiters.remove(w); };
  }
}

namespace {

Task<void> serve_forever_impl(std::shared_ptr<ServerState> s) {
  if (s->m_closed) throw RuntimeError("server is closed");
  if (s->m_serving_forever) throw RuntimeError("server is already being awaited on serve_forever()");
  s->start_serving();
  s->m_serving_forever = true;
  std::exception_ptr cancelled;
  try {
    co_await ServerAwaiter(s, false);
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  s->m_serving_forever = false;
  if (cancelled) {
    s->close();  // Python closes the server when serve_forever() is cancelled
    std::rethrow_exception(cancelled);
  }
}

Task<Server> start_tcp_server(ClientConnected cb, std::string host, std::uint16_t port, ServerOptions options) {
  EventLoop& loop = get_running_loop();
  auto state = std::make_shared<ServerState>(loop, std::move(cb), options, StreamTransport::Kind::tcp);
  std::vector<sockaddr_storage> addresses;
  if (host.empty()) {
    // Every interface, IPv4 and IPv6 (each socket bound to its own family, as Python does).
    addresses.resize(2);
    uv_ip4_addr("0.0.0.0", port, reinterpret_cast<sockaddr_in*>(&addresses[0]));
    uv_ip6_addr("::", port, reinterpret_cast<sockaddr_in6*>(&addresses[1]));
  } else {
    addresses = co_await resolve(loop, host, port, true);
  }
  for (const sockaddr_storage& ss : addresses) {
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    ServerState::Listener& l = state->add_listener(sa->sa_family);
    int one = 1;
    // SO_REUSEADDR always (as libuv and Python on Unix do); SO_REUSEPORT when asked; an IPv6
    // socket serves IPv6 only (the IPv4 addresses get sockets of their own).
    if (::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      throw_uv_error(-errno, "setting SO_REUSEADDR");
    }
    if (options.reuse_port && ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw_uv_error(-errno, "setting SO_REUSEPORT");
    }
    if (sa->sa_family == AF_INET6 && ::setsockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
      throw_uv_error(-errno, "setting IPV6_V6ONLY");
    }
    const socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::bind(l.fd, sa, len) != 0) {
      throw_uv_error(-errno, fmt::format("error while attempting to bind on address {}", to_address(sa).to_string()));
    }
  }
  // Port 0 on several sockets: Python gives each its own port too.
  if (options.start_serving) state->start_serving();
  co_return Server(std::move(state));
}

Task<Server> start_pipe_server(ClientConnected cb, std::string path, ServerOptions options) {
  EventLoop& loop = get_running_loop();
  auto state = std::make_shared<ServerState>(loop, std::move(cb), options, StreamTransport::Kind::pipe);
  // A socket file left by a server that died is replaced (Python does the same); any other
  // file is an error (EADDRINUSE from bind).
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  ServerState::Listener& l = state->add_listener(AF_UNIX);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sun.sun_path) {
    throw_uv_error(UV_ENAMETOOLONG, fmt::format("error while attempting to bind on address '{}'", path));
  }
  std::memcpy(sun.sun_path, path.data(), path.size());
  if (::bind(l.fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) {
    throw_uv_error(-errno, fmt::format("error while attempting to bind on address '{}'", path));
  }
  state->m_unix_path = path;
  if (options.start_serving) state->start_serving();
  co_return Server(std::move(state));
}

}  // namespace
}  // namespace detail

// ---- Server ------------------------------------------------------------------------------------

const std::shared_ptr<detail::ServerState>& Server::state() const {
  if (!m_state) throw RuntimeError("empty Server (default-constructed or moved from)");
  return m_state;
}

std::vector<Address> Server::sockets() const {
  std::vector<Address> out;
  for (detail::ServerState::Listener* l : state()->m_listeners) {
    if (m_state->m_kind == detail::StreamTransport::Kind::pipe) {
      out.push_back({Address::Family::unix_socket, m_state->m_unix_path, 0});
      continue;
    }
    if (std::optional<Address> a = detail::bound_address(l->fd)) out.push_back(std::move(*a));
  }
  return out;
}

std::uint16_t Server::port() const {
  std::vector<Address> s = sockets();
  if (s.empty()) throw RuntimeError("server is closed");
  return s.front().port;
}

bool Server::is_serving() const noexcept { return m_state && m_state->m_serving; }
void Server::start_serving() { state()->start_serving(); }
Task<void> Server::serve_forever() { return detail::serve_forever_impl(state()); }
void Server::close() { state()->close(); }
void Server::close_clients() { state()->close_clients(false); }
void Server::abort_clients() { state()->close_clients(true); }
EventLoop& Server::get_loop() const {
  if (state()->m_loop_closed) throw RuntimeError("get_loop() on a server whose event loop is closed");
  return state()->m_loop;
}

Task<Server> start_server(ClientConnected client_connected, std::string host, std::uint16_t port, ServerOptions options) {
  return detail::start_tcp_server(std::move(client_connected), std::move(host), port, options);
}

Task<Server> start_unix_server(ClientConnected client_connected, std::string path, ServerOptions options) {
  return detail::start_pipe_server(std::move(client_connected), std::move(path), options);
}

}  // namespace concur::asyncio
