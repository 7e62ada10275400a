// SPDX-License-Identifier: MIT
// concur/asyncio/streams.hpp — TCP and Unix-domain streams: open_connection, start_server,
// StreamReader, StreamWriter, Server (Python's asyncio.streams).
//
//   asyncio::Task<void> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
//     std::string line = co_await reader.readline();
//     writer.write(line);
//     co_await writer.drain();
//   }
//   asyncio::Server server = co_await asyncio::start_server(handle, "127.0.0.1", 8888);
//   co_await server.serve_forever();
//
//   auto [reader, writer] = co_await asyncio::open_connection("localhost", 8888);
//
// Semantics are Python's 3.13:
//  * open_connection resolves the host through the loop (getaddrinfo on libuv's thread pool),
//    tries each address in turn (IPv4 and IPv6) and raises the last error if none connects.
//    start_server binds every address the host resolves to ("" = every interface, IPv4 and
//    IPv6); port 0 picks a free port (Server::port()). Sockets get TCP_NODELAY, as in Python.
//  * Each connection runs `client_connected(reader, writer)` as its own task. An exception
//    escaping it is reported to the loop's exception handler ("Task exception was never
//    retrieved", with the exception) and closes that connection; the server keeps serving.
//    When the handler returns and its reader and writer are gone, the connection is closed
//    (queued data is sent first; Python closes it when the StreamWriter is collected).
//  * When accept() fails (EMFILE/ENFILE: out of file descriptors; ENOBUFS, ENOMEM), the server
//    reports it to the loop's exception handler ("socket.accept() out of system resource",
//    with the OSError), at most once a second, and stops accepting for a second (Python's
//    ACCEPT_RETRY_DELAY) or until one of its connections closes, whichever comes first; the
//    new connections wait in the listen backlog meanwhile and are served once descriptors
//    are available again. It neither spins on the error nor stops serving for good.
//  * StreamReader buffers at most about 2 × limit bytes before it stops reading the socket (the
//    peer is then slowed down by TCP). readuntil() raises LimitOverrunError when no separator
//    is found within `limit` bytes and leaves the data in the buffer; readline() then drops
//    the over-long line (up to and including its "\n" if it arrived, else everything
//    buffered) and raises ValueError, so that the next readline() goes on with what follows.
//  * StreamWriter::write() never blocks and never fails: it sends what the socket takes and
//    queues the rest; drain() waits while more than the high-water mark (64 KiB) is queued,
//    until it falls to the low-water mark (16 KiB). A writer that always awaits drain() holds
//    at most high-water + one write of memory, whatever the reader's speed.
//    Unlike Python, a small write (up to 16 KiB in all) made while the loop runs is sent when
//    the callbacks of the loop's current iteration have run, before the loop waits for I/O
//    again (sooner when many connections have bytes waiting), together with whatever else
//    they wrote to that connection: one system call for all of it (a server answering
//    pipelined requests one write() at a time sends one packet), and none in the middle of
//    the task's work. Nothing waits longer than that iteration; get_write_buffer_size()
//    counts these bytes, drain() waits for them like for queued ones, close() and
//    write_eof() send them first, abort() drops them. Larger writes, and writes made while
//    the loop is not running, are sent at once.
//  * Errors: std::system_error subclasses named as Python's (ConnectionResetError,
//    ConnectionRefusedError, BrokenPipeError, ...) carrying the errno; IncompleteReadError and
//    LimitOverrunError from concur/errors.hpp.
//
// Several cores: an event loop runs on one thread. To serve one port from N cores, run N loops
// (N threads, or N processes), each calling start_server(..., {.reuse_port = true}) on the same
// host and port: every loop gets its own listening socket (SO_REUSEPORT) and the kernel spreads
// new connections among them. examples/http_server.cpp --workers N does exactly this.
//
// Beyond Python (for protocol parsers that want no copy): StreamReader::buffered() shows the
// bytes received so far, consume(n) drops n of them, and `co_await reader.wait_for_data()` waits
// for more (Python has the same as private _buffer and _wait_for_data()).
//
// Thread safety: none. Readers, writers and servers belong to the loop's thread.
// Lifetime: StreamReader, StreamWriter and Server are handles (copies share the connection or
// the server). A connection closes when close() is called or its last handle goes away (queued
// data is still sent); a server stops listening when close() is called or its last handle goes
// away. Whatever is still open when the loop closes (EventLoop::close(), the end of
// asyncio::run()) is closed then, queued data dropped, as Python's asyncio.run() closes its
// transports; handles may outlive their loop and behave as closed: is_closing() is true, the
// reader is at EOF, write() raises RuntimeError, a Server has no socket.
// TLS (Python's ssl= and start_tls, on OpenSSL; see concur/ssl.hpp):
//
//   auto ctx = ssl::create_default_context(ssl::Purpose::SERVER_AUTH, {.cafile = "ca.pem"});
//   const asyncio::StreamOptions tls{.ssl = ctx};
//   auto [reader, writer] = co_await asyncio::open_connection("localhost", 8443, tls);
//   const asyncio::ServerOptions server_tls{.ssl = server_ctx};
//   co_await asyncio::start_server(handle, "127.0.0.1", 8443, server_tls);
//   co_await writer.start_tls(ctx, to_mail);   // STARTTLS; to_mail = {.server_hostname = "mail.example"}
//
//  * open_connection / open_unix_connection with `.ssl` return once the handshake completed;
//    the certificate is checked against `.server_hostname` (default: the host; required for a
//    Unix socket when the context checks hostnames). A server with `.ssl` runs its callback
//    once a connection's handshake completed; a failed handshake just closes that connection
//    (reported to the exception handler in debug mode only, as Python logs it only then).
//  * Failures: ssl::SSLCertVerificationError ("certificate has expired", "Hostname mismatch,
//    certificate is not valid for 'x'."), ssl::SSLError with OpenSSL's reason (also from a
//    read, for an alert that arrives after the handshake, e.g. a TLS 1.3 server refusing the
//    client's certificate), ConnectionResetError if the peer closes during the handshake,
//    TimeoutError("SSL handshake is taking longer than 60.0 seconds: aborting the connection")
//    after `.ssl_handshake_timeout` (60 s by default). Whatever ends a handshake early
//    (failure, timeout, cancellation) aborts the connection: nothing is left open.
//  * Once the handshake is done, reading, writing, drain(), limits, water marks (counted in
//    bytes after encryption), cancellation and EventLoop::close() behave as on plaintext.
//  * close() sends close_notify after the queued data and closes the socket once they are
//    sent; if that takes longer than `.ssl_shutdown_timeout` (30 s) the connection is aborted.
//    Unlike Python, it does not then wait for the peer's close_notify (TLS permits closing
//    without it, and it spares a round trip). A peer's close_notify is EOF for the reader; the
//    connection stays writable until this side closes (TLS 1.3's half-close; Python closes
//    it at once). write_eof() sends close_notify and leaves the socket open (can_write_eof()
//    is true; Python raises NotImplementedError for TLS).
//  * StreamWriter::ssl_object() is Python's get_extra_info("ssl_object"): the TLS version,
//    cipher, ALPN protocol and the peer's certificate.
//  * A handshake timeout is TimeoutError, as documented for concur (Python 3.13 raises
//    ConnectionAbortedError with the same message).
//  * g++ 12 destroys twice a braced options list that holds a context or a string when it is
//    written inside the co_await expression: with g++ 12, build such options first
//    (`const asyncio::StreamOptions tls{.ssl = ctx}; co_await open_connection(h, p, tls);`).
//    Clang, and options with plain values only ({.limit = n}), are not affected.
//
// Differences from Python: sockets are not exposed (get_extra_info gives addresses,
// Server::sockets() the bound addresses); reuse_address is always on (libuv sets SO_REUSEADDR).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concur/asyncio/task.hpp"
#include "concur/asyncio/transports.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/ssl.hpp"
#include "concur/timeout.hpp"

namespace concur::asyncio {

class StreamReader;
class StreamWriter;
class Server;

/// The default buffer limit of StreamReader (Python's _DEFAULT_LIMIT, 64 KiB).
inline constexpr std::size_t default_stream_limit = 64 * 1024;

namespace detail {

class StreamTransport;  // the libuv stream of a connection (src/asyncio/stream_transport.hpp)
class ServerState;      // the listening handles and client list of a Server

/// What a stream awaiter waits for.
enum class StreamOp : std::uint8_t { data, drain, closed };
/// True if `op` can complete without waiting.
CONCUR_API bool stream_ready(StreamTransport& t, StreamOp op) noexcept;
/// Registers `w` to be fired when `op` can complete. RuntimeError if another task already
/// waits for data on this stream.
CONCUR_API void stream_register(StreamTransport& t, StreamOp op, IoWait& w);
/// After the wait: throws the stream's error where `op` must report it.
CONCUR_API void stream_result(StreamTransport& t, StreamOp op);
/// Keeps `t` from being deleted until the matching stream_unpin() (a suspended awaiter's hold).
CONCUR_API void stream_pin(StreamTransport& t) noexcept;
/// Ends a stream_pin(); deletes `t` if it is closed and nothing else refers to it.
CONCUR_API void stream_unpin(StreamTransport& t) noexcept;

/// co_await reader.wait_for_data() / writer.drain() / writer.wait_closed().
///
/// It refers to the connection without owning it: the reader or writer it came from (named in
/// the co_await expression) keeps the connection alive until the task suspends, and while it is
/// suspended the awaiter pins the connection (a counter, not a shared_ptr copy: this is on the
/// path of every request of a server, where two atomic reference-count updates per await
/// were measurable), so dropping every handle meanwhile closes the connection but never frees
/// it under the awaiter.
template <StreamOp Op>
class [[nodiscard]] StreamAwaiter {
 public:
  explicit StreamAwaiter(StreamTransport& t) noexcept : m_pin(t) {}
  StreamAwaiter(const StreamAwaiter&) = delete;
  StreamAwaiter& operator=(const StreamAwaiter&) = delete;
  bool await_ready() const noexcept { return stream_ready(*m_pin.m_transport, Op); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    stream_register(*m_pin.m_transport, Op, m_wait);
    m_pin.pin();
    m_wait.suspend(h);
  }
  void await_resume() {
    m_wait.resume();
    stream_result(*m_pin.m_transport, Op);
  }

 private:
  struct Pin {
    explicit Pin(StreamTransport& t) noexcept : m_transport(&t) {}
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
    ~Pin() {
      if (m_pinned) stream_unpin(*m_transport);
    }
    void pin() noexcept {
      stream_pin(*m_transport);
      m_pinned = true;
    }
    StreamTransport* m_transport;
    bool m_pinned = false;  // pinned since the suspension (until the awaiter is destroyed)
  };
  Pin m_pin;       // declared first: released after m_wait has detached from the connection
  IoWait m_wait;
};

/// co_await server.wait_closed() / the wait of serve_forever().
class [[nodiscard]] CONCUR_API ServerAwaiter {
 public:
  ServerAwaiter(std::shared_ptr<ServerState> s, bool until_clients_gone) noexcept
      : m_server(std::move(s)), m_until_clients_gone(until_clients_gone) {}
  bool await_ready() const noexcept;
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    register_wait();
    m_wait.suspend(h);
  }
  void await_resume() { m_wait.resume(); }

 private:
  void register_wait();
  std::shared_ptr<ServerState> m_server;
  bool m_until_clients_gone;
  IoWait m_wait;
};

}  // namespace detail

/// Keyword arguments of open_connection() / open_unix_connection().
struct StreamOptions {
  /// StreamReader's limit: the longest line readline() returns, and half the buffer size at
  /// which reading pauses. ValueError if 0.
  std::size_t limit = default_stream_limit;
  /// TLS: the client context to connect with (see the file comment); nullopt: plaintext.
  std::optional<ssl::SSLContext> ssl = std::nullopt;
  /// The name the server's certificate must match and SNI sends (default: the host).
  /// ValueError without `ssl`.
  std::optional<std::string> server_hostname = std::nullopt;
  /// How long the handshake may take (default 60 s); TimeoutError after it. ValueError without `ssl`.
  std::optional<Timeout> ssl_handshake_timeout = std::nullopt;
  /// How long close() may take to send the queued data and close_notify (default 30 s).
  std::optional<Timeout> ssl_shutdown_timeout = std::nullopt;
};

/// Keyword arguments of StreamWriter::start_tls().
struct StartTlsOptions {
  /// The name the server's certificate must match (client side; required when the context
  /// checks hostnames). Ignored on a server's connection.
  std::optional<std::string> server_hostname = std::nullopt;
  std::optional<Timeout> ssl_handshake_timeout = std::nullopt;  ///< default 60 s
  std::optional<Timeout> ssl_shutdown_timeout = std::nullopt;   ///< default 30 s
};

/// Keyword arguments of start_server() / start_unix_server().
struct ServerOptions {
  std::size_t limit = default_stream_limit;  ///< each connection's StreamReader limit
  int backlog = 100;                         ///< listen() backlog
  /// SO_REUSEPORT: several servers (one loop per core, each in its own thread or process) may
  /// bind the same port; the kernel spreads the connections among them.
  bool reuse_port = false;
  bool start_serving = true;                 ///< accept connections at once (else: start_serving())
  /// TLS: the server context (PROTOCOL_TLS_SERVER, with load_cert_chain() done); nullopt: plaintext.
  std::optional<ssl::SSLContext> ssl = std::nullopt;
  std::optional<Timeout> ssl_handshake_timeout = std::nullopt;  ///< default 60 s; ValueError without `ssl`
  std::optional<Timeout> ssl_shutdown_timeout = std::nullopt;   ///< default 30 s; ValueError without `ssl`
};

/// The reading half of a connection (Python's asyncio.StreamReader). See the file comment.
class CONCUR_API StreamReader {
 public:
  /// An empty reader (every method but the constructor and assignment needs a connection).
  StreamReader() = default;
  /// A reader of the connection `t` (internal: open_connection(), the servers and the
  /// subprocess pipes make their readers so).
  explicit StreamReader(std::shared_ptr<detail::StreamTransport> t) noexcept : m_transport(std::move(t)) {}

  /// Up to `n` bytes: what is buffered, or the next data to arrive; "" at EOF. n < 0 reads
  /// until EOF; n == 0 returns "". Throws the connection's error (ConnectionResetError, ...).
  Task<std::string> read(std::ptrdiff_t n = -1);
  /// A line, with its "\n"; at EOF the partial last line, then "". ValueError (not
  /// LimitOverrunError: Python's readline() raises ValueError) if the line is longer than
  /// limit(): the over-long line is consumed up to and including its "\n", or the whole
  /// buffer if the "\n" has not arrived (the rest of the line then comes as the next line).
  Task<std::string> readline();
  /// Exactly `n` bytes. IncompleteReadError (with the bytes read) if EOF comes first.
  Task<std::string> readexactly(std::size_t n);
  /// Data up to and including `separator`. IncompleteReadError at EOF (partial = everything,
  /// consumed), LimitOverrunError if not found within limit() (nothing consumed). ValueError
  /// if `separator` is empty.
  Task<std::string> readuntil(std::string separator = "\n");
  /// True when the peer closed and the buffer is empty.
  [[nodiscard]] bool at_eof() const noexcept;
  /// The connection's error (ConnectionResetError, ...), or null.
  [[nodiscard]] std::exception_ptr exception() const noexcept;
  /// The buffer limit (see StreamOptions::limit).
  [[nodiscard]] std::size_t limit() const noexcept;

  // ---- zero-copy access (beyond Python; see the file comment) -----------------------------
  /// The bytes buffered now; valid until the next suspension or consume().
  [[nodiscard]] std::string_view buffered() const noexcept;
  /// Drops the first `n` buffered bytes (n ≤ buffered().size(), else ValueError).
  void consume(std::size_t n);
  /// Waits until more data arrives than is buffered now, or EOF; returns at once at EOF.
  /// Throws the connection's error; RuntimeError if another task is already waiting to read.
  detail::StreamAwaiter<detail::StreamOp::data> wait_for_data() const { return detail::StreamAwaiter<detail::StreamOp::data>(*transport()); }

  /// The connection (internal).
  [[nodiscard]] const std::shared_ptr<detail::StreamTransport>& transport() const;

 private:
  std::shared_ptr<detail::StreamTransport> m_transport;
};

/// The writing half of a connection (Python's asyncio.StreamWriter). See the file comment.
class CONCUR_API StreamWriter {
 public:
  StreamWriter() = default;
  /// A writer of the connection `t` (internal: open_connection(), the servers and the
  /// subprocess pipes make their writers so).
  explicit StreamWriter(std::shared_ptr<detail::StreamTransport> t) noexcept : m_transport(std::move(t)) {}

  /// Sends `data` (or queues what the socket does not take now; small writes go out at the
  /// end of the loop's iteration, see the file comment). Never blocks. Data written
  /// after close() or after the connection was lost is dropped (drain() reports the loss);
  /// RuntimeError once the connection's loop closed it (the writer outlived its loop).
  void write(std::string_view data);
  /// Writes every piece, in one system call when the socket takes them all.
  void writelines(std::initializer_list<std::string_view> pieces);
  /// As writelines({...}), for pieces in a vector: several pieces are sent together (one system
  /// call when the socket takes them all), a single one as write() sends it. What the socket
  /// does not take is copied: the pieces need not outlive the call. Errors as write().
  void writelines(const std::vector<std::string_view>& pieces);
  /// Waits while more than the high-water mark is queued. ConnectionResetError("Connection
  /// lost") or the write error if the connection was lost or closed: after close() with
  /// nothing left to send, or after abort(), it waits for the close to finish and raises
  /// ConnectionResetError (Python's drain() after close()); while close() still sends queued
  /// data it returns as it would before close(). Unlike Python, a drain() already waiting
  /// when abort() drops the queued data raises ConnectionResetError too (Python's returns,
  /// although that data was never sent).
  detail::StreamAwaiter<detail::StreamOp::drain> drain() const { return detail::StreamAwaiter<detail::StreamOp::drain>(*transport()); }
  /// True: TCP and Unix-domain streams can half-close (TLS ones with close_notify).
  [[nodiscard]] bool can_write_eof() const noexcept { return true; }
  /// Shuts down the sending side once the queued data is sent (the peer reads EOF). On TLS:
  /// sends close_notify; reading goes on.
  void write_eof();
  /// Upgrades the connection to TLS (STARTTLS): waits for the queued data to drain, then runs
  /// the handshake, as a server if the connection was accepted by a server, else as a client.
  /// The bytes already buffered in the reader stay there as plaintext. Errors as for
  /// open_connection with `ssl` (the connection is then aborted); RuntimeError if it already
  /// uses TLS or another task is reading; ValueError as SSLContext's checks say.
  Task<void> start_tls(ssl::SSLContext context, StartTlsOptions options = {});
  /// The TLS state of the connection (Python's get_extra_info("ssl_object")), or nullopt for
  /// plaintext.
  [[nodiscard]] std::optional<ssl::SSLObject> ssl_object() const;
  /// Closes the connection once the queued data is sent; the reader sees EOF. Idempotent.
  void close();
  /// Closes at once, dropping queued data (Python's transport.abort()).
  void abort();
  /// True once close() or abort() was called or the connection was lost.
  [[nodiscard]] bool is_closing() const noexcept;
  /// Waits until the connection is closed. Returns normally even if it was lost.
  detail::StreamAwaiter<detail::StreamOp::closed> wait_closed() const { return detail::StreamAwaiter<detail::StreamOp::closed>(*transport()); }
  /// "peername" or "sockname" (an Address); nullopt for any other name or if unavailable.
  [[nodiscard]] std::optional<Address> get_extra_info(std::string_view name) const;
  /// Bytes written and not yet taken by the socket (queued, or waiting for the end of the
  /// loop's iteration).
  [[nodiscard]] std::size_t get_write_buffer_size() const noexcept;
  /// drain()'s marks; `low` defaults to high / 4 (Python's rule). ValueError if low > high.
  void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);
  /// The connection (internal).
  [[nodiscard]] const std::shared_ptr<detail::StreamTransport>& transport() const;

 private:
  std::shared_ptr<detail::StreamTransport> m_transport;
};

/// The callback of a server: runs in its own task for each connection.
using ClientConnected = std::function<Task<void>(StreamReader, StreamWriter)>;

/// A listening server (Python's asyncio.Server). See the file comment.
class CONCUR_API Server {
 public:
  Server() = default;
  /// A handle on the server `s` (internal: start_server() and start_unix_server() make it).
  explicit Server(std::shared_ptr<detail::ServerState> s) noexcept : m_state(std::move(s)) {}

  /// The bound addresses, one per listening socket (empty once closed).
  [[nodiscard]] std::vector<Address> sockets() const;
  /// The port of the first listening socket (useful after binding port 0). RuntimeError if
  /// the server is closed.
  [[nodiscard]] std::uint16_t port() const;
  /// True while accepting connections.
  [[nodiscard]] bool is_serving() const noexcept;
  /// Starts accepting (when created with start_serving = false). Idempotent.
  void start_serving();
  /// Accepts connections until close() is called (then returns) or the awaiting task is
  /// cancelled (then closes the server and throws CancelledError). RuntimeError if the server
  /// is closed or another serve_forever() is running.
  Task<void> serve_forever();
  /// Stops listening; connections already accepted go on. Idempotent.
  void close();
  /// Closes every connection of the server (queued data is sent first).
  void close_clients();
  /// Closes every connection at once.
  void abort_clients();
  /// Waits until the server is closed and all its connections are gone.
  detail::ServerAwaiter wait_closed() const { return detail::ServerAwaiter(state(), true); }
  /// The server's loop. RuntimeError once that loop is closed (a Server that outlived its loop
  /// is closed with it).
  [[nodiscard]] EventLoop& get_loop() const;
  /// The server (internal).
  [[nodiscard]] const std::shared_ptr<detail::ServerState>& state() const;

 private:
  std::shared_ptr<detail::ServerState> m_state;
};

/// Connects to `host`:`port` (a name or a numeric IPv4/IPv6 address); see the file comment.
/// Throws ConnectionRefusedError (or the OSError of the last address tried), or OSError with
/// the resolver's message if the name does not resolve. No deadline of its own: wrap it in
/// wait_for() (cancellation stops the resolution or the connection attempt).
CONCUR_API Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                           StreamOptions options = {});
/// Connects to the Unix-domain socket at `path`. FileNotFoundError, ConnectionRefusedError.
CONCUR_API Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, StreamOptions options = {});
/// Listens on `host`:`port` ("" = all interfaces; port 0 = any free port) and runs
/// `client_connected` for each connection. OSError (e.g. EADDRINUSE) if it cannot bind.
CONCUR_API Task<Server> start_server(ClientConnected client_connected, std::string host, std::uint16_t port,
                          ServerOptions options = {});
/// Listens on the Unix-domain socket `path` (a stale socket file there is replaced; the file
/// is removed when the server closes).
CONCUR_API Task<Server> start_unix_server(ClientConnected client_connected, std::string path, ServerOptions options = {});

}  // namespace concur::asyncio
