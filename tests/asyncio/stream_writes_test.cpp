// SPDX-License-Identifier: MIT
// Tests of how StreamWriter sends: small writes made while the loop runs are gathered and sent
// after the loop's iteration (one system call), and nothing written is lost, reordered or held
// back by that: close() and write_eof() send it first, drain() waits for it, abort() drops it,
// large writes and writes made while the loop is not running go out at once.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

class StreamWrites : public asyncio::testing_support::AsyncioTest {};

/// A connection on 127.0.0.1: the server's side and the client's side.
struct Pair {
  asyncio::Server server;
  StreamReader server_reader;
  StreamWriter server_writer;
  StreamReader client_reader;
  StreamWriter client_writer;
};

Task<Pair> connect_pair() {
  Pair p;
  asyncio::Event accepted;
  p.server = co_await asyncio::start_server(
      [&](StreamReader r, StreamWriter w) -> Task<void> {
        p.server_reader = std::move(r);
        p.server_writer = std::move(w);
        accepted.set();
        co_return;
      },
      "127.0.0.1", 0);
  auto [r, w] = co_await asyncio::open_connection("127.0.0.1", p.server.port());
  p.client_reader = std::move(r);
  p.client_writer = std::move(w);
  co_await accepted.wait();
  co_return p;
}

Task<void> shut(Pair& p) {
  p.client_writer.close();
  p.server_writer.close();
  p.server.close();
  co_await p.server.wait_closed();
}

TEST_F(StreamWrites, SmallWritesOfOneIterationAreSentTogetherAfterIt) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    p.server_writer.write("a");
    p.server_writer.write("bc");
    p.server_writer.write("def");
    EXPECT_EQ(p.server_writer.get_write_buffer_size(), 6u);  // not sent yet
    co_await asyncio::sleep(0s);                             // the next iteration: sent
    EXPECT_EQ(p.server_writer.get_write_buffer_size(), 0u);
    // One system call sent the three: they arrive as one segment, read at once.
    EXPECT_EQ(co_await p.client_reader.read(100), "abcdef");
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, SmallAndLargeWritesArriveInTheOrderTheyWereMade) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    std::string big(300 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    p.server_writer.write("head:");
    p.server_writer.write(big);  // large: sent at once, behind "head:"
    p.server_writer.write(":tail");
    p.server_writer.close();
    EXPECT_EQ(co_await p.client_reader.read(), "head:" + big + ":tail");
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, CloseSendsWhatWasWrittenBeforeIt) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    p.server_writer.write("last words");
    p.server_writer.close();
    EXPECT_EQ(co_await p.client_reader.read(), "last words");
    EXPECT_TRUE(p.client_reader.at_eof());
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, WriteEofSendsWhatWasWrittenFirst) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    p.server_writer.write("before eof");
    p.server_writer.write_eof();
    EXPECT_EQ(co_await p.client_reader.read(), "before eof");
    EXPECT_TRUE(p.client_reader.at_eof());
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, AbortDropsWhatWasNotSentYet) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    p.server_writer.write("never sent");
    p.server_writer.abort();
    EXPECT_EQ(p.server_writer.get_write_buffer_size(), 0u);
    std::string got;
    try {
      got = co_await p.client_reader.read();
    } catch (const concur::ConnectionError&) {
      // a reset: nothing arrived either
    }
    EXPECT_EQ(got, "");
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, DrainWithAHighWaterMarkOfZeroReturnsOnceTheBytesAreSent) {
  asyncio::run([]() -> Task<void> {
    Pair p = co_await connect_pair();
    p.server_writer.set_write_buffer_limits(0);
    p.server_writer.write("x");
    EXPECT_EQ(p.server_writer.get_write_buffer_size(), 1u);
    auto drain = [](StreamWriter& w) -> Task<void> { co_await w.drain(); };
    co_await asyncio::wait_for(drain(p.server_writer), 30s);  // a hang fails, not blocks
    EXPECT_EQ(p.server_writer.get_write_buffer_size(), 0u);
    EXPECT_EQ(co_await p.client_reader.read(100), "x");
    co_await shut(p);
  }());
}

TEST_F(StreamWrites, AWriteMadeWhileTheLoopIsNotRunningIsSentAtOnce) {
  asyncio::EventLoop loop;
  Pair p = loop.run_until_complete(connect_pair());
  p.server_writer.write("sent now");
  EXPECT_EQ(p.server_writer.get_write_buffer_size(), 0u);
  EXPECT_EQ(loop.run_until_complete(p.client_reader.read(100)), "sent now");
  loop.run_until_complete(shut(p));
  loop.close();
}

}  // namespace
