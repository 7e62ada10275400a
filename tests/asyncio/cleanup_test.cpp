// SPDX-License-Identifier: MIT
// Tests of concur/asyncio/cleanup.hpp: try_finally and closing run an awaited clean-up on every
// path (value, exception, cancellation) and then return the value or rethrow the exception.
#include "concur/asyncio/cleanup.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <stdexcept>
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

class Cleanup : public asyncio::testing_support::AsyncioTest {};

/// A clean-up that really suspends (one loop iteration) before it records itself.
auto recording(std::vector<std::string>& log) {
  return [&log]() -> Task<void> {
    co_await asyncio::sleep(0s);
    log.push_back("cleanup");
  };
}

TEST_F(Cleanup, TheValuePathRunsTheCleanupThenReturnsTheValue) {
  std::vector<std::string> log;
  const int v = asyncio::run(asyncio::try_finally(
      [](std::vector<std::string>& l) -> Task<int> {
        co_await asyncio::sleep(0s);
        l.push_back("body");
        co_return 42;
      }(log),
      recording(log)));
  EXPECT_EQ(v, 42);
  EXPECT_EQ(log, (std::vector<std::string>{"body", "cleanup"}));
}

TEST_F(Cleanup, AnExceptionIsRethrownWithItsTypeAfterTheCleanup) {
  std::vector<std::string> log;
  EXPECT_THROW(asyncio::run(asyncio::try_finally(
                   []() -> Task<void> {
                     co_await asyncio::sleep(0s);
                     throw std::out_of_range("index 3");
                   }(),
                   recording(log))),
               std::out_of_range);
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup"}));
}

TEST_F(Cleanup, ACancelledBodyStillAwaitsTheCleanupAndTheTaskEndsCancelled) {
  std::vector<std::string> log;
  asyncio::run([&]() -> Task<void> {
    asyncio::Event never;
    auto t = asyncio::create_task(asyncio::try_finally(
        [](asyncio::Event& e) -> Task<void> { co_await e.wait(); }(never), recording(log)));
    co_await asyncio::sleep(0s);  // t waits on the event
    t.cancel();
    EXPECT_THROW(co_await t, concur::CancelledError);
    EXPECT_TRUE(t.cancelled());
  }());
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup"}));
}

TEST_F(Cleanup, AnExceptionFromTheCleanupReplacesTheBodysAsInPython) {
  EXPECT_THROW(asyncio::run(asyncio::try_finally(
                   []() -> Task<void> {
                     co_await asyncio::sleep(0s);
                     throw std::out_of_range("body");
                   }(),
                   []() -> Task<void> {
                                                   co_await asyncio::sleep(0s);
                                                   throw concur::ValueError("cleanup");
                                                 })),
               concur::ValueError);
}

TEST_F(Cleanup, AMoveOnlyValueComesThrough) {
  auto p = asyncio::run(asyncio::try_finally([]() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); }(),
                                             []() -> Task<void> { co_return; }));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

/// Reads one line and fails (as a handler might on bad input).
Task<std::string> read_then_fail(StreamReader& reader) {
  std::string line = co_await reader.readline();
  if (line != "ok\n") throw concur::ValueError("bad line: " + line);
  co_return line;
}

TEST_F(Cleanup, ClosingClosesAWriterOnEveryPathAndWaitsForIt) {
  asyncio::run([]() -> Task<void> {
    std::vector<std::pair<StreamReader, StreamWriter>> server_sides;
    asyncio::Event connected;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader reader, StreamWriter writer) -> Task<void> {
          server_sides.emplace_back(std::move(reader), std::move(writer));
          connected.set();
          co_return;
        },
        "127.0.0.1", 0);
    // The exception path.
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    co_await connected.wait();
    connected.clear();
    server_sides[0].second.write("bad\n");
    EXPECT_THROW(co_await asyncio::closing(writer, read_then_fail(reader)), concur::ValueError);
    EXPECT_TRUE(writer.is_closing());                       // closed, and wait_closed() returned
    EXPECT_EQ(co_await server_sides[0].first.read(), "");  // the peer sees the end
    // The value path.
    auto [reader2, writer2] = co_await asyncio::open_connection("127.0.0.1", server.port());
    co_await connected.wait();
    server_sides[1].second.write("ok\n");
    EXPECT_EQ(co_await asyncio::closing(writer2, read_then_fail(reader2)), "ok\n");
    EXPECT_TRUE(writer2.is_closing());
    EXPECT_EQ(co_await server_sides[1].first.read(), "");
    for (auto& side : server_sides) side.second.close();
    server.close();
    co_await server.wait_closed();
  }());
}

}  // namespace
