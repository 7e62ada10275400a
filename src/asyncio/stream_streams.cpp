// SPDX-License-Identifier: MIT
// StreamReader, StreamWriter, open_connection and open_unix_connection.
#include <fmt/core.h>

#include <cassert>

#include "concur/asyncio/streams.hpp"
#include "net_uv.hpp"
#include "stream_tls.hpp"
#include "stream_transport.hpp"

namespace concur::asyncio {

namespace detail {

namespace {

using DataAwaiter = StreamAwaiter<StreamOp::data>;

/// Takes the first `n` buffered bytes.
std::string take(StreamTransport& t, std::size_t n) {
  std::string out(t.buffered().substr(0, n));
  t.consume(out.size());
  return out;
}

Task<std::string> read_impl(std::shared_ptr<StreamTransport> t, std::ptrdiff_t n) {
  t->check_error();
  if (n == 0) co_return std::string();
  if (n < 0) {
    // Everything until EOF (Python reads `limit`-sized blocks; the result is the same).
    while (!t->eof()) co_await DataAwaiter(*t);
    t->check_error();
    co_return take(*t, t->buffered().size());
  }
  if (t->buffered().empty() && !t->eof()) co_await DataAwaiter(*t);
  co_return take(*t, static_cast<std::size_t>(n));
}

Task<std::string> readexactly_impl(std::shared_ptr<StreamTransport> t, std::size_t n) {
  t->check_error();
  while (t->buffered().size() < n) {
    if (t->eof()) {
      std::string partial = take(*t, t->buffered().size());
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await DataAwaiter(*t);
  }
  co_return take(*t, n);
}

/// Python's StreamReader.readuntil, step for step (see the header for the contract).
Task<std::string> readuntil_impl(std::shared_ptr<StreamTransport> t, std::string separator) {
  if (separator.empty()) throw ValueError("Separator should be at least one-byte string");
  t->check_error();
  const std::size_t seplen = separator.size();
  std::size_t offset = 0;
  std::size_t found = std::string_view::npos;
  for (;;) {
    const std::string_view buf = t->buffered();
    if (buf.size() >= offset + seplen) {
      found = buf.find(separator, offset);
      if (found != std::string_view::npos) break;
      offset = buf.size() + 1 - seplen;  // the separator may start in the bytes still to come
      if (offset > t->limit()) {
        throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
      }
    }
    if (t->eof()) {
      t->check_error();
      throw IncompleteReadError(take(*t, buf.size()), 0);
    }
    co_await DataAwaiter(*t);
  }
  if (found > t->limit()) throw LimitOverrunError("Separator is found, but chunk is longer than limit", found);
  co_return take(*t, found + seplen);
}

Task<std::string> readline_impl(std::shared_ptr<StreamTransport> t) {
  try {
    co_return co_await readuntil_impl(t, "\n");
  } catch (const IncompleteReadError& e) {
    co_return e.partial();  // the last line without "\n", or "" at EOF
  } catch (const LimitOverrunError& e) {
    // Python's readline(): the over-long line is dropped, up to and including its "\n" if it
    // arrived, else everything buffered, so that the next readline() makes progress.
    const std::string_view buf = t->buffered();
    const std::size_t end = e.consumed() < buf.size() && buf[e.consumed()] == '\n' ? e.consumed() + 1 : buf.size();
    t->consume(end);
    throw ValueError(e.what());
  }
}

/// A uv_connect request: owned by the awaiting coroutine, or by the callback once cancelled
/// (closing the handle makes libuv call it with UV_ECANCELED).
struct ConnectReq {
  uv_connect_t req{};
  IoWait* waiter = nullptr;
  int status = 0;
};

class ConnectAwaiter {
 public:
  ConnectAwaiter(StreamTransport& t, const sockaddr* address, std::string path)
      : m_transport(t), m_address(address), m_path(std::move(path)) {}
  ConnectAwaiter(const ConnectAwaiter&) = delete;
  ConnectAwaiter& operator=(const ConnectAwaiter&) = delete;
  ~ConnectAwaiter() { delete m_req; }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    m_req = new ConnectReq;
    m_req->req.data = m_req;
    if (m_transport.kind() == StreamTransport::Kind::tcp) {
      if (const int err = uv_tcp_connect(&m_req->req, m_transport.tcp(), m_address, &on_connect); err != 0) {
        m_req->status = err;
        return false;
      }
    } else {
      uv_pipe_connect(&m_req->req, m_transport.pipe(), m_path.c_str(), &on_connect);
    }
    m_req->waiter = &m_wait;
    m_wait.m_source = this;
    m_wait.m_detach = [](IoWait* w) noexcept {
      // The request now belongs to the callback. The coroutine unwinds and drops the
      // transport, whose close makes libuv call it with UV_ECANCELED.
      auto* self = static_cast<ConnectAwaiter*>(w->m_source);
      std::exchange(self->m_req, nullptr)->waiter = nullptr;
    };
    m_wait.suspend(h);
    return true;
  }
  /// 0 or the libuv error. CancelledError if cancelled.
  int await_resume() {
    m_wait.resume();
    return m_req->status;
  }

 private:
  static void on_connect(uv_connect_t* req, int status) noexcept {
    auto* r = static_cast<ConnectReq*>(req->data);
    if (r->waiter == nullptr) {
      delete r;
      return;
    }
    r->status = status;
    std::exchange(r->waiter, nullptr)->fire();
  }

  StreamTransport& m_transport;
  const sockaddr* m_address;
  std::string m_path;
  ConnectReq* m_req = nullptr;  // owned; null once the request belongs to the callback
  IoWait m_wait;
};

}  // namespace

}  // namespace detail

// ---- StreamReader ----------------------------------------------------------------------------

const std::shared_ptr<detail::StreamTransport>& StreamReader::transport() const {
  if (!m_transport) throw RuntimeError("empty StreamReader (default-constructed or moved from)");
  return m_transport;
}

Task<std::string> StreamReader::read(std::ptrdiff_t n) { return detail::read_impl(transport(), n); }
Task<std::string> StreamReader::readline() { return detail::readline_impl(transport()); }
Task<std::string> StreamReader::readexactly(std::size_t n) { return detail::readexactly_impl(transport(), n); }
Task<std::string> StreamReader::readuntil(std::string separator) {
  return detail::readuntil_impl(transport(), std::move(separator));
}
bool StreamReader::at_eof() const noexcept { return m_transport && m_transport->eof() && m_transport->buffered().empty(); }
std::exception_ptr StreamReader::exception() const noexcept { return m_transport ? m_transport->error_ptr() : nullptr; }
std::size_t StreamReader::limit() const noexcept { return m_transport ? m_transport->limit() : default_stream_limit; }
std::string_view StreamReader::buffered() const noexcept { return m_transport ? m_transport->buffered() : std::string_view(); }
void StreamReader::consume(std::size_t n) {
  if (n > transport()->buffered().size()) throw ValueError("consume(): more bytes than are buffered");
  m_transport->consume(n);
}

// ---- StreamWriter ----------------------------------------------------------------------------

const std::shared_ptr<detail::StreamTransport>& StreamWriter::transport() const {
  if (!m_transport) throw RuntimeError("empty StreamWriter (default-constructed or moved from)");
  return m_transport;
}

void StreamWriter::write(std::string_view data) {
  uv_buf_t buf;  // not uv_buf_init(): a call into libuv on every write
  buf.base = const_cast<char*>(data.data());
  buf.len = data.size();
  transport()->write(&buf, 1);
}

void StreamWriter::writelines(const std::vector<std::string_view>& pieces) {
  std::vector<uv_buf_t> bufs;
  bufs.reserve(pieces.size());
  for (std::string_view p : pieces) bufs.push_back(uv_buf_init(const_cast<char*>(p.data()), static_cast<unsigned>(p.size())));
  transport()->write(bufs.data(), static_cast<unsigned>(bufs.size()));
}

void StreamWriter::writelines(std::initializer_list<std::string_view> pieces) {
  writelines(std::vector<std::string_view>(pieces));
}

void StreamWriter::write_eof() { transport()->write_eof(); }
void StreamWriter::close() { transport()->close(); }
void StreamWriter::abort() { transport()->abort(); }
bool StreamWriter::is_closing() const noexcept { return !m_transport || m_transport->is_closing(); }
std::size_t StreamWriter::get_write_buffer_size() const noexcept { return m_transport ? m_transport->write_buffer_size() : 0; }

std::optional<Address> StreamWriter::get_extra_info(std::string_view name) const {
  if (name == "peername") return transport()->peername();
  if (name == "sockname") return transport()->sockname();
  return std::nullopt;
}

std::optional<ssl::SSLObject> StreamWriter::ssl_object() const {
  std::shared_ptr<ssl::detail::SSLSession> s = transport()->tls_session();
  if (!s) return std::nullopt;
  return ssl::SSLObject(std::move(s));
}

Task<void> StreamWriter::start_tls(ssl::SSLContext context, StartTlsOptions options) {
  std::shared_ptr<detail::StreamTransport> t = transport();
  if (t->tls()) throw RuntimeError("start_tls(): the connection already uses TLS");
  if (t->is_closing()) throw RuntimeError("start_tls(): the connection is closed");
  // A connection a server accepted is the server's side (Python: the protocol has a
  // client_connected callback).
  const bool server_side = t->m_client_connected != nullptr;
  auto session = std::make_shared<ssl::detail::SSLSession>(
      context, server_side, server_side ? std::nullopt : options.server_hostname);
  co_await detail::StreamAwaiter<detail::StreamOp::drain>(*t);
  if (t->is_closing()) throw ConnectionResetError("Connection lost");
  co_await detail::tls_handshake(t, std::move(session),
                                 options.ssl_handshake_timeout.value_or(detail::default_ssl_handshake_timeout),
                                 options.ssl_shutdown_timeout.value_or(detail::default_ssl_shutdown_timeout));
}

void StreamWriter::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  const std::size_t lo = low.value_or(high / 4);
  if (lo > high) throw ValueError(fmt::format("high ({}) must be >= low ({})", high, lo));
  transport()->set_write_buffer_limits(high, lo);
}

// ---- connecting --------------------------------------------------------------------------------

namespace detail {
namespace {

/// One connection attempt; the error (a libuv code) if it fails.
Task<int> try_connect(std::shared_ptr<StreamTransport> t, const sockaddr* address, std::string path) {
  ConnectAwaiter connect(*t, address, std::move(path));
  co_return co_await connect;
}

/// Python's checks of the TLS options; the client session if `ssl` is set.
std::shared_ptr<ssl::detail::SSLSession> client_session(const StreamOptions& options, std::optional<std::string> hostname) {
  if (!options.ssl) {
    if (options.server_hostname) throw ValueError("server_hostname is only meaningful with ssl");
    if (options.ssl_handshake_timeout) throw ValueError("ssl_handshake_timeout is only meaningful with ssl connections");
    if (options.ssl_shutdown_timeout) throw ValueError("ssl_shutdown_timeout is only meaningful with ssl connections");
    return nullptr;
  }
  if (options.ssl_handshake_timeout && options.ssl_handshake_timeout->count() <= 0) {
    throw ValueError("ssl_handshake_timeout should be a positive number");
  }
  if (options.ssl_shutdown_timeout && options.ssl_shutdown_timeout->count() <= 0) {
    throw ValueError("ssl_shutdown_timeout should be a positive number");
  }
  return std::make_shared<ssl::detail::SSLSession>(*options.ssl, false, options.server_hostname ? options.server_hostname
                                                                                               : std::move(hostname));
}

/// The connection made: the TLS handshake if asked, then the reader and writer.
Task<std::pair<StreamReader, StreamWriter>> connected(std::shared_ptr<StreamTransport> t,
                                                      std::shared_ptr<ssl::detail::SSLSession> session,
                                                      const StreamOptions& options) {
  t->on_connected();
  if (session) {
    co_await tls_handshake(t, std::move(session), options.ssl_handshake_timeout.value_or(default_ssl_handshake_timeout),
                           options.ssl_shutdown_timeout.value_or(default_ssl_shutdown_timeout));
  }
  co_return std::pair{StreamReader(t), StreamWriter(t)};
}

}  // namespace
}  // namespace detail

Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  if (options.limit == 0) throw ValueError("limit must be positive");
  std::shared_ptr<ssl::detail::SSLSession> session = detail::client_session(options, host);
  const std::vector<sockaddr_storage> addresses = co_await detail::resolve(loop, host, port, false);
  int error = 0;
  for (const sockaddr_storage& ss : addresses) {
    std::shared_ptr<detail::StreamTransport> t =
        detail::StreamTransport::create(loop, detail::StreamTransport::Kind::tcp, options.limit);
    error = co_await detail::try_connect(t, reinterpret_cast<const sockaddr*>(&ss), {});
    if (error == 0) co_return co_await detail::connected(std::move(t), std::move(session), options);
    // `t` closes here; the next address is tried (Python's happy-eyeballs-free default).
  }
  detail::throw_uv_error(error, fmt::format("Connect call failed ('{}', {})", host, port));
}

Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  if (options.limit == 0) throw ValueError("limit must be positive");
  if (options.ssl && !options.server_hostname) throw ValueError("you have to pass server_hostname when using ssl");
  std::shared_ptr<ssl::detail::SSLSession> session = detail::client_session(options, std::nullopt);
  std::shared_ptr<detail::StreamTransport> t =
      detail::StreamTransport::create(loop, detail::StreamTransport::Kind::pipe, options.limit);
  const int error = co_await detail::try_connect(t, nullptr, path);
  if (error != 0) detail::throw_uv_error(error, fmt::format("Connect call failed ('{}')", path));
  co_return co_await detail::connected(std::move(t), std::move(session), options);
}

}  // namespace concur::asyncio
