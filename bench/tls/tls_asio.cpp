// SPDX-License-Identifier: MIT
// bench/tls/tls_asio.cpp — the Boost.Asio peer of the TLS benchmark (standalone Asio from
// Debian's libasio-dev, asio::ssl::stream over OpenSSL): the same server and clients as
// tls_concur.cpp, in one process on one io_context, on C++20 coroutines as Asio's own
// examples write them. Clients verify the server's certificate and name, as concur's do.
//
//   bench_tls_asio --mode handshakes|bulk|https --seconds S --dir CERTDIR      prints the figure
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#define ASIO_HAS_STD_COROUTINE 1
#endif
#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using tls_stream = asio::ssl::stream<tcp::socket>;

constexpr std::string_view k_request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr std::string_view k_response =
    "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::size_t k_chunk = 64 * 1024;

std::string g_mode = "handshakes";

awaitable<void> session(tls_stream s) {
  try {
    s.next_layer().set_option(tcp::no_delay(true));
    co_await s.async_handshake(asio::ssl::stream_base::server, use_awaitable);
    if (g_mode == "handshakes") {
      char byte = 0;
      co_await asio::async_read(s, asio::buffer(&byte, 1), use_awaitable);
      co_await asio::async_write(s, asio::buffer(&byte, 1), use_awaitable);
    } else if (g_mode == "bulk") {
      static char buf[k_chunk];
      std::size_t total = 0;
      for (;;) {
        const std::size_t n = co_await s.async_read_some(asio::buffer(buf), use_awaitable);
        total += n;
        if (n > 0 && buf[n - 1] == '\n') break;
      }
      const std::string answer = std::to_string(total) + "\n";
      co_await asio::async_write(s, asio::buffer(answer), use_awaitable);
    } else {
      std::string pending;
      for (;;) {
        const std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(pending), "\r\n\r\n", use_awaitable);
        pending.erase(0, n);
        co_await asio::async_write(s, asio::buffer(k_response), use_awaitable);
      }
    }
  } catch (const std::exception&) {
    // the client went away
  }
}

awaitable<void> listener(tcp::acceptor& acceptor, asio::ssl::context& sctx) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    asio::co_spawn(acceptor.get_executor(), session(tls_stream(std::move(socket), sctx)), asio::detached);
  }
}

awaitable<void> connect(tls_stream& s, tcp::endpoint ep) {
  co_await s.next_layer().async_connect(ep, use_awaitable);
  s.next_layer().set_option(tcp::no_delay(true));
  SSL_set_tlsext_host_name(s.native_handle(), "localhost");
  s.set_verify_mode(asio::ssl::verify_peer);
  s.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  co_await s.async_handshake(asio::ssl::stream_base::client, use_awaitable);
}

struct Run {
  asio::io_context& io;
  asio::ssl::context& cctx;
  tcp::endpoint ep;
  clock_type::time_point deadline;
  std::size_t done = 0;
  std::size_t sent = 0;
  bool failed = false;

  awaitable<void> handshakes() {
    while (clock_type::now() < deadline) {
      tls_stream s(io, cctx);
      co_await connect(s, ep);
      char byte = 'x';
      co_await asio::async_write(s, asio::buffer(&byte, 1), use_awaitable);
      co_await asio::async_read(s, asio::buffer(&byte, 1), use_awaitable);
      s.next_layer().close();
      ++done;
    }
  }
  awaitable<void> bulk() {
    tls_stream s(io, cctx);
    co_await connect(s, ep);
    const std::string block(k_chunk, 'x');
    while (clock_type::now() < deadline) {
      for (int i = 0; i < 16; ++i) {
        co_await asio::async_write(s, asio::buffer(block), use_awaitable);
        sent += block.size();
      }
    }
    co_await asio::async_write(s, asio::buffer("\n", 1), use_awaitable);
    std::string answer;
    co_await asio::async_read_until(s, asio::dynamic_buffer(answer), "\n", use_awaitable);
    if (std::stoull(answer) != sent + 1) failed = true;
    s.next_layer().close();
  }
  // The clock starts once the 100 connections are open (their handshakes are not counted).
  int ready = 0;
  clock_type::time_point t0{};
  awaitable<void> https(asio::steady_timer& go, double seconds) {
    tls_stream s(io, cctx);
    co_await connect(s, ep);
    if (++ready == 100) {
      t0 = clock_type::now();
      deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
      go.cancel();
    } else {
      asio::error_code ec;
      co_await go.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    std::string pending;
    while (clock_type::now() < deadline) {
      co_await asio::async_write(s, asio::buffer(k_request), use_awaitable);
      const std::size_t head = co_await asio::async_read_until(s, asio::dynamic_buffer(pending), "\r\n\r\n", use_awaitable);
      if (pending.size() < head + 13) {
        co_await asio::async_read(s, asio::dynamic_buffer(pending), asio::transfer_exactly(head + 13 - pending.size()),
                                  use_awaitable);
      }
      pending.erase(0, head + 13);
      ++done;
    }
    s.next_layer().close();
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string dir = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mode") == 0) g_mode = argv[i + 1];
    else if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  if (g_mode != "handshakes" && g_mode != "bulk" && g_mode != "https") {
    std::fprintf(stderr, "usage: bench_tls_asio --mode handshakes|bulk|https [--seconds S] [--dir CERTDIR]\n");
    return 2;
  }
  try {
    asio::io_context io(1);
    asio::ssl::context sctx(asio::ssl::context::tls_server);
    sctx.use_certificate_chain_file(dir + "/server.pem");
    sctx.use_private_key_file(dir + "/server.key", asio::ssl::context::pem);
    asio::ssl::context cctx(asio::ssl::context::tls_client);
    cctx.load_verify_file(dir + "/ca.pem");
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor.listen(1024);
    asio::co_spawn(io, listener(acceptor, sctx), asio::detached);
    Run run{io, cctx, acceptor.local_endpoint(), clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds))};
    const auto start = clock_type::now();
    int pending = 0;
    auto finished = [&](std::exception_ptr e) {
      if (e) run.failed = true;
      if (--pending == 0) acceptor.close();
    };
    if (g_mode == "handshakes") {
      for (int i = 0; i < 8; ++i, ++pending) asio::co_spawn(io, run.handshakes(), finished);
    } else if (g_mode == "bulk") {
      ++pending;
      asio::co_spawn(io, run.bulk(), finished);
    }
    asio::steady_timer go(io, clock_type::time_point::max());
    if (g_mode == "https") {
      for (int i = 0; i < 100; ++i, ++pending) asio::co_spawn(io, run.https(go, seconds), finished);
    }
    while (pending > 0 && io.run_one() > 0) {
    }
    const double elapsed =
        std::chrono::duration<double>(clock_type::now() - (g_mode == "https" ? run.t0 : start)).count();
    if (run.failed) {
      std::fprintf(stderr, "bench_tls_asio: a client failed\n");
      return 1;
    }
    const double figure = g_mode == "bulk" ? static_cast<double>(run.sent) / (1 << 20) / elapsed
                                           : static_cast<double>(run.done) / elapsed;
    std::printf("%.1f\n", figure);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tls_asio: %s\n", e.what());
    return 1;
  }
  return 0;
}
