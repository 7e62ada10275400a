// SPDX-License-Identifier: MIT
// UDP endpoints: a uv_udp_t, the queue of received datagrams, the receivers waiting, and the
// datagrams the socket did not take yet.
#include "concur/asyncio/datagram.hpp"

#include <fmt/core.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <deque>

#include "loop_impl.hpp"
#include "net_uv.hpp"

namespace concur::asyncio {

namespace detail {

class DatagramState {
 public:
  using Datagram = std::pair<std::string, Address>;

  DatagramState(EventLoop& loop, std::size_t max_queued) noexcept : m_loop(&loop), m_max_queued(max_queued) {
    m_handle.data = this;
  }
  DatagramState(const DatagramState&) = delete;
  DatagramState& operator=(const DatagramState&) = delete;
  /// Only once the handle is closed (or was never initialised).
  ~DatagramState() { assert(m_waiters.empty()); }

  struct Deleter {
    void operator()(DatagramState* s) const noexcept {
      s->m_orphan = true;
      if (s->m_closed) {
        delete s;
      } else {
        s->close();
      }
    }
  };

  void start_receiving() {
    if (m_receiving || m_closing) return;
    if (const int err = uv_udp_recv_start(&m_handle, &on_alloc, &on_recv); err != 0) throw_uv_error(err, "uv_udp_recv_start");
    m_receiving = true;
  }

  void close() noexcept {
    if (m_closing) return;
    m_closing = true;
    if (m_receiving) uv_udp_recv_stop(&m_handle);
    m_receiving = false;
    m_queue.clear();
    fail_waiters(UV_EBADF);
    uv_close(reinterpret_cast<uv_handle_t*>(&m_handle), [](uv_handle_t* h) {
      auto* s = static_cast<DatagramState*>(h->data);
      LoopImpl::detach(*s->m_loop, s->m_loop_handle);
      s->m_closed = true;
      if (s->m_orphan) delete s;
    });
  }

  void add_waiter(RecvAwaiter* a) { m_waiters.push_back(a); }
  void remove_waiter(RecvAwaiter* a) noexcept {
    for (auto it = m_waiters.begin(); it != m_waiters.end(); ++it) {
      if (*it == a) {
        m_waiters.erase(it);
        return;
      }
    }
  }
  /// A datagram taken by a receiver that was cancelled before it ran goes back first in line.
  void requeue_front(Datagram d) {
    m_queue.push_front(std::move(d));
    hand_out();
  }
  [[nodiscard]] bool ready() const noexcept { return !m_queue.empty() || m_error != 0 || m_closing; }
  /// For a receiver that did not wait: the next datagram, or the error.
  Datagram take() {
    if (!m_queue.empty()) {
      Datagram d = std::move(m_queue.front());
      m_queue.pop_front();
      if (!m_receiving && !m_closing && m_queue.size() < m_max_queued) start_receiving();
      return d;
    }
    if (m_error != 0) throw_uv_error(std::exchange(m_error, 0), "datagram endpoint");
    throw_uv_error(UV_EBADF, "datagram endpoint is closed");
  }

  void send(std::string_view data, const sockaddr* addr) {
    if (m_closing) {
      if (m_loop_closed) throw RuntimeError("sendto() on an endpoint whose event loop is closed");
      return;  // dropped, as Python does
    }
    uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    if (m_queued == 0) {
      const int n = uv_udp_try_send(&m_handle, &buf, 1, addr);
      if (n >= 0) return;
      if (n != UV_EAGAIN) {
        report(n);
        return;
      }
    }
    auto* req = static_cast<SendReq*>(::operator new(sizeof(SendReq) + data.size()));
    new (req) SendReq{};
    req->state = this;
    req->size = data.size();
    std::memcpy(req->bytes(), data.data(), data.size());
    buf = uv_buf_init(req->bytes(), static_cast<unsigned>(data.size()));
    if (const int err = uv_udp_send(&req->req, &m_handle, &buf, 1, addr, &on_sent); err != 0) {
      ::operator delete(req);
      report(err);
      return;
    }
    m_queued += data.size();
  }

  /// The handle is initialised: EventLoop::close() closes it if it is still open then.
  void attach() noexcept { m_loop->impl().attach(m_loop_handle); }

  uv_udp_t m_handle{};
  EventLoop* m_loop;                  // only dereferenced while the handle is open
  LoopHandle m_loop_handle{&on_loop_close, this};  // linked from attach() to the close callback
  bool m_loop_closed = false;         // closed by EventLoop::close(): sendto() raises
  std::optional<Address> m_peer;      // remote_addr, once connected
  std::size_t m_queued = 0;           // bytes in uv_udp_send requests
  bool m_closing = false;

 private:
  struct SendReq {
    uv_udp_send_t req;
    DatagramState* state;
    std::size_t size;
    char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
  };
  static void on_loop_close(LoopHandle* h) noexcept {
    auto* s = static_cast<DatagramState*>(h->m_owner);
    s->m_loop_closed = true;
    s->close();
  }
  static void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) noexcept {
    thread_local std::unique_ptr<char[]> scratch(new char[64 * 1024]);
    *buf = uv_buf_init(scratch.get(), 64 * 1024);
  }
  static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned) noexcept {
    auto* s = static_cast<DatagramState*>(h->data);
    if (nread < 0) {
      s->report(static_cast<int>(nread));
      return;
    }
    if (addr == nullptr) return;  // nothing more to read now
    try {
      s->m_queue.emplace_back(std::string(buf->base, static_cast<std::size_t>(nread)), to_address(addr));
    } catch (...) {
      return;  // out of memory: the datagram is lost, as the kernel would lose it
    }
    if (s->m_queue.size() >= s->m_max_queued && s->m_receiving) {
      uv_udp_recv_stop(&s->m_handle);  // full: the kernel drops what comes next
      s->m_receiving = false;
    }
    s->hand_out();
  }
  static void on_sent(uv_udp_send_t* r, int status) noexcept {
    auto* req = reinterpret_cast<SendReq*>(r);
    DatagramState* s = req->state;
    s->m_queued -= req->size;
    ::operator delete(req);
    if (status < 0 && status != UV_ECANCELED) s->report(status);
  }
  /// Gives queued datagrams to waiting receivers, in order.
  void hand_out() noexcept {
    while (!m_waiters.empty() && !m_queue.empty()) {
      RecvAwaiter* a = m_waiters.front();
      m_waiters.pop_front();
      a->m_result = std::move(m_queue.front());
      m_queue.pop_front();
      a->m_wait.fire();
    }
    if (!m_receiving && !m_closing && m_queue.size() < m_max_queued) {
      try {
        start_receiving();
      } catch (...) {
      }
    }
  }
  /// An error for the socket (Python's error_received): the first waiter gets it, or the next
  /// recvfrom().
  void report(int err) noexcept {
    if (!m_waiters.empty()) {
      RecvAwaiter* a = m_waiters.front();
      m_waiters.pop_front();
      a->m_error = err;
      a->m_wait.fire();
    } else {
      m_error = err;
    }
  }
  void fail_waiters(int err) noexcept {
    while (!m_waiters.empty()) {
      RecvAwaiter* a = m_waiters.front();
      m_waiters.pop_front();
      a->m_error = err;
      a->m_wait.fire();
    }
  }

  std::deque<Datagram> m_queue;           // received, not yet taken
  std::deque<RecvAwaiter*> m_waiters;     // receivers waiting, in order
  std::size_t m_max_queued;
  int m_error = 0;                        // an error no receiver has seen yet
  bool m_receiving = false;
  bool m_closed = false;
  bool m_orphan = false;
};

bool RecvAwaiter::await_ready() const noexcept { return m_state->ready(); }

void RecvAwaiter::register_wait() {
  m_state->add_waiter(this);
  m_wait.m_source = this;
  m_wait.m_detach = [](IoWait* w) noexcept {
    auto* a = static_cast<RecvAwaiter*>(w->m_source);
    a->m_state->remove_waiter(a);
  };
}

std::pair<std::string, Address> RecvAwaiter::await_resume() {
  if (m_result || m_error != 0) {  // we waited and were handed something
    try {
      m_wait.resume();
    } catch (...) {
      if (m_result) m_state->requeue_front(std::move(*m_result));  // cancelled in between: not lost
      throw;
    }
    if (m_error != 0) throw_uv_error(m_error, "datagram endpoint");
    return std::move(*m_result);
  }
  m_wait.resume();  // CancelledError if the wait was cancelled
  return m_state->take();
}

namespace {

/// The sockaddr of a numeric Address.
sockaddr_storage to_sockaddr(const Address& a) {
  sockaddr_storage ss{};
  const int err = a.family == Address::Family::ipv6
                      ? uv_ip6_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in6*>(&ss))
                      : uv_ip4_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in*>(&ss));
  if (err != 0) throw ValueError(fmt::format("sendto(): '{}' is not a numeric IP address", a.host));
  return ss;
}

}  // namespace
}  // namespace detail

const std::shared_ptr<detail::DatagramState>& DatagramEndpoint::state() const {
  if (!m_state) throw RuntimeError("empty DatagramEndpoint (default-constructed or moved from)");
  return m_state;
}

void DatagramEndpoint::sendto(std::string_view data, std::optional<Address> addr) {
  const auto& s = state();
  if (!addr) {
    if (!s->m_peer) throw ValueError("sendto() needs an address: the endpoint has no remote_addr");
    s->send(data, nullptr);
    return;
  }
  if (s->m_peer) throw ValueError("sendto(): the endpoint is connected; give no address");
  const sockaddr_storage ss = detail::to_sockaddr(*addr);
  s->send(data, reinterpret_cast<const sockaddr*>(&ss));
}

Address DatagramEndpoint::sockname() const {
  if (state()->m_closing) detail::throw_uv_error(UV_EBADF, "getsockname: the endpoint is closed");
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (const int err = uv_udp_getsockname(&state()->m_handle, reinterpret_cast<sockaddr*>(&ss), &len); err != 0) {
    detail::throw_uv_error(err, "getsockname");
  }
  return detail::to_address(reinterpret_cast<sockaddr*>(&ss));
}

std::optional<Address> DatagramEndpoint::peername() const { return state()->m_peer; }
std::size_t DatagramEndpoint::get_write_buffer_size() const noexcept { return m_state ? m_state->m_queued : 0; }
void DatagramEndpoint::close() { state()->close(); }
bool DatagramEndpoint::is_closing() const noexcept { return !m_state || m_state->m_closing; }

Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions options) {
  EventLoop& loop = get_running_loop();
  if (!options.local_addr && !options.remote_addr) {
    throw ValueError("create_datagram_endpoint() needs local_addr or remote_addr");
  }
  if (options.max_queued == 0) throw ValueError("max_queued must be positive");
  std::optional<sockaddr_storage> local, remote;
  if (options.local_addr) {
    local = (co_await detail::resolve(loop, options.local_addr->first, options.local_addr->second, true)).front();
  }
  if (options.remote_addr) {
    remote = (co_await detail::resolve(loop, options.remote_addr->first, options.remote_addr->second, false)).front();
  }
  const unsigned family = (local ? local : remote)->ss_family;
  auto* raw = new detail::DatagramState(loop, options.max_queued);
  if (const int err = uv_udp_init_ex(detail::uv_loop_of(loop), &raw->m_handle, family); err != 0) {
    delete raw;  // the handle was not initialised: nothing to close
    detail::throw_uv_error(err, "creating a UDP socket");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&raw->m_handle));
  raw->attach();
  DatagramEndpoint endpoint(std::shared_ptr<detail::DatagramState>(raw, detail::DatagramState::Deleter{}));
  if (options.reuse_port) {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(&raw->m_handle), &fd);
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) detail::throw_uv_error(-errno, "SO_REUSEPORT");
  }
  if (local) {
    if (const int err = uv_udp_bind(&raw->m_handle, reinterpret_cast<const sockaddr*>(&*local), 0); err != 0) {
      detail::throw_uv_error(err, fmt::format("binding {}", detail::to_address(reinterpret_cast<sockaddr*>(&*local)).to_string()));
    }
  }
  if (options.allow_broadcast) uv_udp_set_broadcast(&raw->m_handle, 1);
  if (remote) {
    if (const int err = uv_udp_connect(&raw->m_handle, reinterpret_cast<const sockaddr*>(&*remote)); err != 0) {
      detail::throw_uv_error(err, "connecting the UDP socket");
    }
    raw->m_peer = detail::to_address(reinterpret_cast<sockaddr*>(&*remote));
  }
  raw->start_receiving();
  co_return endpoint;
}

}  // namespace concur::asyncio
