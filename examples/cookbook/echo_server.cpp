// SPDX-License-Identifier: MIT
// examples/cookbook/echo_server.cpp — an asyncio echo server that stops gracefully on Ctrl-C
// (SIGINT): it stops accepting, closes the open connections, waits until they are closed, and
// exits with status 0. docs/cookbook/echo-server.md shows it beside the Python original.
//
//   cookbook_echo_server [--port P]     serve on 127.0.0.1 until Ctrl-C (try: nc 127.0.0.1 8888)
//   cookbook_echo_server --smoke        serve on a free port; three clients of the program's
//                                       own echo a line each, stay connected, and the program
//                                       sends itself SIGINT; it checks that the server then
//                                       closed each client's connection and stopped
#include <fmt/core.h>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <concur/asyncio.hpp>

#include "common/args.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

Task<void> echo_lines(StreamReader& reader, StreamWriter& writer) {
  for (;;) {
    const std::string line = co_await reader.readline();
    if (line.empty()) break;  // EOF: the client closed, or the server is shutting down
    writer.write(line);
    co_await writer.drain();
  }
}

// Python's `try: await echo_lines(...) finally: writer.close(); await writer.wait_closed()`.
Task<void> handle_client(StreamReader reader, StreamWriter writer) {
  try {
    co_await asyncio::closing(writer, echo_lines(reader, writer));
  } catch (const concur::ConnectionError&) {
    // The client reset the connection: nothing to answer.
  }
}

/// The program's own clients (--smoke): echo a line each, then stay connected until SIGINT
/// makes the server close them. True if every echo came back and every connection then ended.
Task<bool> clients_then_sigint(std::uint16_t port) {
  std::vector<std::pair<StreamReader, StreamWriter>> connections;
  bool ok = true;
  try {
    for (int i = 0; i < 3; ++i) {
      connections.push_back(co_await asyncio::open_connection("127.0.0.1", port));
      auto& [reader, writer] = connections.back();
      const std::string line = fmt::format("hello from client {}\n", i);
      writer.write(line);
      co_await writer.drain();
      ok = ok && co_await reader.readline() == line;
    }
  } catch (const std::exception& e) {  // still send SIGINT below: the server must not wait forever
    fmt::print("client failed: {}\n", e.what());
    ok = false;
  }
  fmt::print("{} clients connected and echoed; sending SIGINT to myself\n", connections.size());
  std::fflush(stdout);
  ::kill(::getpid(), SIGINT);  // Python: os.kill(os.getpid(), signal.SIGINT), or Ctrl-C
  for (auto& [reader, writer] : connections) {
    // The server closes the connection: EOF, within 10 s (else the shutdown is not graceful).
    ok = ok && (co_await asyncio::wait_for(reader.read(), std::chrono::seconds(10))).empty();
    writer.close();
    co_await writer.wait_closed();
  }
  co_return ok;
}

Task<int> serve(std::uint16_t port, bool smoke) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  asyncio::Server server = co_await asyncio::start_server(handle_client, "127.0.0.1", port);
  fmt::print("Serving on {}\n", server.sockets().front().to_string());
  std::fflush(stdout);
  loop.add_signal_handler(SIGINT, [&server] {
    fmt::print("SIGINT: closing the server\n");
    server.close();  // serve_forever() returns
  });
  std::optional<Task<bool>> clients;
  if (smoke) clients = asyncio::create_task(clients_then_sigint(server.port()));

  co_await server.serve_forever();
  loop.remove_signal_handler(SIGINT);
  server.close_clients();          // each handler's readline() sees EOF; the writers close
  co_await server.wait_closed();   // every connection is gone
  fmt::print("server closed, every connection closed\n");

  if (!clients) co_return 0;
  const bool ok = co_await std::move(*clients);
  fmt::print("clients: {}\n", ok ? "each echoed, then saw the server close" : "UNEXPECTED");
  co_return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 8888;
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--smoke") {
      smoke = true;
      port = 0;
    } else if (arg == "--port" && i + 1 < argc && examples::parse_port(argv[i + 1])) {
      port = *examples::parse_port(argv[++i]);
    } else {
      fmt::print(stderr, "usage: cookbook_echo_server [--port P] [--smoke]\n");
      return 2;
    }
  }
  try {
    return asyncio::run(serve(port, smoke));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_echo_server: {}\n", e.what());
    return 1;
  }
}
