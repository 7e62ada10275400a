// SPDX-License-Identifier: MIT
// Tests of concur/asyncio/streams.hpp on real sockets (127.0.0.1 and Unix-domain): round trips,
// partial and split reads, the readline/readuntil limits, EOF mid-line, flow control towards a
// slow reader, many concurrent clients, errors, and servers that close cleanly.
#include "concur/asyncio/streams.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <latch>
#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

class Streams : public asyncio::testing_support::AsyncioTest {};

// Name resolution runs on libuv's thread pool, whose threads live until the process exits.
// Starting it before any test keeps the leak check from counting them.
const bool g_thread_pool_started = [] {
  asyncio::run([]() -> Task<void> {
    try {
      co_await asyncio::open_connection("localhost", 9);
    } catch (const std::exception&) {
    }
  }());
  return true;
}();

/// The file descriptors open in this process now.
std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Echoes every line until EOF.
Task<void> echo_lines(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

TEST_F(Streams, EchoesALineOverTcpAndClosesCleanly) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    EXPECT_TRUE(server.is_serving());
    EXPECT_EQ(server.sockets().size(), 1u);
    EXPECT_EQ(server.sockets()[0].host, "127.0.0.1");
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    writer.write("hello\n");
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "hello\n");
    writer.close();
    co_await writer.wait_closed();
    EXPECT_TRUE(writer.is_closing());
    server.close();
    co_await server.wait_closed();
    EXPECT_FALSE(server.is_serving());
  }());
}

TEST_F(Streams, ReassemblesLinesSplitAcrossWritesAndSplitsLinesSentTogether) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader reader, StreamWriter writer) -> Task<void> {
          writer.write("par");
          co_await writer.drain();
          co_await asyncio::sleep(0s);
          writer.write("tial\nsecond\nthi");
          co_await writer.drain();
          writer.write("rd\n12345");
          writer.close();
          co_await reader.read();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    EXPECT_EQ(co_await reader.readline(), "partial\n");
    EXPECT_EQ(co_await reader.readline(), "second\n");
    EXPECT_EQ(co_await reader.readuntil("\n"), "third\n");
    EXPECT_EQ(co_await reader.readexactly(3), "123");
    EXPECT_EQ(co_await reader.read(100), "45");
    EXPECT_EQ(co_await reader.read(100), "");
    EXPECT_TRUE(reader.at_eof());
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

/// Waits until `n` bytes are buffered (the peer sends at least that many before it closes).
Task<void> wait_buffered(const StreamReader& reader, std::size_t n) {
  while (reader.buffered().size() < n) co_await reader.wait_for_data();
}

// Python's readline(): the over-long line is consumed up to and including its "\n" and
// ValueError is raised, so that the next readline() returns the next line.
TEST_F(Streams, ReadlineOverTheLimitRaisesValueErrorAndTheNextReadlineReturnsTheNextLine) {
  asyncio::run([]() -> Task<void> {
    const std::string longline(100, 'x');
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write(longline + "\nshort\n");
          co_await writer.drain();
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), {.limit = 32});
    EXPECT_EQ(reader.limit(), 32u);
    co_await wait_buffered(reader, longline.size() + 7);  // the whole line is there: no chunking involved
    try {
      co_await reader.readline();
      ADD_FAILURE() << "readline() of a line over the limit must raise";
    } catch (const concur::ValueError& e) {
      EXPECT_STREQ(e.what(), "Separator is found, but chunk is longer than limit");
    }
    EXPECT_EQ(reader.buffered(), "short\n");
    EXPECT_EQ(co_await reader.readline(), "short\n");
    EXPECT_EQ(co_await reader.readline(), "");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

// When the "\n" has not arrived, readline() drops everything buffered (Python clears its
// buffer): the rest of the line then comes as the next line.
TEST_F(Streams, ReadlineOverTheLimitWithoutItsNewlineDropsTheBufferAndGoesOn) {
  asyncio::Event tail_wanted;  // outlives the loop's tasks
  asyncio::run([&]() -> Task<void> {
    const std::string head(40, 'y');
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write(head);
          co_await writer.drain();
          co_await tail_wanted.wait();
          writer.write("tail\nnext\n");
          co_await writer.drain();
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), {.limit = 32});
    co_await wait_buffered(reader, head.size());
    EXPECT_THROW(co_await reader.readline(), concur::ValueError);
    EXPECT_EQ(reader.buffered(), "");
    tail_wanted.set();
    EXPECT_EQ(co_await reader.readline(), "tail\n");
    EXPECT_EQ(co_await reader.readline(), "next\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

// readuntil() keeps Python's LimitOverrunError, and leaves the data where it is.
TEST_F(Streams, ReaduntilOverTheLimitRaisesLimitOverrunErrorAndLosesNothing) {
  asyncio::run([]() -> Task<void> {
    const std::string longline(100, 'x');
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write(longline + "\nshort\n");
          co_await writer.drain();
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), {.limit = 32});
    co_await wait_buffered(reader, longline.size() + 7);
    try {
      co_await reader.readuntil("\n");
      ADD_FAILURE() << "readuntil() past the limit must raise";
    } catch (const concur::asyncio::LimitOverrunError& e) {
      EXPECT_EQ(e.consumed(), longline.size());
    }
    EXPECT_EQ(co_await reader.readexactly(100), longline);
    EXPECT_EQ(co_await reader.readline(), "\n");
    EXPECT_EQ(co_await reader.readline(), "short\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, ReaduntilFindsMultiByteSeparatorsAndRejectsAnEmptyOne) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write("GET / HTTP/1.1\r\n");
          co_await writer.drain();
          co_await asyncio::sleep(0s);
          writer.write("\r\nrest");
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    EXPECT_EQ(co_await reader.readuntil("\r\n\r\n"), "GET / HTTP/1.1\r\n\r\n");
    EXPECT_THROW(co_await reader.readuntil(""), concur::ValueError);
    try {
      co_await reader.readuntil("\r\n\r\n");
      ADD_FAILURE() << "readuntil() at EOF must raise IncompleteReadError";
    } catch (const concur::asyncio::IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "rest");
    }
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, APeerThatVanishesMidLineGivesThePartialLineThenEof) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write("no newline here");
          writer.close();
          co_return;
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    EXPECT_EQ(co_await reader.readline(), "no newline here");
    EXPECT_EQ(co_await reader.readline(), "");
    EXPECT_TRUE(reader.at_eof());
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, ReadexactlyRaisesIncompleteReadErrorWithThePartialBytes) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write("12345");
          writer.close();
          co_return;
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    try {
      co_await reader.readexactly(10);
      ADD_FAILURE() << "expected IncompleteReadError";
    } catch (const concur::asyncio::IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "12345");
      EXPECT_EQ(e.expected(), 10u);
    }
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, AWriterThatDrainsNeverBuffersMuchMoreThanTheHighWaterMarkForASlowReader) {
  asyncio::run([]() -> Task<void> {
    constexpr std::size_t chunk = 16 * 1024, chunks = 512;  // 8 MiB
    std::size_t max_buffered = 0;
    bool waited = false;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter writer) -> Task<void> {
          writer.set_write_buffer_limits(64 * 1024);
          const std::string block(chunk, 'z');
          for (std::size_t i = 0; i < chunks; ++i) {
            writer.write(block);
            max_buffered = std::max(max_buffered, writer.get_write_buffer_size());
            if (writer.get_write_buffer_size() > 64 * 1024) waited = true;
            co_await writer.drain();
            EXPECT_LE(writer.get_write_buffer_size(), 64u * 1024);
          }
          writer.close();
          co_await writer.wait_closed();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    std::size_t total = 0;
    for (;;) {
      std::string part = co_await reader.read(4096);  // small reads, a yield between each
      if (part.empty()) break;
      total += part.size();
      co_await asyncio::sleep(0s);
    }
    EXPECT_EQ(total, chunk * chunks);
    EXPECT_TRUE(waited) << "the reader was never slow enough to fill the socket buffers";
    EXPECT_LE(max_buffered, 64u * 1024 + chunk);
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, TheReaderStopsReadingAtTwiceTheLimitSoAFastWriterIsHeldBack) {
  asyncio::run([]() -> Task<void> {
    constexpr std::size_t block_size = 64 * 1024, blocks = 512;  // 32 MiB: more than the kernel buffers
    bool writer_blocked = false;
    asyncio::Event blocked;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter writer) -> Task<void> {
          const std::string block(block_size, 'q');
          for (std::size_t i = 0; i < blocks; ++i) {
            writer.write(block);
            // The client does not read until we are held back: kernel buffers plus its
            // 2 × limit fill up, then our queue grows over the high-water mark.
            if (writer.get_write_buffer_size() > 64 * 1024 && !writer_blocked) {
              writer_blocked = true;
              blocked.set();
            }
            co_await writer.drain();
          }
          blocked.set();
          writer.close();
          co_await writer.wait_closed();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), {.limit = 1024});
    co_await blocked.wait();
    EXPECT_TRUE(writer_blocked);
    EXPECT_LE(reader.buffered().size(), 2u * 1024 + 64 * 1024) << "the reader buffered without bound";
    std::size_t total = 0;
    for (;;) {  // now read it all, limit-sized reads keep the reader's memory small
      std::string part = co_await reader.read(1024);
      if (part.empty()) break;
      total += part.size();
    }
    EXPECT_EQ(total, block_size * blocks);
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, AThousandConcurrentClientsEachGetTheirOwnEcho) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 1024});
    const std::uint16_t port = server.port();
    auto client = [](std::uint16_t port, int i) -> Task<bool> {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
      const std::string line = "client " + std::to_string(i) + "\n";
      writer.write(line);
      co_await writer.drain();
      const std::string back = co_await reader.readline();
      writer.close();
      co_await writer.wait_closed();
      co_return back == line;
    };
    std::vector<Task<bool>> clients;
    for (int i = 0; i < 1000; ++i) clients.push_back(client(port, i));
    std::vector<bool> ok = co_await asyncio::gather(std::move(clients));
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 1000);
    server.close();
    co_await server.wait_closed();
  }());
}

// The loop runs ready tasks from within its poll once enough reads have woken tasks (see
// LoopImpl::io_woke): here every client's line is ready when the loop polls, the first
// handler to run aborts every other connection, many of them with a read event still pending
// in the batch the poll is going through. Exactly that one client gets an answer; the others
// see their connection closed; nothing is reported, leaked or touched after it is freed.
TEST_F(Streams, HandlersThatRunWhileTheLoopGoesThroughABatchOfReadsMayCloseOtherConnections) {
  constexpr int clients = 400;
  std::latch all_waiting(1);  // every handler waits in readline()
  std::latch all_sent(1);     // every client has sent its line
  auto run_clients = [&](std::uint16_t port) {
    std::vector<int> fds;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    for (int i = 0; i < clients; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval limit{.tv_sec = 20, .tv_usec = 0};  // a safety net: a failure, never a hang
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ADD_FAILURE() << "connect";
      fds.push_back(fd);
    }
    all_waiting.wait();
    for (int fd : fds) EXPECT_EQ(::send(fd, "hi\n", 3, MSG_NOSIGNAL), 3);
    all_sent.count_down();
    int answered = 0;
    for (int fd : fds) {
      std::string got;
      char buf[64];
      for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        if (n > 0) continue;
        EXPECT_TRUE(n == 0 || errno == ECONNRESET) << "recv: " << errno;
        break;
      }
      if (!got.empty()) {
        EXPECT_EQ(got, "answer\n");
        ++answered;
      }
      ::close(fd);
    }
    return answered;
  };
  asyncio::run(
      [&]() -> Task<void> {
        std::vector<StreamWriter> writers;
        int waiting = 0;
        bool first = true;
        asyncio::Event everyone_waits;
        auto handler = [&](StreamReader reader, StreamWriter writer) -> Task<void> {
          writers.push_back(writer);
          if (++waiting == clients) everyone_waits.set();
          const std::string line = co_await reader.readline();
          if (line == "hi\n" && std::exchange(first, false)) {
            for (StreamWriter& other : writers) {
              if (other.transport() != writer.transport()) other.abort();
            }
            writer.write("answer\n");
          }
          writer.close();
          co_await writer.wait_closed();
        };
        asyncio::Server server = co_await asyncio::start_server(handler, "127.0.0.1", 0, {.backlog = 1024});
        auto answered = asyncio::create_task(asyncio::to_thread(run_clients, server.port()));
        co_await everyone_waits.wait();
        all_waiting.count_down();
        all_sent.wait();  // blocks the loop on purpose: its next poll finds every line ready
        EXPECT_EQ(co_await answered, 1);
        EXPECT_FALSE(first);
        writers.clear();
        server.close();
        co_await server.wait_closed();
      }(),
      capturing());
  EXPECT_TRUE(reports.empty()) << reports.front();
}

TEST_F(Streams, ConnectingToAClosedPortRaisesConnectionRefusedError) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    const std::uint16_t port = server.port();
    server.close();
    co_await server.wait_closed();
    EXPECT_THROW(co_await asyncio::open_connection("127.0.0.1", port), concur::ConnectionRefusedError);
  }());
}

TEST_F(Streams, ANameThatDoesNotResolveRaisesOSError) {
  asyncio::run([]() -> Task<void> {
    EXPECT_THROW(co_await asyncio::open_connection("no-such-host.invalid", 80), concur::OSError);
  }());
}

TEST_F(Streams, LocalhostIsResolvedThroughTheLoop) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "localhost", 0);
    if (server.sockets().empty()) throw concur::RuntimeError("no socket");
    auto [reader, writer] = co_await asyncio::open_connection("localhost", server.sockets()[0].port);
    writer.write("via localhost\n");
    EXPECT_EQ(co_await reader.readline(), "via localhost\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, IPv6LoopbackWorksWhenTheHostHasIt) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server;
    try {
      server = co_await asyncio::start_server(echo_lines, "::1", 0);
    } catch (const concur::OSError&) {
      co_return;  // no IPv6 on this host
    }
    EXPECT_EQ(server.sockets()[0].family, asyncio::Address::Family::ipv6);
    auto [reader, writer] = co_await asyncio::open_connection("::1", server.port());
    EXPECT_EQ(writer.get_extra_info("peername")->to_string(), "[::1]:" + std::to_string(server.port()));
    writer.write("six\n");
    EXPECT_EQ(co_await reader.readline(), "six\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, GetExtraInfoGivesPeerAndSocketNames) {
  asyncio::run([]() -> Task<void> {
    asyncio::Address seen_peer;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader reader, StreamWriter writer) -> Task<void> {
          seen_peer = *writer.get_extra_info("peername");
          co_await reader.read();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    const asyncio::Address peer = *writer.get_extra_info("peername");
    const asyncio::Address sock = *writer.get_extra_info("sockname");
    EXPECT_EQ(peer.host, "127.0.0.1");
    EXPECT_EQ(peer.port, server.port());
    EXPECT_EQ(peer.to_string(), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(sock.family, asyncio::Address::Family::ipv4);
    EXPECT_FALSE(writer.get_extra_info("socket").has_value());
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
    EXPECT_EQ(seen_peer, sock);
  }());
}

TEST_F(Streams, AnExceptionInAHandlerClosesThatConnectionIsReportedAndTheServerGoesOn) {
  asyncio::run(
      [this]() -> Task<void> {
        asyncio::Server server = co_await asyncio::start_server(
            [](StreamReader reader, StreamWriter writer) -> Task<void> {
              std::string line = co_await reader.readline();
              if (line == "boom\n") throw concur::ValueError("bad client");
              writer.write(line);
              co_await writer.drain();
            },
            "127.0.0.1", 0);
        {
          auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
          writer.write("boom\n");
          EXPECT_EQ(co_await reader.read(), "");  // closed by the server
          writer.close();
        }
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
        writer.write("fine\n");
        EXPECT_EQ(co_await reader.readline(), "fine\n");
        writer.close();
        server.close();
        co_await server.wait_closed();
        EXPECT_EQ(reports.size(), 1u);
        if (!reports.empty()) {
          EXPECT_NE(reports[0].find("exception was never retrieved"), std::string::npos) << reports[0];
        }
      }(),
      capturing());
}

TEST_F(Streams, TwoTasksReadingAtOnceIsARuntimeError) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    auto first = asyncio::create_task(reader.readline());
    co_await asyncio::sleep(0s);
    EXPECT_THROW(co_await reader.readline(), concur::RuntimeError);
    writer.write("one\n");
    EXPECT_EQ(co_await first, "one\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, CancellingAReadLeavesTheStreamUsable) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    auto waiting = asyncio::create_task(reader.readline());
    co_await asyncio::sleep(0s);  // it now waits for data
    waiting.cancel();
    EXPECT_THROW(co_await waiting, concur::CancelledError);
    writer.write("after\n");
    EXPECT_EQ(co_await reader.readline(), "after\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, DrainAfterTheConnectionIsLostRaisesConnectionResetError) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader, StreamWriter writer) -> Task<void> {
          writer.abort();
          co_return;
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    co_await reader.read();
    // Write until the kernel reports the reset (EPIPE / ECONNRESET), then drain reports it.
    bool raised = false;
    for (int i = 0; i < 100 && !raised; ++i) {
      writer.write(std::string(4096, 'w'));
      try {
        co_await writer.drain();
        co_await asyncio::sleep(0s);
      } catch (const concur::ConnectionError&) {
        raised = true;
      }
    }
    EXPECT_TRUE(raised);
    EXPECT_TRUE(writer.is_closing());
    writer.write("dropped");  // never throws
    server.close();
    co_await server.wait_closed();
  }());
}

// Python's drain() after close(): ConnectionResetError('Connection lost'), written data or not.
TEST_F(Streams, DrainAfterCloseOrAbortRaisesConnectionResetError) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
      writer.close();
      EXPECT_THROW(co_await writer.drain(), concur::ConnectionResetError);
      EXPECT_THROW(co_await writer.drain(), concur::ConnectionResetError);  // and again once closed
    }
    {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
      writer.write("sent first\n");
      writer.close();
      try {
        co_await writer.drain();
        ADD_FAILURE() << "drain() after close() must raise";
      } catch (const concur::ConnectionResetError& e) {
        EXPECT_NE(std::string(e.what()).find("Connection lost"), std::string::npos) << e.what();
      }
    }
    {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
      writer.write("dropped\n");
      writer.abort();
      EXPECT_THROW(co_await writer.drain(), concur::ConnectionResetError);
    }
    server.close();
    co_await server.wait_closed();
  }());
}

// A deliberate difference (streams.hpp): a drain() waiting when abort() drops the queued data
// raises ConnectionResetError (Python's returns).
TEST_F(Streams, ADrainWaitingWhenTheWriterAbortsRaisesConnectionResetError) {
  asyncio::Event release;  // outlives the loop's tasks
  asyncio::run([&]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter) -> Task<void> { co_await release.wait(); },  // never reads
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    writer.write(std::string(std::size_t{16} << 20, 'z'));  // 16 MiB: more than the kernel buffers take
    EXPECT_GT(writer.get_write_buffer_size(), 64u * 1024);
    auto draining = asyncio::create_task([](StreamWriter w) -> Task<void> { co_await w.drain(); }(writer));
    co_await asyncio::sleep(0s);  // it now waits for the queue to go down
    EXPECT_FALSE(draining.done());
    writer.abort();
    EXPECT_THROW(co_await draining, concur::ConnectionResetError);
    release.set();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, ServeForeverReturnsWhenTheServerIsClosedAndWaitClosedWaitsForClients) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event connected;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader reader, StreamWriter) -> Task<void> {
          connected.set();
          co_await reader.read();
        },
        "127.0.0.1", 0, {.start_serving = false});
    EXPECT_FALSE(server.is_serving());
    auto forever = asyncio::create_task(server.serve_forever());
    co_await asyncio::sleep(0s);  // serve_forever() starts serving when its task first runs
    EXPECT_TRUE(server.is_serving());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    co_await connected.wait();
    EXPECT_THROW(co_await server.serve_forever(), concur::RuntimeError);
    server.close();
    co_await forever;  // returns normally
    auto closed = asyncio::create_task([](asyncio::Server s) -> Task<void> { co_await s.wait_closed(); }(server));
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(closed.done()) << "wait_closed() returned while a client is connected";
    server.close_clients();
    co_await closed;
    EXPECT_EQ(co_await reader.read(), "");
    writer.close();
  }());
}

TEST_F(Streams, CancellingServeForeverClosesTheServer) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    auto forever = asyncio::create_task(server.serve_forever());
    co_await asyncio::sleep(0s);
    forever.cancel();
    EXPECT_THROW(co_await forever, concur::CancelledError);
    EXPECT_FALSE(server.is_serving());
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, BindingAPortInUseRaisesOSErrorUnlessReusePortIsAskedByBoth) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server first = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    try {
      co_await asyncio::start_server(echo_lines, "127.0.0.1", first.port());
      ADD_FAILURE() << "binding a port in use must fail";
    } catch (const concur::OSError& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
    first.close();
    co_await first.wait_closed();

    asyncio::Server a = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.reuse_port = true});
    asyncio::Server b = co_await asyncio::start_server(echo_lines, "127.0.0.1", a.port(), {.reuse_port = true});
    EXPECT_EQ(a.port(), b.port());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", a.port());
    writer.write("either\n");
    EXPECT_EQ(co_await reader.readline(), "either\n");
    writer.close();
    a.close();
    b.close();
    co_await a.wait_closed();
    co_await b.wait_closed();
  }());
}

TEST_F(Streams, UnixDomainServersEchoAndRemoveTheirSocketFile) {
  const std::string path = "/tmp/concur-streams-test-" + std::to_string(::getpid()) + ".sock";
  asyncio::run([&]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_unix_server(echo_lines, path);
    EXPECT_EQ(::access(path.c_str(), F_OK), 0);
    auto [reader, writer] = co_await asyncio::open_unix_connection(path);
    writer.write("over a unix socket\n");
    EXPECT_EQ(co_await reader.readline(), "over a unix socket\n");
    EXPECT_EQ(writer.get_extra_info("peername")->host, path);
    writer.close();
    server.close();
    co_await server.wait_closed();
    EXPECT_NE(::access(path.c_str(), F_OK), 0);
    EXPECT_THROW(co_await asyncio::open_unix_connection(path), concur::FileNotFoundError);
  }());
}

TEST_F(Streams, WriteEofLetsThePeerReadToTheEndAndStillAnswer) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader reader, StreamWriter writer) -> Task<void> {
          std::string all = co_await reader.read();
          writer.write("got " + std::to_string(all.size()));
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    EXPECT_TRUE(writer.can_write_eof());
    writer.writelines({"abc", "def", "gh"});
    writer.write_eof();
    EXPECT_EQ(co_await reader.read(), "got 8");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, ZeroCopyAccessSeesAndConsumesTheBuffer) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader, StreamWriter writer) -> Task<void> {
          writer.write("abcdef");
          writer.close();
          co_return;
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    while (reader.buffered().size() < 6 && !reader.at_eof()) co_await reader.wait_for_data();
    EXPECT_EQ(reader.buffered(), "abcdef");
    reader.consume(2);
    EXPECT_EQ(reader.buffered(), "cdef");
    EXPECT_THROW(reader.consume(5), concur::ValueError);
    EXPECT_EQ(co_await reader.read(), "cdef");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Streams, AServerAndAConnectionLeftOpenWhenRunReturnsAreClosedWithTheLoop) {
  const std::size_t fds_before = open_fd_count();
  asyncio::Server server;
  StreamReader reader;
  StreamWriter writer;
  asyncio::run(
      [&]() -> Task<void> {
        server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        auto [r, w] = co_await asyncio::open_connection("127.0.0.1", server.port());
        w.write("ping\n");
        EXPECT_EQ(co_await r.readline(), "ping\n");  // both ends are connected
        reader = r;
        writer = w;
      }(),
      capturing());
  // No "live libuv handle" report (the fixture checks the unclean-close counter too), no fd.
  EXPECT_TRUE(reports.empty()) << reports.front();
  EXPECT_EQ(open_fd_count(), fds_before);
  // The handles outlived the loop: closed for good, and safe to use and destroy.
  EXPECT_TRUE(writer.is_closing());
  EXPECT_TRUE(reader.at_eof());
  EXPECT_FALSE(writer.get_extra_info("peername").has_value());
  EXPECT_THROW(writer.write("too late\n"), concur::RuntimeError);
  EXPECT_THROW(writer.writelines({"too ", "late"}), concur::RuntimeError);
  writer.close();
  writer.abort();
  EXPECT_FALSE(server.is_serving());
  EXPECT_TRUE(server.sockets().empty());
  EXPECT_THROW(server.start_serving(), concur::RuntimeError);
  EXPECT_THROW((void)server.get_loop(), concur::RuntimeError);  // the loop is gone: no dangling reference
  server.close();
  server.close_clients();
}

TEST_F(Streams, ClosingTheLoopWhileANameIsBeingResolvedLeavesNoRequestBehind) {
  // The connecting task is suspended on getaddrinfo (libuv's thread pool) when the loop
  // closes: the task is destroyed, its request cancelled or, if the lookup already runs,
  // waited for; the loop closes cleanly (the fixture checks for an unclean close) and no
  // callback can reach the freed loop later.
  m_expected_destroyed_pending = 1;
  asyncio::EventLoop loop;
  std::vector<std::string> loop_reports;
  loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { loop_reports.push_back(c.message); });
  auto connecting = loop.create_task(asyncio::open_connection("localhost", 9));
  loop.run_until_complete([]() -> Task<void> { co_await asyncio::sleep(0s); }());  // it starts resolving
  EXPECT_FALSE(connecting.done());
  loop.close();
  ASSERT_EQ(loop_reports.size(), 1u);
  EXPECT_EQ(loop_reports[0], "Task was destroyed but it is pending!");
}

TEST_F(Streams, AWriterWithQueuedDataThatOutlivesItsLoopIsClosedByItAndCanBeDestroyedLater) {
  auto writer = std::make_unique<StreamWriter>();
  StreamWriter server_side;
  asyncio::run([&]() -> Task<void> {
    asyncio::Event connected;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter w) -> Task<void> {
          server_side = w;  // never reads: the client's data queues up
          connected.set();
          co_return;
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await asyncio::open_connection("127.0.0.1", server.port());
    co_await connected.wait();
    w.write(std::string(8 << 20, 'x'));  // far more than the sockets' buffers take
    EXPECT_GT(w.get_write_buffer_size(), 0u);
    *writer = w;
  }());
  EXPECT_TRUE(writer->is_closing());
  EXPECT_TRUE(server_side.is_closing());
  EXPECT_EQ(writer->get_write_buffer_size(), 0u);  // the queued write was cancelled and freed
  EXPECT_THROW(writer->write("x"), concur::RuntimeError);
  writer.reset();  // the last handle: frees the connection without touching the freed loop
}

}  // namespace

namespace {

/// Waits for data on a reader it does not own (the caller may drop it meanwhile).
Task<bool> wait_on_borrowed(StreamReader& reader) {
  co_await reader.wait_for_data();
  co_return true;
}

Task<bool> wait_for_event(asyncio::Event& event) { co_return co_await event.wait(); }

}  // namespace

TEST_F(Streams, DroppingEveryHandleWhileATaskWaitsClosesTheConnectionAndWakesTheTaskSafely) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event peer_closed;
    asyncio::Server server = co_await asyncio::start_server(
        [&peer_closed](StreamReader reader, StreamWriter writer) -> Task<void> {
          EXPECT_EQ(co_await reader.read(), "");  // EOF: the client side was closed
          peer_closed.set();
          writer.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    auto owned_reader = std::make_unique<StreamReader>(std::move(reader));
    auto owned_writer = std::make_unique<StreamWriter>(std::move(writer));
    auto waiting = asyncio::create_task(wait_on_borrowed(*owned_reader));
    co_await asyncio::sleep(0s);  // the task is now suspended in wait_for_data()
    EXPECT_FALSE(waiting.done());
    // The only handles go away while the awaiter still refers to the connection: the
    // connection closes, but is not freed under the awaiter (ASan would report it).
    owned_reader.reset();
    owned_writer.reset();
    EXPECT_TRUE(co_await asyncio::wait_for(std::move(waiting), 10s));
    EXPECT_TRUE(co_await asyncio::wait_for(wait_for_event(peer_closed), 10s));
    server.close();
    co_await server.wait_closed();
  }());
}
