// SPDX-License-Identifier: MIT
// Tests for concur/threading/timer.hpp: Timer.
#include "concur/threading/timer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "concur/errors.hpp"
#include "concur/threading/event.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

TEST(Timer, CallsTheFunctionWithItsArgumentsAfterTheInterval) {
  std::string got;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration fired_after{};
  th::Timer timer(
      50ms,
      [&](std::string s, int n) {
        fired_after = std::chrono::steady_clock::now() - start;
        got = s + std::to_string(n);
      },
      std::string("fired "), 1);
  timer.start();
  timer.join();
  EXPECT_EQ(got, "fired 1");
  EXPECT_GE(fired_after, 45ms);
}

TEST(Timer, CancelBeforeItFiresPreventsTheCall) {
  std::atomic<bool> called{false};
  th::Timer timer(30s, [&] { called = true; });
  timer.start();
  timer.cancel();
  timer.join(30s);
  EXPECT_FALSE(timer.is_alive());
  EXPECT_FALSE(called.load());
}

TEST(Timer, CancelBeforeStartMeansItNeverFires) {
  std::atomic<bool> called{false};
  th::Timer timer(0s, [&] { called = true; });
  timer.cancel();
  timer.start();
  timer.join();
  EXPECT_FALSE(called.load());
}

TEST(Timer, ZeroOrNegativeIntervalFiresAtOnce) {
  std::atomic<int> calls{0};
  th::Timer zero(0s, [&] { calls.fetch_add(1); });
  th::Timer negative(-1s, [&] { calls.fetch_add(1); });
  zero.start();
  negative.start();
  zero.join();
  negative.join();
  EXPECT_EQ(calls.load(), 2);
}

TEST(Timer, IsAThreadWithNameDaemonAndStartOnce) {
  th::Timer timer(0s, [] {});
  timer.set_name("ticker");
  timer.set_daemon(true);
  EXPECT_EQ(timer.name(), "ticker");
  timer.start();
  EXPECT_THROW(timer.start(), concur::RuntimeError);
  timer.join();
  EXPECT_TRUE(timer.daemon());
}

TEST(Timer, MayBeDestroyedWhileWaitingAndStillFires) {
  th::Event fired;
  {
    th::Timer timer(1ms, [&] { fired.set(); });
    timer.start();
  }
  EXPECT_TRUE(fired.wait(30s));
  // The timer's thread leaves right after; the leak check waits for it to vanish.
}

TEST(Timer, AnExceptionFromTheFunctionGoesToTheExcepthook) {
  std::atomic<int> reports{0};
  const th::ExceptHook previous = th::set_excepthook([&](const th::ExceptHookArgs& args) {
    if (args.exc_type == "std::runtime_error") reports.fetch_add(1);
  });
  th::Timer timer(0s, [] { throw std::runtime_error("tick failed"); });
  timer.start();
  timer.join();
  th::set_excepthook(previous);
  EXPECT_EQ(reports.load(), 1);
}

}  // namespace
