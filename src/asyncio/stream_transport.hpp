// SPDX-License-Identifier: MIT
// The libuv side of a stream connection (private to src/asyncio/): one uv_tcp_t or uv_pipe_t,
// the read buffer, the write queue and the tasks waiting on them. StreamReader and
// StreamWriter are handles to it (std::shared_ptr); see concur/asyncio/streams.hpp.
//
// Reading: libuv reads into one 64 KiB scratch buffer per thread and the bytes are appended to
// m_buffer, so an idle connection holds no read buffer beyond its unconsumed bytes (an emptied
// buffer goes back to a small per-thread pool for the next connection that reads). Reading
// pauses when more than 2 × limit bytes are buffered (Python's rule) and resumes when a reader
// waits or the buffer falls to the limit.
// Writing: a small write() made while the loop runs is copied to m_unsent, and the loop sends
// it after the callbacks of its iteration (before it polls again; sooner once 32 connections
// have bytes waiting), with whatever else they wrote to the connection: one system call. A
// large write, or one made while the loop is not running, is sent at once (what uv_try_write
// does: one system call, no copy). What the socket does not take is copied into one uv_write
// request, and later writes queue behind it.
// Closing: close() stops reading and closes the handle once the queued writes are done;
// abort() and connection loss close it at once, and so does EventLoop::close() if the
// connection is still open then. The object is deleted when the handle is closed and no handle
// (shared_ptr) or suspended awaiter (pin()) refers to it any more — whichever comes last.
// TLS (stream_tls.cpp): once start_tls() is called, what the socket reads is ciphertext for the
// connection's SSLSession and m_buffer receives the plaintext it decrypts; write() encrypts and
// sends the ciphertext through the same path as plaintext (deferral, queue, water marks: the
// counts are of ciphertext bytes); close() sends close_notify first.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "concur/asyncio/streams.hpp"
#include "concur/ssl.hpp"
#include "loop_impl.hpp"
#include "byte_buffer.hpp"

namespace concur::asyncio::detail {

/// A connection of `server` closed: unlink it (defined in stream_server.cpp).
void server_client_closed(ServerState& server, StreamTransport& t) noexcept;

struct TlsState;  // a TLS connection's session and shutdown timer (stream_tls.hpp)

class StreamTransport : public FlushNode {  // the node: in the loop's flush list while m_unsent has bytes
 public:
  enum class Kind : std::uint8_t { tcp, pipe };
  enum class State : std::uint8_t { open, closing, closed };

  /// A transport with an initialised (not yet connected) handle on `loop`.
  static std::shared_ptr<StreamTransport> create(EventLoop& loop, Kind kind, std::size_t limit);

  [[nodiscard]] uv_stream_t* stream() noexcept { return &m_handle.stream; }
  [[nodiscard]] uv_tcp_t* tcp() noexcept { return &m_handle.tcp; }
  [[nodiscard]] uv_pipe_t* pipe() noexcept { return &m_handle.pipe; }
  [[nodiscard]] Kind kind() const noexcept { return m_kind; }
  [[nodiscard]] EventLoop& loop() const noexcept { return *m_loop; }

  /// The handle is connected (accepted or connect() succeeded): TCP_NODELAY, start reading.
  void on_connected();

  // ---- reading ---------------------------------------------------------------------------
  [[nodiscard]] std::string_view buffered() const noexcept {
    return m_buffer.view();
  }
  void consume(std::size_t n) noexcept;
  [[nodiscard]] bool eof() const noexcept { return m_eof; }
  [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }
  /// Throws the connection's error, if any (Python: StreamReader._exception).
  void check_error() const;
  [[nodiscard]] std::exception_ptr error_ptr() const noexcept;
  /// Unregisters the task waiting for data (its wait was cancelled).
  void forget_reader(IoWait* w) noexcept;

  // ---- writing ---------------------------------------------------------------------------
  void write(const uv_buf_t* bufs, unsigned count);
  void write_eof();
  /// Bytes written and not sent yet (deferred to the end of the loop's iteration, or queued).
  [[nodiscard]] std::size_t write_buffer_size() const noexcept { return m_queued + m_unsent.size(); }
  void set_write_buffer_limits(std::size_t high, std::size_t low) noexcept {
    m_high = high;
    m_low = low;
  }

  // ---- closing ---------------------------------------------------------------------------
  void close() noexcept;
  void abort() noexcept;
  [[nodiscard]] bool is_closing() const noexcept { return m_state != State::open || m_error != 0; }
  [[nodiscard]] State state() const noexcept { return m_state; }
  [[nodiscard]] int error() const noexcept { return m_error; }
  /// True once EventLoop::close() closed the connection (it outlived its loop).
  [[nodiscard]] bool loop_closed() const noexcept { return m_loop_closed; }

  // ---- awaiters (see streams.hpp) --------------------------------------------------------
  bool ready(StreamOp op) const noexcept;
  void register_wait(StreamOp op, IoWait& w);
  void result(StreamOp op) const;
  /// A suspended awaiter holds the object (see StreamAwaiter): it is not deleted meanwhile.
  void pin() noexcept { ++m_pins; }
  /// Ends a pin(); deletes the object if it is closed and no handle refers to it any more.
  void unpin() noexcept;

  [[nodiscard]] std::optional<Address> peername() noexcept;
  [[nodiscard]] std::optional<Address> sockname() noexcept;

  // ---- TLS (stream_tls.cpp) ----------------------------------------------------------------
  /// From now on the connection speaks TLS through `session`: starts the handshake (a client
  /// sends its ClientHello now). close() waits at most `shutdown_timeout` for the queued data
  /// and close_notify to be sent, then aborts.
  void start_tls(std::shared_ptr<ssl::detail::SSLSession> session, Timeout shutdown_timeout);
  [[nodiscard]] bool tls() const noexcept { return m_tls != nullptr; }
  /// The TLS session, or null for a plaintext connection.
  [[nodiscard]] std::shared_ptr<ssl::detail::SSLSession> tls_session() const noexcept;
  /// The handshake completed, failed, or the connection was lost or closed meanwhile.
  [[nodiscard]] bool tls_handshake_settled() const noexcept;
  /// After tls_handshake_settled(): returns if the handshake completed, else throws why it did
  /// not (SSLError, SSLCertVerificationError, ConnectionResetError, the socket's error).
  void tls_handshake_result() const;

  // ---- the server this connection was accepted by (ServerState keeps a list) ---------------
  ServerState* m_server = nullptr;
  StreamTransport* m_prev_client = nullptr;
  StreamTransport* m_next_client = nullptr;
  std::shared_ptr<const ClientConnected> m_client_connected;  // the server's callback, kept alive for its task

 private:
  StreamTransport(EventLoop& loop, Kind kind, std::size_t limit) noexcept;  // out of line: TlsState is incomplete here
  ~StreamTransport();
  struct Deleter {
    void operator()(StreamTransport* t) const noexcept { t->release_handles(); }
  };
  void release_handles() noexcept;  // the last shared_ptr is gone
  void lose(int err) noexcept;      // the connection failed: remember why, close at once
  void really_close() noexcept;
  /// uv_try_write() with nothing queued: the bytes written (0 if the socket is full), or a
  /// libuv error code.
  [[gnu::always_inline]] inline int try_write(const uv_buf_t* bufs, unsigned count) noexcept;
  /// Copies the bytes of `bufs` after the first `skip` into one uv_write request.
  void queue_write(const uv_buf_t* bufs, unsigned count, std::size_t total, std::size_t skip);
  /// Sends m_unsent (what the socket does not take now is queued); wakes drain() waiters.
  /// Inlined into LoopImpl::flush_deferred(), like try_write(): fewer returns to mispredict after
  /// the system call.
  [[gnu::always_inline]] inline void send_unsent() noexcept;
  friend struct LoopImpl;  // flush_deferred() sends m_unsent
  void pause_reading() noexcept;
  void resume_reading() noexcept;
  /// Wakes the task waiting to read, if any; true if there was one.
  bool wake_reader() noexcept {
    IoWait* w = std::exchange(m_read_waiter, nullptr);
    if (w != nullptr) w->fire();
    return w != nullptr;
  }
  static void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_write(uv_write_t* req, int status) noexcept;
  static void on_close(uv_handle_t* h) noexcept;
  static void on_loop_close(LoopHandle* h) noexcept;
  /// write() once the checks passed: sends (or defers, or queues) `total` bytes as they are.
  void write_plain(const uv_buf_t* bufs, unsigned count, std::size_t total);
  // TLS (stream_tls.cpp)
  void tls_received(const char* data, std::size_t n) noexcept;  // ciphertext from the socket
  void tls_write(const uv_buf_t* bufs, unsigned count);          // encrypts and sends
  void tls_write_eof() noexcept;                                  // close_notify, reading goes on
  void tls_close_notify() noexcept;                               // close(): close_notify
  void tls_arm_shutdown_timer() noexcept;                         // close() waits for the queue
  bool tls_advance_handshake() noexcept;  // runs the handshake on; false if the connection failed
  void tls_send_output() noexcept;        // sends the ciphertext the session produced
  void tls_fail(std::exception_ptr error) noexcept;  // a TLS error: send the alert, then abort
  void flush_unsent() noexcept;  // send_unsent(), callable from other files (it is inlined here)

  union Handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } m_handle{};
  EventLoop* m_loop;               // only dereferenced while the handle is open (the loop is, then)
  LoopHandle m_loop_handle{&on_loop_close, this};  // linked to the loop from create() to on_close
  ByteBuffer m_buffer;             // received bytes not consumed yet
  ByteBuffer m_unsent;             // written during this loop iteration, sent at its end (m_queued == 0)
  std::size_t m_limit;             // StreamReader's limit (> 0)
  std::size_t m_queued = 0;        // bytes in uv_write requests not yet completed
  static constexpr std::size_t max_unsent = 16 * 1024;  // larger writes are not deferred
  std::size_t m_high = 64 * 1024;  // drain() waits above this ...
  std::size_t m_low = 16 * 1024;   // ... until the queue falls to this
  IoWait* m_read_waiter = nullptr; // the one task waiting for data (Python allows one reader)
  IoWaitList m_drain_waiters;
  IoWaitList m_closed_waiters;
  std::unique_ptr<TlsState> m_tls;  // null on a plaintext connection (see stream_tls.hpp)
  int m_error = 0;                 // the libuv error that lost the connection (negative), or 0
  std::uint32_t m_pins = 0;        // suspended StreamAwaiters: never deleted while > 0
  Kind m_kind;
  State m_state = State::open;
  bool m_eof = false;              // no more data will arrive (peer's EOF, close, or loss)
  bool m_reading = false;          // uv_read_start is in effect
  bool m_paused = false;           // reading paused because the buffer is over 2 × limit
  bool m_eof_written = false;      // write_eof() was called
  bool m_orphan = false;           // no shared_ptr refers to it any more
  bool m_loop_closed = false;      // closed by EventLoop::close(): writes raise RuntimeError
};

}  // namespace concur::asyncio::detail
