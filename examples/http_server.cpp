// SPDX-License-Identifier: MIT
// examples/http_server.cpp — an HTTP/1.1 hello-world server on concur::asyncio streams, the
// seed's "web server handling thousands of concurrent clients".
//
//   http_server [--host 127.0.0.1] [--port 8080] [--workers N]     serve until Ctrl-C
//               [--header-timeout 10] [--idle-timeout 60] [--max-connections N]
//               [--max-header-bytes 8192] [--max-body 1048576]
//               [--tls-cert server.pem --tls-key server.key]      HTTPS (concur::ssl, OpenSSL)
//   http_server --smoke [--tls]                                     serve real clients, check, exit
//                                                                   (--tls: over HTTPS, with a
//                                                                   throwaway certificate)
//
// Keep-alive and pipelining: every complete request in the read buffer is answered, and the
// answers to one batch go out in one write. Requests are parsed by common/http_parser.hpp,
// which answers 400 to malformed requests, 431 to headers over --max-header-bytes, 413 to
// bodies over --max-body (and closes that connection); nothing a client sends can crash it.
// Each connection is one task whose frame and transport hold about 1.1 KiB while idle,
// so 10,000 keep-alive clients cost a few MiB; the server raises its own open-file limit.
//
// Abusive clients cannot hold it:
//  * --header-timeout S (10 s): a request must arrive in full (its header, and its body, which
//    --max-body bounds) within S seconds of its first byte (of the connection's opening, for
//    the first request). A slow client ("slowloris") gets 408 and is closed; one that sent
//    nothing is closed silently.
//  * --idle-timeout S (60 s): a keep-alive connection with no request for S seconds is closed,
//    and so is one whose client does not read its answers for S seconds.
//  * --max-connections N (default: the open-file limit less a reserve of 1/16, at least 32):
//    past N open connections, a new client is answered 503 (Retry-After: 1) as soon as it
//    sends its request, then closed; the count goes down as connections close, so new clients
//    are served again then. A line on stderr says so, at most once a second.
//  * Answers to pipelined requests are made in batches of at most 64 KiB, and no batch is made
//    while more than 64 KiB of earlier answers wait for the client: a client that sends
//    requests and never reads makes the server hold at most about 128 KiB for it (and stop
//    reading its requests), until the idle timeout closes it.
// Timeouts are checked by one sweep per event loop, a quarter of the shorter timeout apart (at
// most a second): a connection is closed at most that much after its deadline.
//
// Several cores: --workers N runs N event loops, one per thread, each with its own listening
// socket on the same port (ServerOptions::reuse_port, SO_REUSEPORT): the kernel spreads the
// connections among them. This is the way to scale an asyncio server past one core (one loop
// per core; processes work the same way).
//
// Ctrl-C (SIGINT) or SIGTERM closes the server(s) and exits cleanly.
#include <fmt/core.h>
#include <fmt/format.h>  // format_to's definition: clang 14 fails to link libfmt's g++-made one
#include <sys/resource.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/args.hpp"
#include "common/http_parser.hpp"
#include "common/tls.hpp"
#include "concur/asyncio.hpp"
#include "concur/asyncio/signals.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int workers = 1;
  http::Limits limits;
  double header_timeout = 10;       ///< seconds for a request to arrive in full
  double idle_timeout = 60;         ///< seconds a keep-alive connection may wait, or not read
  std::size_t max_connections = 0;  ///< 0: from the open-file limit (see default_max_connections)
  bool smoke = false;
  std::string tls_cert, tls_key;    ///< --tls-cert / --tls-key: serve HTTPS
  bool tls_smoke = false;           ///< --smoke --tls
  std::optional<concur::ssl::SSLContext> ssl;  ///< the server's TLS context, when serving HTTPS
};

/// Answers to pipelined requests are made in batches of at most this many bytes ...
constexpr std::size_t k_batch_bytes = 64 * 1024;
/// ... and none is made while more than this many wait for the client (StreamWriter's
/// default high-water mark: drain() waits above it).
constexpr std::size_t k_backlog_bytes = 64 * 1024;

/// Connections open now, in every worker (the cap is the process's: descriptors are).
std::atomic<std::size_t> g_open_connections{0};

/// --max-connections' default: the open-file limit less a reserve (1/16 of it, at least 32)
/// for the listening sockets, the loop's own descriptors and the connections turned away.
std::size_t default_max_connections() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
  const auto limit = static_cast<std::size_t>(rl.rlim_cur);
  const std::size_t reserve = std::max<std::size_t>(32, limit / 16);
  return limit > reserve + 1 ? limit - reserve : 1;
}

constexpr std::string_view k_hello = "Hello, World!";

/// The answer to the common case, a keep-alive HTTP/1.1 GET / (no formatting per request).
constexpr std::string_view k_hello_response =
    "HTTP/1.1 200 OK\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// True if the answer to `req` is k_hello_response.
bool is_hello(const http::Request& req) noexcept {
  return req.method == "GET" && req.target == "/" && req.keep_alive && req.minor_version == 1;
}

/// Appends the response to `req` to `out`.
void respond(const http::Request& req, std::string& out) {
  if (is_hello(req)) {
    out.append(k_hello_response);
    return;
  }
  std::string_view status = "200 OK";
  std::string body;
  std::string_view body_view = k_hello;
  if (req.method == "GET" || req.method == "HEAD") {
    if (req.target != "/" && req.target.substr(0, 2) != "/?") {
      status = "404 Not Found";
      body_view = "Not Found";
    }
  } else if (req.method == "POST") {
    body = fmt::format("Received {} bytes", req.body.size());
    body_view = body;
  } else {
    status = "405 Method Not Allowed";
    body_view = "Method Not Allowed";
  }
  fmt::format_to(std::back_inserter(out),
                 "HTTP/1.1 {}\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n", status,
                 body_view.size(),
                 !req.keep_alive ? "Connection: close\r\n" : (req.minor_version == 0 ? "Connection: keep-alive\r\n" : ""));
  if (req.method != "HEAD") out.append(body_view);
}

constexpr std::string_view k_unavailable_response =
    "HTTP/1.1 503 Service Unavailable\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\nService Unavailable";
constexpr std::string_view k_timeout_response =
    "HTTP/1.1 408 Request Timeout\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n"
    "Connection: close\r\n\r\nRequest Timeout";

void respond_error(const http::Result& r, std::string& out) {
  fmt::format_to(std::back_inserter(out),
                 "HTTP/1.1 {} {}\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                 "Connection: close\r\n\r\n{}",
                 r.error_status, r.error_reason, r.error_reason.size(), r.error_reason);
}

/// What answer_buffered() did.
struct Batch {
  bool close = false;  ///< the connection must close (an error, or Connection: close)
  bool more = false;   ///< it stopped at k_batch_bytes: more requests may be buffered
  int answered = 0;    ///< requests answered
};

/// Answers the complete requests buffered in `reader` (one write for the batch, at most about
/// k_batch_bytes). The parser and the reply buffer are per thread and this is not a coroutine:
/// nothing here lives in the connection's frame.
Batch answer_buffered(const http::Limits& limits, StreamReader& reader, StreamWriter& writer) {
  thread_local http::RequestParser parser(limits);
  thread_local std::string reply;
  const std::string_view data = reader.buffered();
  std::size_t used = 0;
  Batch batch;
  bool& close = batch.close;
  reply.clear();
  // A read holding one keep-alive GET / (the common case) is answered with the constant itself,
  // not a copy: the first response is only copied into `reply` when another one follows.
  bool hello_pending = false;
  auto flush_hello = [&] {
    if (hello_pending) reply.append(k_hello_response);
    hello_pending = false;
  };
  while (used < data.size()) {
    if (reply.size() >= k_batch_bytes) {
      batch.more = true;
      break;
    }
    http::Request req;
    const http::Result r = parser.parse(data.substr(used), req);
    if (r.status == http::Status::incomplete) break;
    if (r.status == http::Status::error) {
      flush_hello();
      respond_error(r, reply);
      close = true;
      break;
    }
    if (used == 0 && is_hello(req)) {
      hello_pending = true;
    } else {
      flush_hello();
      respond(req, reply);
    }
    used += r.consumed;
    ++batch.answered;
    if (!req.keep_alive) {
      close = true;
      break;
    }
  }
  reader.consume(close ? data.size() : used);
  if (hello_pending) {
    writer.write(k_hello_response);
  } else if (!reply.empty()) {
    writer.write(reply);
  }
  return batch;
}

// ---- timeouts: one sweep per loop over the connections it serves ----------------------------

/// The connections of one event loop, for the timeouts. Each connection's task links a Watch
/// (a member of its frame) while it runs; sweep() closes those past their deadline.
class Watchdog {
 public:
  /// What a connection is waiting for, which decides its deadline.
  enum class Phase : std::uint8_t {
    request,  ///< the rest of a request: header_timeout from its first byte
    idle,     ///< the next request on a kept-alive connection: idle_timeout
    sending,  ///< the client to read its answers: idle_timeout
  };
  struct Watch {
    Watch(Watchdog& dog, StreamReader& reader, StreamWriter& writer) noexcept
        : m_dog(&dog), m_reader(&reader), m_writer(&writer), m_since(dog.now()) {
      dog.link(*this);
    }
    ~Watch() { m_dog->unlink(*this); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    /// Enters `phase` now.
    void enter(Phase phase) noexcept {
      m_phase = phase;
      m_since = m_dog->now();
    }
    [[nodiscard]] Phase phase() const noexcept { return m_phase; }

    Watchdog* m_dog;
    StreamReader* m_reader;  // in the connection's frame, as this is
    StreamWriter* m_writer;
    Watch* m_prev = nullptr;
    Watch* m_next = nullptr;
    double m_since;                    // loop time at which m_phase began
    Phase m_phase = Phase::request;    // a new connection waits for its first request
    bool m_linked = false;             // in the list (a connection closed by a sweep leaves it)
  };

  Watchdog(asyncio::EventLoop& loop, const Config& config) noexcept
      : m_loop(loop),
        m_header_timeout(config.header_timeout),
        m_idle_timeout(config.idle_timeout),
        m_tick(std::clamp(std::min(config.header_timeout, config.idle_timeout) / 4, 0.005, 1.0)) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  [[nodiscard]] double now() const noexcept { return m_loop.time(); }

  /// Sweeps every tick until cancelled.
  Task<void> run() {
    for (;;) {
      co_await asyncio::sleep(std::chrono::duration<double>(m_tick));
      sweep();
    }
  }

  /// Closes every connection past its deadline: 408 to a partial request, a silent close to an
  /// idle connection or one that never sent anything; abort() when answers are still queued
  /// (the client does not read: they would hold the connection open).
  void sweep() noexcept {
    const double t = now();
    for (Watch* w = m_head; w != nullptr;) {
      Watch* next = w->m_next;
      const double limit = w->m_phase == Phase::request ? m_header_timeout : m_idle_timeout;
      if (t - w->m_since >= limit) {
        unlink(*w);
        StreamWriter& writer = *w->m_writer;
        if (w->m_phase == Phase::request && !w->m_reader->buffered().empty() &&
            writer.get_write_buffer_size() == 0) {
          writer.write(k_timeout_response);
        }
        writer.close();  // sends what the socket takes now; the task sees EOF
        if (writer.get_write_buffer_size() > 0) writer.abort();
      }
      w = next;
    }
  }

 private:
  void link(Watch& w) noexcept {
    w.m_next = m_head;
    if (m_head != nullptr) m_head->m_prev = &w;
    m_head = &w;
    w.m_linked = true;
  }
  void unlink(Watch& w) noexcept {
    if (!w.m_linked) return;
    if (w.m_prev != nullptr) w.m_prev->m_next = w.m_next; else m_head = w.m_next;
    if (w.m_next != nullptr) w.m_next->m_prev = w.m_prev;
    w.m_prev = w.m_next = nullptr;
    w.m_linked = false;
  }

  asyncio::EventLoop& m_loop;
  double m_header_timeout;
  double m_idle_timeout;
  double m_tick;
  Watch* m_head = nullptr;  // the connections of this loop (intrusive, unordered)
};

/// What the connections of one loop share: the configuration, the watchdog and the task that
/// sweeps it. The connections' tasks hold it too: one may outlive serve() (the loop destroys
/// the tasks still pending when it closes, and their Watches unlink from the watchdog then).
struct Site {
  Site(const Config& c, asyncio::EventLoop& loop)
      : config(c),
        watchdog(loop, config),
        max_connections(config.max_connections != 0 ? config.max_connections : default_max_connections()),
        sweeper(asyncio::create_task(watchdog.run())) {}
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;
  /// Stops the sweeps.
  Task<void> close() {
    sweeper.cancel();
    try {
      co_await sweeper;
    } catch (const concur::CancelledError&) {
    }
  }
  const Config config;
  Watchdog watchdog;
  const std::size_t max_connections;
  Task<void> sweeper;
};

/// A place among the open connections (g_open_connections) for the connection's lifetime.
struct ConnectionSlot {
  explicit ConnectionSlot(std::size_t cap) noexcept
      : over_cap(g_open_connections.fetch_add(1, std::memory_order_relaxed) >= cap) {}
  ~ConnectionSlot() { g_open_connections.fetch_sub(1, std::memory_order_relaxed); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  const bool over_cap;  // relaxed: a count, nothing else is published through it
};

/// Says on stderr that the cap was reached, at most once a second per process.
void log_over_cap(std::size_t cap) {
  static std::atomic<std::int64_t> last{-1};
  const std::int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::int64_t seen = last.load(std::memory_order_relaxed);
  if (seen == second || !last.compare_exchange_strong(seen, second, std::memory_order_relaxed)) return;
  fmt::print(stderr, "http_server: {} connections open (--max-connections): new clients get 503\n", cap);
}

/// Waits until the client has read enough of its answers (drain()). A coroutine of its own,
/// made only when a client falls behind: its awaiter is not part of every connection's frame.
Task<void> wait_for_client(const StreamWriter& writer) { co_await writer.drain(); }

/// Waits until a closed connection has sent its last answers (or a sweep aborts it).
Task<void> wait_until_closed(const StreamWriter& writer) { co_await writer.wait_closed(); }

/// One connection: answer what arrived, wait for more. An idle connection holds only this
/// frame, its socket and its unparsed bytes (none between requests).
Task<void> serve_client(std::shared_ptr<Site> site, StreamReader reader, StreamWriter writer) {
  const ConnectionSlot slot(site->max_connections);
  Watchdog::Watch watch(site->watchdog, reader, writer);
  try {
    if (slot.over_cap) {
      // Past the cap: 503 once the request arrives (answering before it would make closing
      // reset the connection under the client's request), then close.
      log_over_cap(site->max_connections);
      co_await reader.wait_for_data();
      if (!reader.buffered().empty()) {
        reader.consume(reader.buffered().size());
        writer.write(k_unavailable_response);
      }
    } else {
      for (;;) {
        const Batch batch = answer_buffered(site->config.limits, reader, writer);
        if (batch.close) break;
        // A request was answered (the next one starts now), or the first bytes of one arrived
        // on an idle connection; a partial request keeps its start time.
        if (batch.answered > 0 || (watch.phase() == Watchdog::Phase::idle && !reader.buffered().empty())) {
          watch.enter(reader.buffered().empty() ? Watchdog::Phase::idle : Watchdog::Phase::request);
        }
        // Flow control: no more answers while the client has not read the earlier ones (the
        // reader stops reading the socket meanwhile, once its buffer is full).
        if (writer.get_write_buffer_size() > k_backlog_bytes) {
          watch.enter(Watchdog::Phase::sending);
          co_await wait_for_client(writer);
          watch.enter(reader.buffered().empty() ? Watchdog::Phase::idle : Watchdog::Phase::request);
        }
        if (batch.more) continue;
        const std::size_t before = reader.buffered().size();
        co_await reader.wait_for_data();
        if (reader.buffered().size() == before) break;  // EOF (a partial request is dropped)
      }
    }
    writer.close();
    if (writer.get_write_buffer_size() > 0) {
      // The last answers are still queued: the connection stays open until the client takes
      // them, or the idle timeout aborts it.
      watch.enter(Watchdog::Phase::sending);
      co_await wait_until_closed(writer);
    }
  } catch (const concur::ConnectionError&) {
    // The client reset the connection: nothing to answer.
  }
  writer.close();
}

/// The server's callback: each connection's task holds `site`. (Made outside the coroutine
/// below: there, g++ 12 made the lambda's copy of a shared_ptr reference parameter without
/// counting it, and ThreadSanitizer caught the Site freed twice.)
asyncio::ClientConnected client_handler(std::shared_ptr<Site> site) {
  return [site = std::move(site)](StreamReader r, StreamWriter w) { return serve_client(site, std::move(r), std::move(w)); };
}

Task<asyncio::Server> start(std::shared_ptr<Site> site, std::uint16_t port, bool reuse_port) {
  // Options holding a TLS context are built outside the co_await expression (g++ 12 destroys
  // such temporaries of a co_await expression twice).
  const asyncio::ServerOptions options{.backlog = 4096, .reuse_port = reuse_port, .ssl = site->config.ssl};
  co_return co_await asyncio::start_server(client_handler(site), site->config.host, port, options);
}

/// Serves until SIGINT/SIGTERM. The bound port is stored in `port_out` (for the other
/// workers) when given; a single server (no reuse_port) prints it.
Task<void> serve(const Config& config, std::uint16_t port, bool reuse_port, std::atomic<int>* port_out) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  auto site = std::make_shared<Site>(config, loop);
  asyncio::Server server = co_await start(site, port, reuse_port);
  if (port_out != nullptr) {
    port_out->store(server.port());
    port_out->notify_all();
  } else if (!reuse_port) {
    fmt::print("listening on {}\n", server.port());
    std::fflush(stdout);
  }
  auto stop = [&server] { server.close(); };
  asyncio::add_signal_handler(loop, SIGINT, stop);
  asyncio::add_signal_handler(loop, SIGTERM, stop);
  co_await server.serve_forever();
  asyncio::remove_signal_handler(loop, SIGINT);
  asyncio::remove_signal_handler(loop, SIGTERM);
  server.close_clients();
  co_await server.wait_closed();
  co_await site->close();
}

void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// ---- the smoke test: real clients against the server, then a clean stop -----------------------

/// The smoke test's client: TLS (trusting the throwaway CA) when the server speaks HTTPS.
std::optional<concur::ssl::SSLContext> g_client_tls;
std::string g_client_ca;  ///< the CA file curl trusts (HTTPS)

/// Sends `request` on a new connection and returns everything the server sends until it closes
/// or `responses` responses have arrived.
Task<std::string> exchange(std::uint16_t port, std::string request, int responses = 1) {
  const asyncio::StreamOptions options{.ssl = g_client_tls};  // not in the co_await: see start()
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port, options);
  writer.write(request);
  co_await writer.drain();
  std::string all;
  int seen = 0;
  while (seen < responses) {
    std::string part = co_await reader.read(65536);
    if (part.empty()) break;
    all += part;
    seen = 0;
    for (std::size_t at = 0; (at = all.find("HTTP/1.1 ", at)) != std::string::npos; ++at) ++seen;
    // A response is complete once its body is there; the hello body ends every 200.
    if (seen == responses && all.size() >= k_hello.size() && all.find("Content-Length") != std::string::npos) {
      const std::size_t last = all.rfind("\r\n\r\n");
      const std::size_t len_at = all.rfind("Content-Length: ");
      const std::size_t len = std::strtoul(all.c_str() + len_at + 16, nullptr, 10);
      if (all.size() < last + 4 + len) seen = responses - 1;  // body not complete yet
    }
  }
  writer.close();
  co_return all;
}

int g_failures = 0;
void check(bool ok, std::string_view what) {
  fmt::print("  [{}] {}\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++g_failures;
}

std::string run_curl(std::uint16_t port) {
  const std::string cmd = fmt::format(
      "curl -s --max-time 10 --http1.1 {1} -w ' %{{http_code}} %{{num_connects}}' {0}://127.0.0.1:{2}/ "
      "{0}://127.0.0.1:{2}/ 2>/dev/null",
      g_client_ca.empty() ? "http" : "https", g_client_ca.empty() ? "" : "--cacert '" + g_client_ca + "'", port);
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    if (::pclose(p) != 0) out.clear();
  }
  return out;
}

Task<int> smoke(Config config) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  std::optional<examples::ThrowawayCertificates> certs;
  if (config.tls_smoke) {
    certs.emplace();
    config.ssl = certs->server_context();
    g_client_tls = certs->client_context();
    g_client_ca = certs->ca();
    fmt::print("serving HTTPS with a throwaway certificate for 127.0.0.1\n");
  }
  auto site = std::make_shared<Site>(config, loop);
  asyncio::Server server = co_await start(site, 0, false);
  const std::uint16_t port = server.port();
  fmt::print("listening on {}\n", port);
  asyncio::Event interrupted;
  asyncio::add_signal_handler(loop, SIGINT, [&] {
    server.close();
    interrupted.set();
  });

  const std::string get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::string r = co_await exchange(port, get + get + get, 3);
  check(r.find("HTTP/1.1 200 OK") == 0 && r.find("Hello, World!") != std::string::npos, "GET / answers 200 Hello, World!");

  std::string pipelined;
  for (int i = 0; i < 16; ++i) pipelined += get;
  r = co_await exchange(port, pipelined, 16);
  int count = 0;
  for (std::size_t at = 0; (at = r.find("Hello, World!", at)) != std::string::npos; ++at) ++count;
  check(count == 16, fmt::format("16 pipelined requests in one write get 16 responses ({})", count));

  r = co_await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  check(r.find("Connection: close") != std::string::npos, "Connection: close is honoured");
  r = co_await exchange(port, "BREW /pot HTCPCP/1.0\r\n\r\n");
  check(r.find("HTTP/1.1 400") == 0, "a malformed request gets 400 and the connection closes");
  r = co_await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  check(r.find("HTTP/1.1 431") == 0, "headers over the limit get 431");
  r = co_await exchange(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n");
  check(r.find("HTTP/1.1 413") == 0, "a body over the limit gets 413");
  r = co_await exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  check(r.find("Received 5 bytes") != std::string::npos, "a POST body is read");
  r = co_await exchange(port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n");
  check(r.find("HTTP/1.1 505") == 0, "HTTP/2.0 over HTTP/1 framing gets 505");

  // Garbage: random bytes on 50 connections, some closing mid-request. The server must go on.
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::string junk(rng() % 3000, '\0');
    for (char& c : junk) c = static_cast<char>(rng() & 0xff);
    if (i % 3 == 0) junk = get.substr(0, rng() % get.size()) + junk;
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
    writer.write(junk);
    if (i % 2 == 0) writer.abort(); else writer.close();
  }
  r = co_await exchange(port, get);
  check(r.find("HTTP/1.1 200 OK") == 0, "50 clients sending random bytes do not disturb the server");

  // Many concurrent keep-alive clients, two requests each.
  constexpr int clients = 1000;
  std::vector<Task<std::string>> many;
  for (int i = 0; i < clients; ++i) many.push_back(exchange(port, get + get, 2));
  std::vector<std::string> answers = co_await asyncio::gather(std::move(many));
  int good = 0;
  for (const std::string& a : answers) good += a.rfind("Hello, World!") != std::string::npos && a.find("HTTP/1.1 200 OK") == 0;
  if (good != clients) fmt::print("first answer: '{}'\n", answers.empty() ? "" : answers[0]);
  check(good == clients, fmt::format("{} concurrent keep-alive clients all answered ({})", clients, good));

  // curl, a real client, in a thread (its output is read through a pipe).
  asyncio::Event curl_done;
  std::string curl_out;
  std::thread curl([&] {
    curl_out = run_curl(port);
    loop.call_soon_threadsafe([&] { curl_done.set(); });
  });
  co_await curl_done.wait();
  curl.join();
  if (curl_out.empty()) {
    fmt::print("  [skipped] curl is not available\n");
  } else {
    // -w prints the status and the connections opened after each transfer: 1, then 0 (reused).
    check(curl_out == "Hello, World! 200 1Hello, World! 200 0",
          fmt::format("curl fetches twice over one keep-alive connection ({})", curl_out));
  }

  // A clean stop, as Ctrl-C does it.
  ::raise(SIGINT);
  co_await interrupted.wait();
  asyncio::remove_signal_handler(loop, SIGINT);
  check(!server.is_serving(), "SIGINT reaches the loop's handler, which closes the server");
  server.close_clients();
  co_await server.wait_closed();
  co_await site->close();
  fmt::print("{}\n", g_failures == 0 ? "smoke test passed" : "smoke test FAILED");
  co_return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  constexpr std::string_view usage =
      "usage: http_server [--host H] [--port P] [--workers N] [--header-timeout S] [--idle-timeout S]\n"
      "                   [--max-connections N] [--max-header-bytes B] [--max-body B]\n"
      "                   [--tls-cert FILE --tls-key FILE] [--smoke [--tls]]\n";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--smoke" || arg == "--tls") {
      (arg == "--smoke" ? config.smoke : config.tls_smoke) = true;
      continue;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "http_server: {} needs a value\n{}", arg, usage);
      return 2;
    }
    const std::string_view text = argv[++i];
    auto bad = [&](std::string_view what) {
      fmt::print(stderr, "http_server: {} needs {}, not '{}'\n", arg, what, text);
      return 2;
    };
    if (arg == "--host") {
      config.host = text;
    } else if (arg == "--port") {
      const auto port = examples::parse_port(text);
      if (!port) return bad("a number from 0 to 65535");
      config.port = *port;
    } else if (arg == "--workers") {
      const auto n = examples::parse_integer<int>(text, 1, 1024);
      if (!n) return bad("a number from 1 to 1024");
      config.workers = *n;
    } else if (arg == "--header-timeout" || arg == "--idle-timeout") {
      const auto seconds = examples::parse_seconds(text);
      if (!seconds) return bad("a number of seconds above 0");
      (arg == "--header-timeout" ? config.header_timeout : config.idle_timeout) = *seconds;
    } else if (arg == "--tls-cert" || arg == "--tls-key") {
      (arg == "--tls-cert" ? config.tls_cert : config.tls_key) = text;
    } else if (arg == "--max-connections") {
      const auto n = examples::parse_integer<std::size_t>(text, 1);
      if (!n) return bad("a number above 0");
      config.max_connections = *n;
    } else if (arg == "--max-header-bytes" || arg == "--max-body") {
      const auto n = examples::parse_integer<std::size_t>(text, arg == "--max-body" ? 0 : 16, std::size_t{1} << 30);
      if (!n) return bad(arg == "--max-body" ? "a number of bytes up to 2^30" : "a number of bytes from 16 to 2^30");
      (arg == "--max-body" ? config.limits.max_body : config.limits.max_header_bytes) = *n;
    } else {
      fmt::print(stderr, "http_server: unknown option '{}'\n{}", arg, usage);
      return 2;
    }
  }
  if (config.tls_cert.empty() != config.tls_key.empty() || (config.tls_smoke && !config.smoke)) {
    fmt::print(stderr, "http_server: --tls-cert and --tls-key go together; --tls only with --smoke\n{}", usage);
    return 2;
  }
  raise_open_file_limit();
  try {
    if (!config.tls_cert.empty()) config.ssl = examples::https_server_context(config.tls_cert, config.tls_key);
    if (config.smoke) return asyncio::run(smoke(config));
    if (config.workers == 1) {
      asyncio::run(serve(config, config.port, false, nullptr));
      return 0;
    }
    // One loop per core, each with its own SO_REUSEPORT socket on the same port.
    std::atomic<int> port{-1};
    std::vector<std::thread> workers;
    std::atomic<int> failed{0};
    auto worker = [&](std::uint16_t p, std::atomic<int>* out) {
      try {
        asyncio::run(serve(config, p, true, out));
      } catch (const std::exception& e) {
        fmt::print(stderr, "worker: {}\n", e.what());
        failed = 1;
        if (out != nullptr) {
          out->store(0);
          out->notify_all();
        }
      }
    };
    workers.emplace_back(worker, config.port, &port);
    port.wait(-1);
    if (port.load() == 0) {
      workers[0].join();
      return 1;
    }
    for (int i = 1; i < config.workers; ++i) workers.emplace_back(worker, static_cast<std::uint16_t>(port.load()), nullptr);
    fmt::print("listening on {} ({} workers)\n", port.load(), config.workers);
    std::fflush(stdout);
    for (std::thread& t : workers) t.join();
    return failed.load();
  } catch (const std::exception& e) {
    fmt::print(stderr, "http_server: {}\n", e.what());
    return 1;
  }
}
