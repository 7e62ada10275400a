// SPDX-License-Identifier: MIT
// StreamTransport: a connection's libuv stream, read buffer, write queue and waiters.
#include "stream_transport.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <vector>

#include "net_uv.hpp"
#include "stream_server.hpp"
#include "stream_tls.hpp"

namespace concur::asyncio::detail {

namespace {

/// One uv_write request with the bytes it sends (one allocation).
struct WriteReq {
  uv_write_t req;
  StreamTransport* transport;
  std::size_t size;
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  static WriteReq* make(std::size_t size) {
    void* mem = ::operator new(sizeof(WriteReq) + size);
    auto* w = new (mem) WriteReq{};
    w->size = size;
    return w;
  }
  static void destroy(WriteReq* w) noexcept {
    w->~WriteReq();
    ::operator delete(w);
  }
};

/// libuv writes to sockets with write(), which raises SIGPIPE when the peer is gone; the
/// default action would kill the process. Python ignores SIGPIPE at start-up; concur does it
/// when the first stream is made, unless the program installed a handler of its own.
void ignore_sigpipe() noexcept {
  static const bool done = [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
    return true;
  }();
  (void)done;
}

void detach_reader(IoWait* w) noexcept {
  auto* t = static_cast<StreamTransport*>(w->m_source);
  t->forget_reader(w);
}

}  // namespace

std::shared_ptr<StreamTransport> StreamTransport::create(EventLoop& loop, Kind kind, std::size_t limit) {
  if (limit == 0) throw ValueError("limit must be positive");
  ignore_sigpipe();
  auto* t = new StreamTransport(loop, kind, limit);
  const int err = kind == Kind::tcp ? uv_tcp_init(uv_loop_of(loop), &t->m_handle.tcp)
                                    : uv_pipe_init(uv_loop_of(loop), &t->m_handle.pipe, 0);
  if (err != 0) {
    delete t;
    throw_uv_error(err, "creating a socket");
  }
  t->m_handle.handle.data = t;
  // Open connections do not keep libuv's loop alive on their own: the EventLoop decides when
  // to stop, and closing a loop never waits for a forgotten connection.
  uv_unref(&t->m_handle.handle);
  loop.impl().attach(t->m_loop_handle);
  return std::shared_ptr<StreamTransport>(t, Deleter{});
}

StreamTransport::StreamTransport(EventLoop& loop, Kind kind, std::size_t limit) noexcept
    : m_loop(&loop), m_limit(limit), m_kind(kind) {}

StreamTransport::~StreamTransport() {
  assert(m_read_waiter == nullptr && m_drain_waiters.empty() && m_closed_waiters.empty());
  assert(m_server == nullptr);
}

void StreamTransport::on_connected() {
  if (m_kind == Kind::tcp) uv_tcp_nodelay(&m_handle.tcp, 1);
  resume_reading();
}

// ---- reading ---------------------------------------------------------------------------------

void StreamTransport::on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) noexcept {
  // One scratch buffer per thread: the bytes are copied into the connection's buffer, so an
  // idle connection costs no read buffer (a copy of a request is cheaper than 64 KiB each).
  thread_local std::unique_ptr<char[]> scratch(new char[64 * 1024]);
  *buf = uv_buf_init(scratch.get(), 64 * 1024);
}

void StreamTransport::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* t = static_cast<StreamTransport*>(s->data);
  if (nread > 0 && t->m_tls) {
    t->tls_received(buf->base, static_cast<std::size_t>(nread));
  } else if (nread > 0) {
    try {
      t->m_buffer.append(buf->base, static_cast<std::size_t>(nread));
    } catch (...) {
      t->lose(UV_ENOMEM);
      return;
    }
    if (t->m_buffer.size() > 2 * t->m_limit) t->pause_reading();
    if (t->wake_reader()) t->m_loop->impl().io_woke(*t->m_loop);  // last: may run tasks that close `t`
  } else if (nread == UV_EOF) {
    t->m_eof = true;
    t->m_reading = false;  // libuv stops reading at EOF
    t->wake_reader();
  } else if (nread < 0) {
    t->lose(static_cast<int>(nread));
  }
}

void StreamTransport::pause_reading() noexcept {
  if (m_reading) uv_read_stop(stream());
  m_reading = false;
  m_paused = true;
}

void StreamTransport::resume_reading() noexcept {
  m_paused = false;
  if (m_reading || m_eof || m_state != State::open) return;
  const int err = uv_read_start(stream(), &on_alloc, &on_read);
  if (err != 0) {
    lose(err);
    return;
  }
  m_reading = true;
}

void StreamTransport::consume(std::size_t n) noexcept {
  assert(n <= m_buffer.size());
  m_buffer.consume(n);  // an emptied buffer holds no memory (see ByteBuffer)
  if (m_paused && m_buffer.size() <= m_limit) resume_reading();
}

void StreamTransport::forget_reader(IoWait* w) noexcept {
  if (m_read_waiter == w) m_read_waiter = nullptr;
}

void StreamTransport::check_error() const {
  if (m_error == 0) return;
  if (m_tls && m_tls->error) std::rethrow_exception(m_tls->error);
  throw_uv_error(m_error, "connection lost");
}

std::exception_ptr StreamTransport::error_ptr() const noexcept {
  if (m_error == 0) return nullptr;
  if (m_tls && m_tls->error) return m_tls->error;
  return uv_error_ptr(m_error, "connection lost");
}

// ---- writing ---------------------------------------------------------------------------------

static_assert(sizeof(uv_buf_t) == sizeof(iovec) && offsetof(uv_buf_t, base) == offsetof(iovec, iov_base) &&
              offsetof(uv_buf_t, len) == offsetof(iovec, iov_len));

inline int StreamTransport::try_write(const uv_buf_t* bufs, unsigned count) noexcept {
  // uv_try_write() does the same for a connected stream with no write queued, behind checks
  // that write() has already made (its calls were a measurable part of a server's user time
  // per request). On Unix a uv_buf_t is laid out as a struct iovec (libuv documents it).
  uv_os_fd_t fd = -1;
  if (uv_fileno(&m_handle.handle, &fd) != 0) {
    const int n = uv_try_write(stream(), bufs, count);
    return n == UV_EAGAIN || n == UV_ENOSYS ? 0 : n;
  }
  ssize_t n = 0;
  do {
    n = count == 1 ? ::write(fd, bufs[0].base, bufs[0].len)
                   : ::writev(fd, reinterpret_cast<const iovec*>(bufs), static_cast<int>(std::min(count, 1024u)));
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return static_cast<int>(std::min<ssize_t>(n, INT_MAX));
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return 0;
  return -errno;  // libuv's error codes are negated errno values on Unix
}

void StreamTransport::write(const uv_buf_t* bufs, unsigned count) {
  if (m_state != State::open || m_error != 0 || m_eof_written) {
    if (m_loop_closed) throw RuntimeError("write() on a connection whose event loop is closed");
    return;  // dropped, as Python does
  }
  if (m_tls) {
    tls_write(bufs, count);
    return;
  }
  std::size_t total = 0;
  for (unsigned i = 0; i < count; ++i) total += bufs[i].len;
  write_plain(bufs, count, total);
}

void StreamTransport::write_plain(const uv_buf_t* bufs, unsigned count, std::size_t total) {
  if (total == 0) return;
  if (m_queued == 0) {
    // A small write made while the loop runs is sent after this iteration's callbacks, with
    // whatever else they write to this connection meanwhile (one system call for all of it).
    // Besides saving system calls, this keeps them out of the tasks' call chains: on return
    // from a system call the CPU mispredicts the returns up the chain that made it, and
    // sending from the loop itself took about 13% off http_server's user time per request.
    if (count == 1 && m_unsent.size() + total <= max_unsent && m_loop->is_running()) {
      m_unsent.append(bufs[0].base, total);  // unchanged if it throws
      m_loop->impl().defer_flush(*this);
      return;
    }
    send_unsent();
    if (m_state != State::open || m_error != 0) return;
  }
  std::size_t sent = 0;
  if (m_queued == 0) {
    const int n = try_write(bufs, count);
    if (n < 0) {
      lose(n);
      return;
    }
    sent = static_cast<std::size_t>(n);
    if (sent == total) return;
  }
  queue_write(bufs, count, total, sent);
}

void StreamTransport::queue_write(const uv_buf_t* bufs, unsigned count, std::size_t total, std::size_t skip) {
  WriteReq* req = WriteReq::make(total - skip);
  req->transport = this;
  char* out = req->data();
  for (unsigned i = 0; i < count; ++i) {
    std::size_t len = bufs[i].len;
    const char* base = bufs[i].base;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    base += skip;
    len -= skip;
    skip = 0;
    std::memcpy(out, base, len);
    out += len;
  }
  const uv_buf_t buf = uv_buf_init(req->data(), static_cast<unsigned>(req->size));
  const int err = uv_write(&req->req, stream(), &buf, 1, &on_write);
  if (err != 0) {
    WriteReq::destroy(req);
    lose(err);
    return;
  }
  m_queued += req->size;
}

inline void StreamTransport::send_unsent() noexcept {
  if (m_unsent.empty()) return;
  m_loop->impl().cancel_flush(*this);
  const std::string_view bytes = m_unsent.view();
  uv_buf_t buf;
  buf.base = const_cast<char*>(bytes.data());
  buf.len = bytes.size();
  const int n = try_write(&buf, 1);
  if (n < 0) {
    m_unsent.consume(m_unsent.size());
    lose(n);
    return;
  }
  if (static_cast<std::size_t>(n) < bytes.size()) {
    try {
      queue_write(&buf, 1, bytes.size(), static_cast<std::size_t>(n));
    } catch (...) {
      m_unsent.consume(m_unsent.size());
      lose(UV_ENOMEM);
      return;
    }
  }
  m_unsent.consume(m_unsent.size());
  // A drain() waits while more than the high-water mark is buffered: these bytes counted too.
  if (m_queued <= m_low) m_drain_waiters.fire_all();
}

void StreamTransport::flush_unsent() noexcept { send_unsent(); }

void LoopImpl::flush_deferred() noexcept {
  while (FlushNode* n = flush_head) {
    cancel_flush(*n);
    static_cast<StreamTransport*>(n)->send_unsent();
  }
}

void StreamTransport::on_write(uv_write_t* r, int status) noexcept {
  auto* req = reinterpret_cast<WriteReq*>(r);
  StreamTransport* t = req->transport;
  t->m_queued -= req->size;
  WriteReq::destroy(req);
  if (status < 0 && status != UV_ECANCELED) {
    t->lose(status);
    return;
  }
  if (t->m_queued <= t->m_low) t->m_drain_waiters.fire_all();
  if (t->m_state == State::closing && t->m_queued == 0) t->really_close();
}

void StreamTransport::write_eof() {
  if (m_state != State::open || m_error != 0 || m_eof_written) return;
  if (m_tls) {
    tls_write_eof();
    return;
  }
  send_unsent();
  if (m_state != State::open || m_error != 0) return;
  m_eof_written = true;
  auto* req = new uv_shutdown_t{};
  // libuv shuts down once the queued writes are done.
  const int err = uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; });
  if (err != 0) {
    delete req;
    lose(err);
  }
}

// ---- closing ---------------------------------------------------------------------------------

void StreamTransport::close() noexcept {
  if (m_state != State::open) return;
  if (m_tls) {
    tls_close_notify();  // after the data written so far
    if (m_state != State::open) return;
  }
  send_unsent();  // the bytes written so far are sent before the connection closes
  if (m_state != State::open) return;
  m_state = State::closing;
  if (m_reading) uv_read_stop(stream());
  m_reading = false;
  m_eof = true;  // the reader sees EOF (Python: connection_lost -> feed_eof)
  wake_reader();
  if (m_queued == 0) {
    really_close();
  } else if (m_tls) {
    tls_arm_shutdown_timer();  // the peer has ssl_shutdown_timeout to take the rest
  }
}

void StreamTransport::abort() noexcept {
  if (m_state == State::closed) return;
  if (!m_unsent.empty()) {  // dropped, with the queued writes
    m_unsent.consume(m_unsent.size());
    m_loop->impl().cancel_flush(*this);
  }
  m_state = State::closing;
  m_reading = false;
  m_eof = true;
  wake_reader();
  really_close();
}

void StreamTransport::lose(int err) noexcept {
  if (m_error == 0) m_error = err;
  abort();
}

void StreamTransport::really_close() noexcept {
  if (uv_is_closing(&m_handle.handle)) return;
  uv_close(&m_handle.handle, &on_close);  // pending writes complete with UV_ECANCELED first
}

void StreamTransport::on_close(uv_handle_t* h) noexcept {
  auto* t = static_cast<StreamTransport*>(h->data);
  LoopImpl::detach(*t->m_loop, t->m_loop_handle);
  t->m_loop->impl().cancel_flush(*t);
  if (t->m_tls) t->m_tls->shutdown_timer.cancel();
  t->m_state = State::closed;
  t->m_eof = true;
  t->wake_reader();
  t->m_drain_waiters.fire_all();
  t->m_closed_waiters.fire_all();
  if (t->m_server != nullptr) server_client_closed(*t->m_server, *t);
  if (t->m_orphan && t->m_pins == 0) delete t;
}

void StreamTransport::on_loop_close(LoopHandle* h) noexcept {
  auto* t = static_cast<StreamTransport*>(h->m_owner);
  t->m_loop_closed = true;
  t->abort();  // on_close runs in the loop's last iteration
}

void StreamTransport::release_handles() noexcept {
  m_orphan = true;
  if (m_state == State::closed) {
    if (m_server != nullptr) server_client_closed(*m_server, *this);
    if (m_pins == 0) delete this;  // else the last unpin() deletes
    return;
  }
  close();  // queued data is still sent; on_close (or the last unpin()) deletes
}

void StreamTransport::unpin() noexcept {
  assert(m_pins > 0);
  if (--m_pins == 0 && m_orphan && m_state == State::closed) delete this;
}

// ---- awaiters ----------------------------------------------------------------------------------

bool StreamTransport::ready(StreamOp op) const noexcept {
  switch (op) {
    case StreamOp::data:
      return m_eof || m_error != 0;
    case StreamOp::drain:
      // Once close() or abort() tears the handle down, drain() waits for the close to finish
      // and raises ConnectionResetError, as Python's drain() does after its sleep(0) (the
      // transport's connection_lost() has run by then).
      if (m_error != 0) return true;
      if (m_state == State::closing && uv_is_closing(&m_handle.handle)) return false;
      return m_state == State::closed || write_buffer_size() <= m_high;
    case StreamOp::closed:
      return m_state == State::closed;
  }
  return true;
}

void StreamTransport::register_wait(StreamOp op, IoWait& w) {
  w.m_source = this;
  switch (op) {
    case StreamOp::data:
      if (m_read_waiter != nullptr) {
        throw RuntimeError("read() called while another coroutine is already waiting for incoming data");
      }
      m_read_waiter = &w;
      w.m_detach = &detach_reader;
      if (m_paused) resume_reading();
      break;
    case StreamOp::drain:
      m_drain_waiters.push(&w);
      w.m_detach = [](IoWait* x) noexcept { static_cast<StreamTransport*>(x->m_source)->m_drain_waiters.remove(x); };
      break;
    case StreamOp::closed:
      m_closed_waiters.push(&w);
      w.m_detach = [](IoWait* x) noexcept { static_cast<StreamTransport*>(x->m_source)->m_closed_waiters.remove(x); };
      break;
  }
}

void StreamTransport::result(StreamOp op) const {
  switch (op) {
    case StreamOp::data:
      check_error();
      break;
    case StreamOp::drain:
      check_error();
      if (m_state == State::closed) throw ConnectionResetError("Connection lost");
      break;
    case StreamOp::closed:
      break;
  }
}

std::optional<Address> StreamTransport::peername() noexcept {
  if (m_state == State::closed) return std::nullopt;
  if (m_kind == Kind::tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&m_handle.tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    return to_address(reinterpret_cast<const sockaddr*>(&ss));
  }
  char path[1024];
  std::size_t len = sizeof path;
  if (uv_pipe_getpeername(&m_handle.pipe, path, &len) != 0) return std::nullopt;
  return Address{Address::Family::unix_socket, std::string(path, len), 0};
}

std::optional<Address> StreamTransport::sockname() noexcept {
  if (m_state == State::closed) return std::nullopt;
  if (m_kind == Kind::tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(&m_handle.tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    return to_address(reinterpret_cast<const sockaddr*>(&ss));
  }
  char path[1024];
  std::size_t len = sizeof path;
  if (uv_pipe_getsockname(&m_handle.pipe, path, &len) != 0) return std::nullopt;
  return Address{Address::Family::unix_socket, std::string(path, len), 0};
}

// ---- the functions streams.hpp declares ------------------------------------------------------

bool stream_ready(StreamTransport& t, StreamOp op) noexcept { return t.ready(op); }
void stream_register(StreamTransport& t, StreamOp op, IoWait& w) { t.register_wait(op, w); }
void stream_result(StreamTransport& t, StreamOp op) { t.result(op); }
void stream_pin(StreamTransport& t) noexcept { t.pin(); }
void stream_unpin(StreamTransport& t) noexcept { t.unpin(); }

}  // namespace concur::asyncio::detail
