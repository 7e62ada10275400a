// SPDX-License-Identifier: MIT
// start_server / start_unix_server and Server: listening handles, accepted connections, the
// per-connection tasks, close / wait_closed / serve_forever.
#include "stream_server.hpp"

#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

#include "net_uv.hpp"

namespace concur::asyncio {

namespace detail {

namespace {

void close_listener(ServerState::Listener* l) noexcept {
  l->server = nullptr;
  if (uv_is_closing(&l->handle)) return;
  uv_close(&l->handle, [](uv_handle_t* h) { delete static_cast<ServerState::Listener*>(h->data); });
}

}  // namespace

ServerState::ServerState(EventLoop& loop, ClientConnected cb, const ServerOptions& options, StreamTransport::Kind kind)
    : m_loop(loop),
      m_cb(std::make_shared<const ClientConnected>(std::move(cb))),
      m_limit(options.limit),
      m_backlog(options.backlog),
      m_kind(kind) {
  if (!*m_cb) throw ValueError("start_server() needs a client_connected callback");
  if (m_limit == 0) throw ValueError("limit must be positive");
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
  auto* l = new Listener;
  l->server = this;
  int err = 0;
  if (m_kind == StreamTransport::Kind::tcp) {
    err = uv_tcp_init_ex(uv_loop_of(m_loop), &l->tcp, static_cast<unsigned>(family));
  } else {
    err = uv_pipe_init(uv_loop_of(m_loop), &l->pipe, 0);
  }
  if (err != 0) {
    delete l;
    throw_uv_error(err, "creating a listening socket");
  }
  l->handle.data = l;
  uv_unref(&l->handle);
  m_listeners.push_back(l);
  return *l;
}

void ServerState::start_serving() {
  if (m_closed) throw RuntimeError("server is closed");
  if (m_serving) return;
  for (Listener* l : m_listeners) {
    if (const int err = uv_listen(&l->stream, m_backlog, &on_connection); err != 0) {
      const std::optional<Address> where = [&]() -> std::optional<Address> {
        if (m_kind != StreamTransport::Kind::tcp) return Address{Address::Family::unix_socket, m_unix_path, 0};
        sockaddr_storage ss{};
        int len = sizeof ss;
        if (uv_tcp_getsockname(&l->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
        return to_address(reinterpret_cast<sockaddr*>(&ss));
      }();
      throw_uv_error(err, fmt::format("error while attempting to bind on address {}",
                                      where ? where->to_string() : std::string("?")));
    }
  }
  m_serving = true;
}

void ServerState::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* l = static_cast<Listener*>(listener->data);
  if (l->server == nullptr) return;
  ServerState& s = *l->server;
  if (status < 0) {
    // EMFILE and friends: report and keep listening (the next connection may fit).
    s.m_loop.call_exception_handler({"accept() failed", uv_error_ptr(status, "accepting a connection"), {}});
    return;
  }
  s.accept(*l);
}

void ServerState::accept(Listener& l) noexcept {
  try {
    std::shared_ptr<StreamTransport> t = StreamTransport::create(m_loop, m_kind, m_limit);
    if (const int err = uv_accept(&l.stream, t->stream()); err != 0) {
      m_loop.call_exception_handler({"accept() failed", uv_error_ptr(err, "accepting a connection"), {}});
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
    (void)m_loop.create_task((*m_cb)(StreamReader(t), StreamWriter(t)));
  } catch (...) {
    m_loop.call_exception_handler({"Error setting up a connection", std::current_exception(), {}});
  }
}

void ServerState::close() noexcept {
  if (m_closed) return;
  m_closed = true;
  m_serving = false;
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
    if (options.reuse_port) {
      uv_os_fd_t fd = -1;
      uv_fileno(&l.handle, &fd);
      int one = 1;
      if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        throw_uv_error(-errno, "setting SO_REUSEPORT");
      }
    }
    const unsigned flags = sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    if (const int err = uv_tcp_bind(&l.tcp, sa, flags); err != 0) {
      throw_uv_error(err, fmt::format("error while attempting to bind on address {}", to_address(sa).to_string()));
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
  if (const int err = uv_pipe_bind(&l.pipe, path.c_str()); err != 0) {
    throw_uv_error(err, fmt::format("error while attempting to bind on address '{}'", path));
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
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(&l->tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      out.push_back(detail::to_address(reinterpret_cast<sockaddr*>(&ss)));
    }
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
