// SPDX-License-Identifier: MIT
// examples/echo_server.cpp — the classic asyncio echo server (Python's streams documentation),
// on concur::asyncio: every line a client sends comes back to it.
//
//   echo_server [--host 127.0.0.1] [--port 8888]     serve until Ctrl-C (try: nc 127.0.0.1 8888)
//   echo_server --smoke                              50 clients echo through it, then it stops
//
// A line longer than the reader's limit (64 KiB) gets one error line back and one line on
// stderr, and the connection is closed (one report per connection, whatever it sends).
#include <fmt/core.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "concur/asyncio.hpp"
#include "concur/asyncio/signals.hpp"
#include "common/line_server_main.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

Task<void> echo_lines(StreamReader& reader, StreamWriter& writer) {
  try {
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;  // EOF
      writer.write(line);
      co_await writer.drain();
    }
  } catch (const concur::ValueError&) {  // readline(): a line longer than the reader's limit (dropped)
    const std::optional<asyncio::Address> peer = writer.get_extra_info("peername");
    fmt::print(stderr, "echo_server: {} sent a line longer than {} bytes: answered and closed\n",
               peer ? peer->to_string() : std::string("a client"), reader.limit());
    writer.write(fmt::format("error: line longer than {} bytes\n", reader.limit()));
  } catch (const concur::ConnectionError&) {
    // The client reset the connection: nothing to answer, nothing to report.
  }
}

// Python's `try: ... finally: writer.close(); await writer.wait_closed()`: the writer is
// closed and waited for on every path, a reset connection included.
Task<void> handle_echo(StreamReader reader, StreamWriter writer) {
  co_await asyncio::closing(writer, echo_lines(reader, writer));
}

Task<int> serve(std::string host, std::uint16_t port) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  asyncio::Server server = co_await asyncio::start_server(handle_echo, host, port);
  fmt::print("Serving on {}\n", server.sockets().front().to_string());
  std::fflush(stdout);
  asyncio::add_signal_handler(loop, SIGINT, [&] { server.close(); });
  co_await server.serve_forever();
  asyncio::remove_signal_handler(loop, SIGINT);
  server.close_clients();
  co_await server.wait_closed();
  co_return 0;
}

Task<bool> client(std::uint16_t port, int id) {
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
  bool ok = true;
  for (int i = 0; i < 10; ++i) {
    const std::string line = fmt::format("client {} line {}\n", id, i);
    writer.write(line);
    co_await writer.drain();
    ok = ok && co_await reader.readline() == line;
  }
  writer.close();
  co_await writer.wait_closed();
  co_return ok;
}

Task<int> smoke() {
  asyncio::Server server = co_await asyncio::start_server(handle_echo, "127.0.0.1", 0);
  fmt::print("Serving on {}\n", server.sockets().front().to_string());
  std::vector<Task<bool>> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(client(server.port(), i));
  std::vector<bool> ok = co_await asyncio::gather(std::move(clients));
  const auto good = std::count(ok.begin(), ok.end(), true);
  fmt::print("{} of 50 clients got their 10 lines back\n", good);
  server.close();
  co_await server.wait_closed();
  co_return good == 50 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return examples::run_line_server("echo_server", 8888, argc, argv, serve, smoke); }
