// SPDX-License-Identifier: MIT
// Networking helpers: the libuv loop of an EventLoop, libuv errors as Python-named
// exceptions, addresses, and name resolution through the loop.
#include "net_uv.hpp"

#include <fmt/core.h>

#include <cstring>
#include <memory>

#include "loop_impl.hpp"

namespace concur::asyncio {

std::string Address::to_string() const {
  switch (family) {
    case Family::ipv4:
      return fmt::format("{}:{}", host, port);
    case Family::ipv6:
      return fmt::format("[{}]:{}", host, port);
    case Family::unix_socket:
      return host;
    case Family::none:
      break;
  }
  return {};
}

namespace detail {

// ---- the uv_loop_t of an EventLoop -------------------------------------------------------------

uv_loop_t* uv_loop_of(EventLoop& loop) noexcept { return &loop.impl().loop; }

// ---- errors ----------------------------------------------------------------------------------

void throw_uv_error(int err, const std::string& what) {
  // The OSError family appends the errno's own message ("cannot run 'x': No such file or
  // directory"); only the exceptions that are not std::system_error get libuv's text here.
  const std::string message = what.empty() ? std::string(uv_strerror(err)) : fmt::format("{}: {}", what, uv_strerror(err));
  if (err == UV_ETIMEDOUT) throw TimeoutError(message);
  if (err == UV_ENOENT) throw FileNotFoundError(what);
  if (err == UV_EEXIST) throw FileExistsError(what);
  // UV_EAI_* (name resolution) are not errnos: Python raises socket.gaierror, an OSError;
  // here an OSError(EINVAL) whose message is the resolver's.
  if (err <= UV_EAI_ADDRFAMILY && err >= UV_EAI_SOCKTYPE) throw OSError(EINVAL, message);
  throw_os_error(-err, what);
}

std::exception_ptr uv_error_ptr(int err, const std::string& what) {
  try {
    throw_uv_error(err, what);
  } catch (...) {
    return std::current_exception();
  }
}

Address to_address(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, host, sizeof host);
    return {Address::Family::ipv4, host, ntohs(in->sin_port)};
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, host, sizeof host);
    return {Address::Family::ipv6, host, ntohs(in6->sin6_port)};
  }
  return {};
}

// ---- name resolution -------------------------------------------------------------------------

namespace {

/// A uv_getaddrinfo request. Owned by the awaiting coroutine until it is cancelled; then by
/// the callback, which libuv always calls (with UV_EAI_CANCELED if uv_cancel got it first).
struct ResolveReq {
  uv_getaddrinfo_t req{};
  IoWait* waiter = nullptr;
  addrinfo* result = nullptr;
  int status = 0;
  bool done = false;
};

class ResolveAwaiter {
 public:
  ResolveAwaiter(EventLoop& loop, const std::string& host, std::uint16_t port, bool passive)
      : m_loop(loop), m_host(host), m_port(std::to_string(port)), m_passive(passive) {}
  ResolveAwaiter(const ResolveAwaiter&) = delete;
  ResolveAwaiter& operator=(const ResolveAwaiter&) = delete;
  ~ResolveAwaiter() {
    if (m_req != nullptr && m_req->done) {
      uv_freeaddrinfo(m_req->result);
      delete m_req;
    }
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = m_passive ? AI_PASSIVE : AI_ADDRCONFIG;
    m_req = new ResolveReq;
    m_req->req.data = m_req;
    const int err = uv_getaddrinfo(uv_loop_of(m_loop), &m_req->req, &on_resolved, m_host.c_str(), m_port.c_str(), &hints);
    if (err != 0) {
      m_req->status = err;
      m_req->done = true;
      return false;
    }
    m_req->waiter = &m_wait;
    m_wait.m_source = m_req;
    m_wait.m_detach = [](IoWait* w) noexcept {
      auto* r = static_cast<ResolveReq*>(w->m_source);
      r->waiter = nullptr;  // the callback frees it
      uv_cancel(reinterpret_cast<uv_req_t*>(&r->req));
    };
    m_wait.suspend(h);
    return true;
  }
  std::vector<sockaddr_storage> await_resume() {
    ResolveReq* r = m_req;
    if (r->done) {
      // Collect before anything may throw (the destructor frees the request).
      std::vector<sockaddr_storage> out;
      for (addrinfo* ai = r->result; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        sockaddr_storage ss{};
        std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        out.push_back(ss);
      }
      m_wait.resume();
      if (r->status != 0) throw_uv_error(r->status, fmt::format("getaddrinfo('{}')", m_host));
      if (out.empty()) throw OSError(EINVAL, fmt::format("getaddrinfo('{}') returned no IP address", m_host));
      return out;
    }
    m_req = nullptr;  // cancelled: the callback owns it
    m_wait.resume();  // throws CancelledError
    return {};
  }

 private:
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) noexcept {
    auto* r = static_cast<ResolveReq*>(req->data);
    if (r->waiter == nullptr) {
      uv_freeaddrinfo(result);
      delete r;
      return;
    }
    r->status = status;
    r->result = result;
    r->done = true;
    std::exchange(r->waiter, nullptr)->fire();
  }

  EventLoop& m_loop;
  std::string m_host;
  std::string m_port;
  bool m_passive;
  ResolveReq* m_req = nullptr;
  IoWait m_wait;
};

bool parse_numeric(const std::string& host, std::uint16_t port, sockaddr_storage& out) {
  out = {};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
  out = {};
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return uv_ip6_addr(h.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

}  // namespace

Task<std::vector<sockaddr_storage>> resolve(EventLoop& loop, std::string host, std::uint16_t port, bool passive) {
  sockaddr_storage numeric{};
  if (parse_numeric(host, port, numeric)) co_return std::vector<sockaddr_storage>{numeric};  // no thread-pool trip
  co_return co_await ResolveAwaiter(loop, host, port, passive);
}

}  // namespace detail
}  // namespace concur::asyncio
