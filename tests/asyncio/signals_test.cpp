// SPDX-License-Identifier: MIT
// Tests of concur/asyncio/signals.hpp: a handler runs on the loop, can be replaced and removed.
#include "concur/asyncio/signals.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using asyncio::Task;

namespace {

class Signals : public asyncio::testing_support::AsyncioTest {};

TEST_F(Signals, AHandlerRunsOnTheLoopAfterTheSignalArrives) {
  asyncio::run([]() -> Task<void> {
    asyncio::EventLoop& loop = asyncio::get_running_loop();
    asyncio::Event got;
    int calls = 0;
    asyncio::add_signal_handler(loop, SIGUSR1, [&] {
      ++calls;
      EXPECT_EQ(asyncio::running_loop_or_null(), &loop);
      got.set();
    });
    ::raise(SIGUSR1);
    co_await got.wait();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(asyncio::remove_signal_handler(loop, SIGUSR1));
    EXPECT_FALSE(asyncio::remove_signal_handler(loop, SIGUSR1));
  }());
}

TEST_F(Signals, AddingAgainReplacesTheHandler) {
  asyncio::run([]() -> Task<void> {
    asyncio::EventLoop& loop = asyncio::get_running_loop();
    asyncio::Event got;
    int first = 0, second = 0;
    asyncio::add_signal_handler(loop, SIGUSR2, [&] { ++first; });
    asyncio::add_signal_handler(loop, SIGUSR2, [&] {
      ++second;
      got.set();
    });
    ::raise(SIGUSR2);
    co_await got.wait();
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1);
    asyncio::remove_signal_handler(loop, SIGUSR2);
  }());
}

TEST_F(Signals, TheLoopMethodsWorkAsInPythonWithArguments) {
  asyncio::run([]() -> Task<void> {
    asyncio::EventLoop& loop = asyncio::get_running_loop();
    asyncio::Event got;
    int seen = 0;
    loop.add_signal_handler(
        SIGUSR1,
        [&](int sig, int extra) {
          seen = sig + extra;
          got.set();
        },
        SIGUSR1, 1000);
    ::raise(SIGUSR1);
    co_await got.wait();
    EXPECT_EQ(seen, SIGUSR1 + 1000);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), concur::RuntimeError);
  }());
}

TEST_F(Signals, BadSignalsAreRefusedWithPythonsErrors) {
  asyncio::run([]() -> Task<void> {
    asyncio::EventLoop& loop = asyncio::get_running_loop();
    EXPECT_THROW(asyncio::add_signal_handler(loop, 0, [] {}), concur::ValueError);
    EXPECT_THROW(asyncio::add_signal_handler(loop, 100000, [] {}), concur::ValueError);
    EXPECT_THROW(asyncio::add_signal_handler(loop, SIGKILL, [] {}), concur::RuntimeError);
    EXPECT_THROW(asyncio::add_signal_handler(loop, SIGUSR1, nullptr), concur::ValueError);
    co_return;
  }());
}

TEST_F(Signals, AHandlerLeftInstalledIsRemovedWhenTheLoopClosesAndTheDispositionRestored) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &before), 0);
  asyncio::run([]() -> Task<void> {
    asyncio::add_signal_handler(asyncio::get_running_loop(), SIGUSR2, [] {});
    co_return;
  }(), capturing());
  EXPECT_TRUE(reports.empty()) << reports.front();  // no live libuv handle
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  // A new loop (possibly at the same address) starts with no handler of the old one.
  asyncio::run([]() -> Task<void> {
    EXPECT_FALSE(asyncio::remove_signal_handler(asyncio::get_running_loop(), SIGUSR2));
    co_return;
  }());
}

}  // namespace
