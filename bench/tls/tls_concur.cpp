// SPDX-License-Identifier: MIT
// bench/tls/tls_concur.cpp — concur's side of the TLS benchmark: a TLS server and its clients
// in one process on one event loop (asyncio streams with .ssl), measuring one workload:
//   handshakes  8 clients at a time connect, complete a full handshake (no resumption),
//               exchange one byte and close: handshakes per second
//   bulk        one connection, the client writes 64 KiB at a time (awaiting drain()), the
//               server reads and drops, then sends back the count: MiB per second
//   https       100 keep-alive connections, each sending a GET and reading a 13-byte answer
//               in turn: requests per second
// Every peer (tls_asio.cpp, tls_python.py) runs the same workloads the same way; run.sh runs
// them side by side.
//
//   bench_tls_concur --mode handshakes|bulk|https --seconds S --dir CERTDIR      prints the figure
#include <fmt/core.h>

#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "concur/asyncio.hpp"
#include "concur/ssl.hpp"

namespace asyncio = concur::asyncio;
namespace ssl = concur::ssl;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::string_view k_request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr std::string_view k_response =
    "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::size_t k_chunk = 64 * 1024;

struct Options {
  std::string mode = "handshakes";
  double seconds = 3;
  std::string dir = ".";
};

Task<void> serve(std::string mode, StreamReader reader, StreamWriter writer) {
  try {
    if (mode == "handshakes") {
      const std::string byte = co_await reader.read(1);
      writer.write(byte);
    } else if (mode == "bulk") {
      // 'x' bytes until a final '\n'; then the count goes back.
      std::size_t total = 0;
      for (;;) {
        co_await reader.wait_for_data();
        const std::string_view data = reader.buffered();
        if (data.empty()) break;
        total += data.size();
        const bool last = data.back() == '\n';
        reader.consume(data.size());
        if (last) break;
      }
      writer.write(fmt::format("{}\n", total));
    } else {
      for (;;) {
        const std::string head = co_await reader.readuntil("\r\n\r\n");
        (void)head;
        writer.write(k_response);
      }
    }
  } catch (const std::exception&) {
    // EOF in the middle of a request: the client is done
  }
  writer.close();
}

Task<double> run(Options o) {
  ssl::SSLContext sctx = ssl::create_default_context(ssl::Purpose::CLIENT_AUTH);
  sctx.load_cert_chain(o.dir + "/server.pem", o.dir + "/server.key");
  ssl::SSLContext cctx = ssl::create_default_context(ssl::Purpose::SERVER_AUTH, {.cafile = o.dir + "/ca.pem"});
  // The options and the callback (a lambda holding a string) are built outside the co_await
  // expression: g++ 12 destroys such temporaries of a co_await expression twice.
  const asyncio::ServerOptions sopts{.backlog = 1024, .ssl = sctx};
  asyncio::ClientConnected handler = [mode = o.mode](StreamReader r, StreamWriter w) {
    return serve(mode, std::move(r), std::move(w));
  };
  asyncio::Server server = co_await asyncio::start_server(std::move(handler), "127.0.0.1", 0, sopts);
  const std::uint16_t port = server.port();
  const asyncio::StreamOptions copts{.ssl = cctx, .server_hostname = "localhost"};
  const auto deadline = clock_type::now() + std::chrono::duration<double>(o.seconds);
  const auto start = clock_type::now();
  double figure = 0;
  if (o.mode == "handshakes") {
    std::size_t done = 0;
    auto worker = [&]() -> Task<void> {
      while (clock_type::now() < deadline) {
        auto [r, w] = co_await asyncio::open_connection("127.0.0.1", port, copts);
        w.write("x");
        if (co_await r.read(1) != "x") throw concur::RuntimeError("bad echo");
        w.close();
        co_await w.wait_closed();
        ++done;
      }
    };
    std::vector<Task<void>> workers;
    for (int i = 0; i < 8; ++i) workers.push_back(worker());
    co_await asyncio::gather(std::move(workers));
    figure = static_cast<double>(done) / std::chrono::duration<double>(clock_type::now() - start).count();
  } else if (o.mode == "bulk") {
    auto [r, w] = co_await asyncio::open_connection("127.0.0.1", port, copts);
    const std::string block(k_chunk, 'x');
    std::size_t sent = 0;
    while (clock_type::now() < deadline) {
      for (int i = 0; i < 16; ++i) {
        w.write(block);
        sent += block.size();
        co_await w.drain();
      }
    }
    w.write("\n");
    const std::string total = co_await r.readline();
    if (std::stoull(total) != sent + 1) throw concur::RuntimeError("bytes lost");
    figure = static_cast<double>(sent) / (1 << 20) / std::chrono::duration<double>(clock_type::now() - start).count();
    w.close();
  } else {
    // The clock starts once the 100 connections are open (their handshakes are not counted).
    std::size_t done = 0;
    int ready = 0;
    asyncio::Event go;
    clock_type::time_point t0, end;
    auto connection = [&]() -> Task<void> {
      auto [r, w] = co_await asyncio::open_connection("127.0.0.1", port, copts);
      if (++ready == 100) {
        t0 = clock_type::now();
        end = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
        go.set();
      }
      co_await go.wait();
      while (clock_type::now() < end) {
        w.write(k_request);
        (void)co_await r.readuntil("\r\n\r\n");
        (void)co_await r.readexactly(13);
        ++done;
      }
      w.close();
    };
    std::vector<Task<void>> conns;
    for (int i = 0; i < 100; ++i) conns.push_back(connection());
    co_await asyncio::gather(std::move(conns));
    figure = static_cast<double>(done) / std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  server.close();
  co_return figure;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    if (arg == "--mode") o.mode = argv[i + 1];
    else if (arg == "--seconds") o.seconds = std::atof(argv[i + 1]);
    else if (arg == "--dir") o.dir = argv[i + 1];
  }
  if (o.mode != "handshakes" && o.mode != "bulk" && o.mode != "https") {
    fmt::print(stderr, "usage: bench_tls_concur --mode handshakes|bulk|https [--seconds S] [--dir CERTDIR]\n");
    return 2;
  }
  try {
    fmt::print("{:.1f}\n", asyncio::run(run(o)));
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_tls_concur: {}\n", e.what());
    return 1;
  }
}
