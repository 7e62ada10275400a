// SPDX-License-Identifier: MIT
// examples/scraper.cpp — the classic guide's "API clients making many simultaneous requests": fetch 20
// URLs concurrently (at most --limit at a time, bounded by an asyncio::Semaphore), then the same
// 20 one by one, and print both times.
//
//   scraper [--urls 20] [--limit 5] [--delay-ms 100] [--tls]
//
// The URLs are served by a local HTTP server started in the same program on 127.0.0.1 (no
// network needed), which answers each request after --delay-ms, as a remote server's latency
// would. The client is a small HTTP/1.1 GET over asyncio::open_connection. With --tls the
// server speaks HTTPS, with a throwaway certificate (made with the openssl command) that the
// client verifies: open_connection(..., {.ssl = ctx}) and start_server(..., {.ssl = ctx}).
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concur/asyncio.hpp"
#include "common/tls.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

/// The "remote" server: answers GET /page/N with a small page after `delay`.
Task<void> serve_page(std::chrono::milliseconds delay, StreamReader reader, StreamWriter writer) {
  const std::string head = co_await reader.readuntil("\r\n\r\n");
  const std::size_t sp = head.find(' ');
  const std::string path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
  co_await asyncio::sleep(delay);
  const std::string body = fmt::format("<html><title>{}</title></html>", path);
  writer.write(fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.size(), body));
  writer.close();
  co_await writer.wait_closed();
}

/// Sends GET `path` on an open connection; returns the body.
Task<std::string> get(StreamReader& reader, StreamWriter& writer, std::string path) {
  writer.write(fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path));
  co_await writer.drain();
  const std::string head = co_await reader.readuntil("\r\n\r\n");
  if (head.rfind("HTTP/1.1 200", 0) != 0) throw concur::RuntimeError("bad response: " + head.substr(0, head.find('\r')));
  const std::size_t at = head.find("Content-Length: ");
  const std::size_t length = at == std::string::npos ? 0 : std::strtoul(head.c_str() + at + 16, nullptr, 10);
  co_return co_await reader.readexactly(length);
}

/// The client's TLS context (--tls), else plaintext.
std::optional<concur::ssl::SSLContext> g_tls;

/// GET http(s)://127.0.0.1:port/path; returns the body. The connection is closed on every path
/// (Python's try/finally around the request).
Task<std::string> fetch(std::uint16_t port, std::string path) {
  // Options holding a TLS context are built outside the co_await expression (g++ 12 destroys
  // such temporaries of a co_await expression twice).
  const asyncio::StreamOptions options{.ssl = g_tls};
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port, options);
  co_return co_await asyncio::closing(writer, get(reader, writer, std::move(path)));
}

Task<std::string> fetch_bounded(asyncio::Semaphore& limit, std::uint16_t port, std::string path) {
  auto held = co_await limit.scoped();  // at most `limit` fetches at a time
  co_return co_await fetch(port, std::move(path));
}

Task<int> scrape(int urls, int limit, std::chrono::milliseconds delay, bool tls) {
  std::optional<examples::ThrowawayCertificates> certs;
  std::optional<concur::ssl::SSLContext> server_tls;
  if (tls) {
    certs.emplace();
    server_tls = certs->server_context();
    g_tls = certs->client_context();
  }
  const asyncio::ServerOptions options{.ssl = server_tls};
  asyncio::Server server = co_await asyncio::start_server(
      [delay](StreamReader r, StreamWriter w) { return serve_page(delay, std::move(r), std::move(w)); }, "127.0.0.1", 0,
      options);
  const std::uint16_t port = server.port();
  std::vector<std::string> paths;
  for (int i = 0; i < urls; ++i) paths.push_back(fmt::format("/page/{}", i));

  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  asyncio::Semaphore semaphore(limit);
  std::vector<Task<std::string>> fetches;
  for (const std::string& p : paths) fetches.push_back(fetch_bounded(semaphore, port, p));
  std::vector<std::string> pages = co_await asyncio::gather(std::move(fetches));
  const double concurrent = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  std::vector<std::string> one_by_one;
  for (const std::string& p : paths) one_by_one.push_back(co_await fetch(port, p));
  const double sequential = std::chrono::duration<double>(clock::now() - t0).count();

  server.close();
  co_await server.wait_closed();
  const bool same = pages == one_by_one && pages.front() == "<html><title>/page/0</title></html>";
  fmt::print("fetched {} pages{}, each served after {} ms\n", urls, tls ? " over HTTPS (TLS, certificate verified)" : "",
             delay.count());
  fmt::print("  concurrently (at most {} at a time): {:.3f} s\n", limit, concurrent);
  fmt::print("  one by one:                          {:.3f} s\n", sequential);
  fmt::print("  speed-up: {:.1f}x; same pages both ways: {}\n", sequential / concurrent, same ? "yes" : "NO");
  co_return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int urls = 20, limit = 5, delay_ms = 100;
  bool tls = false;
  std::vector<char*> args(argv, argv + argc);
  std::erase_if(args, [&](char* a) { return std::string_view(a) == "--tls" && (tls = true); });
  argc = static_cast<int>(args.size());
  argv = args.data();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (arg == "--urls") urls = v;
    else if (arg == "--limit") limit = v;
    else if (arg == "--delay-ms") delay_ms = v;
  }
  if (argc % 2 == 0 || urls < 1 || limit < 1 || delay_ms < 0) {
    fmt::print(stderr, "usage: scraper [--urls N] [--limit N] [--delay-ms MS] [--tls]\n");
    return 2;
  }
  try {
    return asyncio::run(scrape(urls, limit, std::chrono::milliseconds(delay_ms), tls));
  } catch (const std::exception& e) {
    fmt::print(stderr, "scraper: {}\n", e.what());
    return 1;
  }
}
