// SPDX-License-Identifier: MIT
// examples/http_server.cpp — an HTTP/1.1 hello-world server on concur::asyncio streams, the
// seed's "web server handling thousands of concurrent clients".
//
//   http_server [--host 127.0.0.1] [--port 8080] [--workers N]     serve until Ctrl-C
//   http_server --smoke                                             serve real clients, check, exit
//
// Keep-alive and pipelining: every complete request in the read buffer is answered, and the
// answers to one batch go out in one write. Requests are parsed by common/http_parser.hpp,
// which answers 400 to malformed requests, 431 to headers over --max-header-bytes, 413 to
// bodies over --max-body (and closes that connection); nothing a client sends can crash it.
// Each connection is one task whose frame, buffer and socket hold well under 1 KiB while idle,
// so 10,000 keep-alive clients cost a few MiB; the server raises its own open-file limit.
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

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/http_parser.hpp"
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
  bool smoke = false;
};

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

void respond_error(const http::Result& r, std::string& out) {
  fmt::format_to(std::back_inserter(out),
                 "HTTP/1.1 {} {}\r\nServer: concur\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                 "Connection: close\r\n\r\n{}",
                 r.error_status, r.error_reason, r.error_reason.size(), r.error_reason);
}

/// Answers every complete request buffered in `reader` (one write for the batch); true if the
/// connection must close (an error, or Connection: close). The parser and the reply buffer are
/// per thread and this is not a coroutine: nothing here lives in the connection's frame.
bool answer_buffered(const http::Limits& limits, StreamReader& reader, StreamWriter& writer) {
  thread_local http::RequestParser parser(limits);
  thread_local std::string reply;
  const std::string_view data = reader.buffered();
  std::size_t used = 0;
  bool close = false;
  reply.clear();
  // A read holding one keep-alive GET / (the common case) is answered with the constant itself,
  // not a copy: the first response is only copied into `reply` when another one follows.
  bool hello_pending = false;
  auto flush_hello = [&] {
    if (hello_pending) reply.append(k_hello_response);
    hello_pending = false;
  };
  while (used < data.size()) {
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
  return close;
}

/// Waits until the client has read enough of its answers (drain()). A coroutine of its own,
/// made only when a client falls behind: its awaiter is not part of every connection's frame.
Task<void> wait_for_client(const StreamWriter& writer) { co_await writer.drain(); }

/// One connection: answer what arrived, wait for more. An idle connection holds only this
/// frame, its socket and its unparsed bytes (none between requests).
Task<void> serve_client(const http::Limits* limits, StreamReader reader, StreamWriter writer) {
  try {
    while (!answer_buffered(*limits, reader, writer)) {
      const std::size_t before = reader.buffered().size();
      co_await reader.wait_for_data();
      if (reader.buffered().size() == before) break;  // EOF (a partial request is dropped)
      // Flow control: the answers went out when the loop iteration that wrote them ended;
      // what the socket did not take is still buffered. Before answering more, wait while the
      // client does not read them (at once below the high-water mark).
      if (writer.get_write_buffer_size() > 0) co_await wait_for_client(writer);
    }
  } catch (const concur::ConnectionError&) {
    // The client reset the connection: nothing to answer.
  }
  writer.close();
}

Task<asyncio::Server> start(const Config& config, std::uint16_t port, bool reuse_port) {
  co_return co_await asyncio::start_server(
      [limits = &config.limits](StreamReader r, StreamWriter w) { return serve_client(limits, std::move(r), std::move(w)); },
      config.host, port, {.backlog = 4096, .reuse_port = reuse_port});
}

/// Serves until SIGINT/SIGTERM. The bound port is stored in `port_out` (for the other
/// workers) when given; a single server (no reuse_port) prints it.
Task<void> serve(const Config& config, std::uint16_t port, bool reuse_port, std::atomic<int>* port_out) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  asyncio::Server server = co_await start(config, port, reuse_port);
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
}

void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// ---- the smoke test: real clients against the server, then a clean stop -----------------------

/// Sends `request` on a new connection and returns everything the server sends until it closes
/// or `responses` responses have arrived.
Task<std::string> exchange(std::uint16_t port, std::string request, int responses = 1) {
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
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
      "curl -s --max-time 10 --http1.1 -w ' %{{http_code}} %{{num_connects}}' http://127.0.0.1:{0}/ "
      "http://127.0.0.1:{0}/ 2>/dev/null",
      port);
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
  asyncio::Server server = co_await start(config, 0, false);
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
  fmt::print("{}\n", g_failures == 0 ? "smoke test passed" : "smoke test FAILED");
  co_return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--host") config.host = value();
    else if (arg == "--port") config.port = static_cast<std::uint16_t>(std::atoi(value()));
    else if (arg == "--workers") config.workers = std::max(1, std::atoi(value()));
    else if (arg == "--max-header-bytes") config.limits.max_header_bytes = std::strtoul(value(), nullptr, 10);
    else if (arg == "--max-body") config.limits.max_body = std::strtoul(value(), nullptr, 10);
    else if (arg == "--smoke") config.smoke = true;
    else {
      fmt::print(stderr,
                 "usage: http_server [--host H] [--port P] [--workers N] [--max-header-bytes B] [--max-body B] "
                 "[--smoke]\n");
      return 2;
    }
  }
  raise_open_file_limit();
  try {
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
