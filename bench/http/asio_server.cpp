// SPDX-License-Identifier: MIT
// bench/http/asio_server.cpp — the Boost.Asio peer (standalone Asio from Debian's libasio-dev):
// an HTTP/1.1 keep-alive hello-world server on C++20 coroutines (asio::awaitable, co_spawn,
// use_awaitable), one io_context on one thread, written as Asio's own examples do. Like the
// epoll peer it answers every request that ends with an empty line, pipelined ones included.
//
//   asio_server [--port N] [--host 127.0.0.1]      prints "listening on PORT" when ready
// Asio 1.22 recognises C++20 coroutines on GCC only; clang with libstdc++ has them too.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#define ASIO_HAS_STD_COROUTINE 1
#endif
#include <asio.hpp>
#include <sys/resource.h>

#include <coroutine>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

constexpr std::string_view k_response =
    "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

awaitable<void> session(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  std::string pending;
  std::string reply;
  char buf[16384];
  try {
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(buf), use_awaitable);
      pending.append(buf, n);
      std::size_t pos = 0, end = 0, complete = 0;
      while ((pos = pending.find("\r\n\r\n", pos)) != std::string::npos) {
        ++complete;
        pos += 4;
        end = pos;
      }
      pending.erase(0, end);
      if (complete == 0) continue;
      reply.clear();
      for (std::size_t k = 0; k < complete; ++k) reply.append(k_response);
      co_await asio::async_write(socket, asio::buffer(reply), use_awaitable);
    }
  } catch (const std::exception&) {
    // the client went away
  }
}

awaitable<void> listener(tcp::acceptor acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  const char* host = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--host") == 0) host = argv[i + 1];
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(host), port));
  acceptor.listen(4096);
  std::printf("listening on %d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { io.stop(); });
  asio::co_spawn(io, listener(std::move(acceptor)), asio::detached);
  io.run();
  return 0;
}
