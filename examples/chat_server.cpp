// SPDX-License-Identifier: MIT
// examples/chat_server.cpp — the classic guide's chat application: every line a client sends is
// broadcast to every other client, prefixed with the sender's name. Works with `nc`:
//
//   chat_server [--host 127.0.0.1] [--port 8889]     then, in two terminals: nc 127.0.0.1 8889
//   chat_server --smoke                              three clients chat, then it stops
//
// The first line a client sends is its name. Each client is one task; the room is a plain
// std::map on the loop's thread (no lock: one loop, one thread). A member who does not read
// cannot make the server buffer without bound: once more than 256 KiB of the room's lines
// wait for it, it is disconnected (with one line on stderr) and the room hears it left
// (drain() would let one slow reader stall every sender's task instead).
#include <fmt/core.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <map>
#include <string>

#include "concur/asyncio.hpp"
#include "concur/asyncio/signals.hpp"
#include "common/line_server_main.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

class ChatRoom {
 public:
  Task<void> handle(StreamReader reader, StreamWriter writer) {
    writer.write("Welcome! Your name?\n");
    std::string name = co_await reader.readline();
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    if (name.empty()) co_return;
    const int id = ++m_next_id;
    m_members.emplace(id, Member{name, writer});
    broadcast(id, fmt::format("* {} joined ({} here)\n", name, m_members.size()));
    try {
      for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        if (line.back() != '\n') line += '\n';
        broadcast(id, fmt::format("{}: {}", name, line));
      }
    } catch (const concur::ConnectionError&) {
      // the client vanished
    } catch (const concur::ValueError&) {  // readline(): a line longer than the reader's limit
      writer.write("line too long, bye\n");
    }
    m_members.erase(id);
    broadcast(id, fmt::format("* {} left\n", name));
    writer.close();
  }

  void close_all() {
    for (auto& [id, m] : m_members) m.writer.close();
  }

 private:
  struct Member {
    std::string name;
    StreamWriter writer;
  };
  /// The most a member may leave unread before it is disconnected.
  static constexpr std::size_t max_unread = 256 * 1024;

  void broadcast(int from, const std::string& text) {
    for (auto& [id, m] : m_members) {
      if (id == from || m.writer.is_closing()) continue;
      if (m.writer.get_write_buffer_size() + text.size() > max_unread) {
        // It does not read: drop it (its task sees EOF, leaves the room and says so).
        fmt::print(stderr, "chat_server: {} left {} bytes unread: disconnected\n", m.name,
                   m.writer.get_write_buffer_size());
        m.writer.abort();
        continue;
      }
      m.writer.write(text);
    }
  }
  std::map<int, Member> m_members;
  int m_next_id = 0;
};

Task<int> serve(std::string host, std::uint16_t port) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  ChatRoom room;
  asyncio::Server server = co_await asyncio::start_server(
      [&room](StreamReader r, StreamWriter w) { return room.handle(std::move(r), std::move(w)); }, host, port);
  fmt::print("Chat on {} (try: nc {} {})\n", server.sockets().front().to_string(), host, server.port());
  std::fflush(stdout);
  asyncio::add_signal_handler(loop, SIGINT, [&] { server.close(); });
  co_await server.serve_forever();
  asyncio::remove_signal_handler(loop, SIGINT);
  room.close_all();
  co_await server.wait_closed();
  co_return 0;
}

Task<int> smoke() {
  ChatRoom room;
  asyncio::Server server = co_await asyncio::start_server(
      [&room](StreamReader r, StreamWriter w) { return room.handle(std::move(r), std::move(w)); }, "127.0.0.1", 0);
  const std::uint16_t port = server.port();
  auto join = [port](std::string name) -> Task<std::pair<StreamReader, StreamWriter>> {
    auto conn = co_await asyncio::open_connection("127.0.0.1", port);
    co_await conn.first.readline();  // "Welcome! Your name?"
    conn.second.write(name + "\n");
    co_return conn;
  };
  auto [ra, wa] = co_await join("alice");
  auto [rb, wb] = co_await join("bob");
  const std::string joined = co_await ra.readline();  // alice hears bob join
  auto [rc, wc] = co_await join("carol");
  co_await ra.readline();  // carol joined
  co_await rb.readline();
  wa.write("hello everyone\n");
  const std::string at_bob = co_await rb.readline();
  const std::string at_carol = co_await rc.readline();
  wc.write("hi alice\n");
  const std::string at_alice = co_await ra.readline();
  co_await rb.readline();
  fmt::print("alice heard: {}bob heard: {}carol heard: {}alice heard: {}", joined, at_bob, at_carol, at_alice);
  const bool ok = joined == "* bob joined (2 here)\n" && at_bob == "alice: hello everyone\n" &&
                  at_carol == "alice: hello everyone\n" && at_alice == "carol: hi alice\n";
  wb.close();
  const std::string left = co_await ra.readline();
  fmt::print("alice heard: {}", left);
  wa.close();
  wc.close();
  server.close();
  co_await server.wait_closed();
  fmt::print("{}\n", ok && left == "* bob left\n" ? "smoke test passed" : "smoke test FAILED");
  co_return ok && left == "* bob left\n" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return examples::run_line_server("chat_server", 8889, argc, argv, serve, smoke); }
