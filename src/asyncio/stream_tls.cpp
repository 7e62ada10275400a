// SPDX-License-Identifier: MIT
// TLS on stream connections: the StreamTransport's TLS paths (ciphertext in, plaintext to the
// reader, encrypted writes, close_notify), the handshake, and StreamWriter::start_tls.
#include "stream_tls.hpp"

#include <fmt/core.h>

#include <cassert>

#include "concur/asyncio/timeouts.hpp"
#include "net_uv.hpp"

namespace concur::asyncio::detail {

using Result = ssl::detail::SSLSession::Result;

// ---- the transport's TLS paths ---------------------------------------------------------------

void StreamTransport::start_tls(std::shared_ptr<ssl::detail::SSLSession> session, Timeout shutdown_timeout) {
  assert(!m_tls);
  auto state = std::make_unique<TlsState>();
  state->session = std::move(session);
  state->shutdown_timeout = shutdown_timeout;
  m_tls = std::move(state);
  if (!tls_advance_handshake()) return;  // a client's ClientHello goes out now
  if (!m_reading && !m_eof && m_state == State::open) resume_reading();
}

std::shared_ptr<ssl::detail::SSLSession> StreamTransport::tls_session() const noexcept {
  return m_tls ? m_tls->session : nullptr;
}

bool StreamTransport::tls_handshake_settled() const noexcept {
  return !m_tls || m_tls->session->handshake_done() || m_eof || m_error != 0 || m_state != State::open;
}

void StreamTransport::tls_handshake_result() const {
  if (m_tls && m_tls->session->handshake_done() && m_error == 0 && m_state == State::open) return;
  check_error();
  // The peer closed (or this side closed or aborted) before the handshake completed: what
  // Python's sslproto reports as ConnectionResetError.
  throw ConnectionResetError("Connection lost during the TLS handshake");
}

bool StreamTransport::tls_advance_handshake() noexcept {
  ssl::detail::SSLSession& s = *m_tls->session;
  const Result r = s.do_handshake();
  if (r == Result::failed) {
    tls_fail(s.error());  // sends the alert the failure produced first
    return false;
  }
  tls_send_output();
  if (r == Result::closed) {  // close_notify in the middle of a handshake
    tls_fail(std::make_exception_ptr(ConnectionResetError("Connection lost during the TLS handshake")));
    return false;
  }
  if (m_state != State::open || m_error != 0) return false;
  if (r == Result::ok && !m_tls->pending.empty()) {
    // What was written while the handshake ran goes out now, encrypted.
    const std::string pending = std::move(m_tls->pending);
    m_tls->pending.clear();
    uv_buf_t buf;
    buf.base = const_cast<char*>(pending.data());
    buf.len = pending.size();
    tls_write(&buf, 1);
  }
  return m_state == State::open && m_error == 0;
}

void StreamTransport::tls_received(const char* data, std::size_t n) noexcept {
  ssl::detail::SSLSession& s = *m_tls->session;
  try {
    s.feed(data, n);
  } catch (...) {
    lose(UV_ENOMEM);
    return;
  }
  bool wake = false;
  if (!s.handshake_done()) {
    if (!tls_advance_handshake()) return;
    if (!s.handshake_done()) return;  // waits for more of the peer's messages
    wake = true;                      // the task waiting for the handshake
  }
  const std::size_t before = m_buffer.size();
  bool out_of_memory = false;
  const Result r = s.read([&](const char* p, std::size_t len) {
    if (out_of_memory) return;
    try {
      m_buffer.append(p, len);
    } catch (...) {
      out_of_memory = true;
    }
  });
  if (out_of_memory) {
    lose(UV_ENOMEM);
    return;
  }
  if (r == Result::failed) {
    tls_fail(s.error());
    return;
  }
  tls_send_output();  // what reading produced (a key update's answer)
  if (m_state != State::open || m_error != 0) return;
  if (r == Result::closed) {
    // The peer's close_notify: the reader sees EOF. The connection stays open for writing
    // until this side closes (see streams.hpp).
    m_eof = true;
    if (m_reading) uv_read_stop(stream());
    m_reading = false;
    wake = true;
  }
  if (m_buffer.size() > 2 * m_limit) pause_reading();
  if (m_buffer.size() != before) wake = true;
  if (wake && wake_reader()) m_loop->impl().io_woke(*m_loop);  // last: may run tasks that close this
}

void StreamTransport::tls_write(const uv_buf_t* bufs, unsigned count) {
  ssl::detail::SSLSession& s = *m_tls->session;
  if (!s.handshake_done()) {
    for (unsigned i = 0; i < count; ++i) m_tls->pending.append(bufs[i].base, bufs[i].len);
    return;
  }
  if (s.shutdown_sent()) return;  // after write_eof(): dropped, as after a plaintext close
  for (unsigned i = 0; i < count; ++i) {
    if (bufs[i].len == 0) continue;
    if (!s.write(bufs[i].base, bufs[i].len)) {
      tls_fail(s.error());
      return;
    }
  }
  tls_send_output();
}

void StreamTransport::tls_send_output() noexcept {
  ssl::detail::SSLSession& s = *m_tls->session;
  const std::string_view out = s.output();
  if (out.empty()) return;
  uv_buf_t buf;
  buf.base = const_cast<char*>(out.data());
  buf.len = out.size();
  try {
    write_plain(&buf, 1, out.size());
  } catch (...) {
    s.clear_output();
    lose(UV_ENOMEM);
    return;
  }
  s.clear_output();
}

void StreamTransport::tls_write_eof() noexcept {
  ssl::detail::SSLSession& s = *m_tls->session;
  if (!s.handshake_done()) return;
  m_eof_written = true;
  s.shutdown();
  tls_send_output();
}

void StreamTransport::tls_close_notify() noexcept {
  ssl::detail::SSLSession& s = *m_tls->session;
  if (!s.handshake_done() || m_error != 0) return;
  s.shutdown();
  tls_send_output();
}

void StreamTransport::tls_arm_shutdown_timer() noexcept {
  try {
    m_tls->shutdown_timer = m_loop->call_later(m_tls->shutdown_timeout, [this] { abort(); });
  } catch (...) {
    abort();  // no timer (the loop is closing): nothing can wait for the queue to drain
  }
}

void StreamTransport::tls_fail(std::exception_ptr error) noexcept {
  if (!m_tls->error) m_tls->error = std::move(error);
  // The alert that tells the peer why (unknown CA, certificate required, ...) goes out before
  // the connection is torn down.
  const std::string_view out = m_tls->session->output();
  if (!out.empty() && m_state == State::open && m_error == 0) {
    uv_buf_t buf;
    buf.base = const_cast<char*>(out.data());
    buf.len = out.size();
    try {
      write_plain(&buf, 1, out.size());
    } catch (...) {
    }
    flush_unsent();
  }
  m_tls->session->clear_output();
  lose(UV_EPROTO);
}

// ---- the handshake -----------------------------------------------------------------------------

namespace {

/// Waits until the handshake settles. It uses the connection's reader slot: nothing else may
/// read while the handshake runs.
class HandshakeAwaiter {
 public:
  explicit HandshakeAwaiter(StreamTransport& t) noexcept : m_transport(t) {}
  HandshakeAwaiter(const HandshakeAwaiter&) = delete;
  HandshakeAwaiter& operator=(const HandshakeAwaiter&) = delete;
  bool await_ready() const noexcept { return m_transport.tls_handshake_settled(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_transport.register_wait(StreamOp::data, m_wait);
    m_wait.suspend(h);
  }
  void await_resume() { m_wait.resume(); }

 private:
  StreamTransport& m_transport;
  IoWait m_wait;
};

Task<void> wait_handshake(std::shared_ptr<StreamTransport> t) {
  while (!t->tls_handshake_settled()) co_await HandshakeAwaiter(*t);
  t->tls_handshake_result();
}

}  // namespace

Task<void> tls_handshake(std::shared_ptr<StreamTransport> t, std::shared_ptr<ssl::detail::SSLSession> session,
                         Timeout handshake_timeout, Timeout shutdown_timeout) {
  t->start_tls(std::move(session), shutdown_timeout);
  std::exception_ptr error;
  try {
    co_await asyncio::timeout(handshake_timeout, wait_handshake(t));
  } catch (const TimeoutError&) {
    error = t->tls_handshake_settled()
                ? std::current_exception()
                : std::make_exception_ptr(TimeoutError(fmt::format(
                      "SSL handshake is taking longer than {} seconds: aborting the connection", handshake_timeout.count())));
  } catch (...) {  // the handshake's error, or CancelledError
    error = std::current_exception();
  }
  if (error) {
    t->abort();  // nothing is left behind: the handle closes in this loop iteration
    std::rethrow_exception(error);
  }
}

Task<void> serve_tls_connection(std::shared_ptr<StreamTransport> t, std::shared_ptr<const ClientConnected> cb,
                                ssl::SSLContext ctx, Timeout handshake_timeout, Timeout shutdown_timeout) {
  EventLoop& loop = t->loop();
  std::exception_ptr failed;
  try {
    auto session = std::make_shared<ssl::detail::SSLSession>(ctx, true, std::nullopt);
    co_await tls_handshake(t, std::move(session), handshake_timeout, shutdown_timeout);
  } catch (const std::exception&) {
    failed = std::current_exception();
  }
  if (failed) {
    t->abort();
    if (loop.get_debug()) loop.call_exception_handler({"SSL handshake failed", failed, {}});
    co_return;
  }
  StreamReader reader(t);
  StreamWriter writer(std::move(t));
  co_await (*cb)(std::move(reader), std::move(writer));
}

}  // namespace concur::asyncio::detail
