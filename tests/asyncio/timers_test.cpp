// SPDX-License-Identifier: MIT
// The loop's timers at sub-millisecond resolution: a sleep or a call_later never ends before its
// deadline (by loop.time() and by std::chrono::steady_clock), timers fire in deadline order and
// equal deadlines in scheduling order, loop.time() and TimerHandle::when() keep sub-millisecond
// instants. Semantics only: nothing here depends on how soon a timer fires.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using TimersTest = asyncio::testing_support::AsyncioTest;

/// The i-th of a spread of delays from 0.05 ms to 2.55 ms, most of them not whole milliseconds.
std::chrono::duration<double, std::milli> delay_ms(int i) { return std::chrono::duration<double, std::milli>(0.05 + (i * 7 % 51) * 0.05); }

asyncio::Task<int> sleep_many_times(int n) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  int checked = 0;
  for (int i = 0; i < n; ++i) {
    const auto d = delay_ms(i);
    const double loop_deadline = loop.time() + std::chrono::duration<double>(d).count();
    const Clock::time_point steady_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(d);
    co_await asyncio::sleep(d);
    const double loop_now = loop.time();
    const Clock::time_point steady_now = Clock::now();
    EXPECT_GE(loop_now, loop_deadline) << "sleep " << i << " of " << d.count() << " ms ended early by loop.time()";
    EXPECT_GE(steady_now, steady_deadline) << "sleep " << i << " of " << d.count() << " ms ended early by steady_clock";
    ++checked;
  }
  co_return checked;
}

TEST_F(TimersTest, ASleepNeverEndsBeforeItsDeadline) {
  EXPECT_EQ(asyncio::run(sleep_many_times(300)), 300);
}

asyncio::Task<void> sleep_and_check(double& latest_early, std::chrono::duration<double, std::milli> d) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  const double deadline = loop.time() + std::chrono::duration<double>(d).count();
  co_await asyncio::sleep(d);
  latest_early = std::max(latest_early, deadline - loop.time());
}

asyncio::Task<void> sleep_concurrently(double& latest_early, int n) {
  std::vector<asyncio::Task<void>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(sleep_and_check(latest_early, delay_ms(i))));
  co_await asyncio::gather(std::move(tasks));
}

TEST_F(TimersTest, ManyConcurrentSleepsNeverEndEarly) {
  // Sleeps of different lengths at once: the loop wakes for each earliest deadline in turn.
  double latest_early = -1.0;  // the largest (deadline - wake-up time) seen: never above 0
  asyncio::run(sleep_concurrently(latest_early, 200));
  EXPECT_LE(latest_early, 0.0);
}

TEST_F(TimersTest, ACallLaterCallbackNeverRunsBeforeItsWhen) {
  asyncio::EventLoop loop;
  int ran = 0;
  int early = 0;
  std::vector<asyncio::TimerHandle> handles;
  handles.reserve(100);
  for (int i = 0; i < 100; ++i) {
    const std::size_t k = handles.size();
    handles.push_back(loop.call_later(delay_ms(i), [&, k] {
      ++ran;
      if (loop.time() < handles[k].when()) ++early;
      if (ran == 100) loop.stop();
    }));
  }
  loop.run_forever();
  loop.close();
  EXPECT_EQ(ran, 100);
  EXPECT_EQ(early, 0);
}

TEST_F(TimersTest, TimersScheduledOutOfOrderFireInDeadlineOrderAndEqualDeadlinesInSchedulingOrder) {
  asyncio::EventLoop loop;
  // Offsets in tenths of a millisecond, scheduled out of order, several within one millisecond
  // and several equal; each timer records (offset, the order it was scheduled in).
  const std::vector<int> offsets = {17, 3, 9, 3, 12, 5, 9, 1, 17, 4, 2, 3, 30, 11, 10, 9};
  std::vector<std::pair<int, int>> fired;
  std::vector<std::pair<int, int>> expected;
  const double base = loop.time() + 0.001;
  for (int k = 0; k < static_cast<int>(offsets.size()); ++k) {
    const int off = offsets[static_cast<std::size_t>(k)];
    loop.call_at(base + off * 1e-4, [&fired, off, k] { fired.emplace_back(off, k); });
    expected.emplace_back(off, k);
  }
  std::stable_sort(expected.begin(), expected.end(), [](auto& a, auto& b) { return a.first < b.first; });
  loop.call_at(base + 0.0031, [&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(fired, expected);
}

TEST_F(TimersTest, TimersScheduledWhileTheLoopRunsKeepDeadlineOrder) {
  // Scheduled from a callback, a few tenths of a millisecond apart (so within the millisecond the
  // loop is in), with equal deadlines among them; a second round is scheduled by the first timer
  // to fire, while the others of the first round are still pending.
  asyncio::EventLoop loop;
  std::vector<int> fired;
  loop.call_soon([&] {
    const double now = loop.time();
    loop.call_at(now + 0.0006, [&] { fired.push_back(6); });
    loop.call_at(now + 0.0002, [&] {
      fired.push_back(2);
      const double t = loop.time();
      loop.call_at(t + 0.0030, [&] { fired.push_back(31); loop.stop(); });
      loop.call_at(t + 0.0020, [&] { fired.push_back(21); });
      loop.call_at(t + 0.0020, [&] { fired.push_back(22); });
    });
    loop.call_at(now + 0.0004, [&] { fired.push_back(4); });
    loop.call_at(now + 0.0004, [&] { fired.push_back(5); });
  });
  loop.run_forever();
  loop.close();
  // 6 and the 4/5 pair may fire before or after the second round's timers are scheduled, but
  // never after them: 2 ms later than the first round's last deadline.
  EXPECT_EQ(fired, (std::vector<int>{2, 4, 5, 6, 21, 22, 31}));
}

TEST_F(TimersTest, CancellingTheEarliestTimerLeavesTheNextOnTimeAndInOrder) {
  asyncio::EventLoop loop;
  std::vector<int> fired;
  double late_by = -1.0;
  const double base = loop.time() + 0.002;
  asyncio::TimerHandle first = loop.call_at(base + 0.0001, [&] { fired.push_back(1); });
  asyncio::TimerHandle second = loop.call_at(base + 0.0005, [&] { fired.push_back(2); });
  asyncio::TimerHandle third = loop.call_at(base + 0.0009, [&] {
    fired.push_back(3);
    late_by = loop.time() - base - 0.0009;
    loop.stop();
  });
  loop.call_soon([&] { first.cancel(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(fired, (std::vector<int>{2, 3}));
  EXPECT_TRUE(first.cancelled());
  EXPECT_GE(late_by, 0.0);
  EXPECT_FALSE(second.cancelled());
}

TEST_F(TimersTest, ATimerCancelledFromAnotherThreadDoesNotRun) {
  asyncio::EventLoop loop;
  bool ran = false;
  asyncio::TimerHandle t = loop.call_later(1ms, [&] { ran = true; });
  std::thread other([t]() mutable { t.cancel(); });  // off the loop's thread: dropped when due
  other.join();
  loop.call_later(3ms, [&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.cancelled());
}

TEST_F(TimersTest, LoopTimeHasSubMillisecondResolution) {
  asyncio::EventLoop loop;
  // With a millisecond clock every reading would be a whole number of milliseconds.
  int fractional = 0;
  for (int i = 0; i < 1000; ++i) {
    const double ms = loop.time() * 1e3;
    if (std::abs(ms - std::round(ms)) > 1e-3) ++fractional;
  }
  EXPECT_GT(fractional, 0);
  // when() keeps the instant asked for, to the nanosecond.
  const double when = std::floor(loop.time()) + 10.0004567;
  asyncio::TimerHandle h = loop.call_at(when, [] {});
  EXPECT_NEAR(h.when(), when, 2e-9);
  EXPECT_GE(h.when(), when);
  h.cancel();
  loop.close();
}

TEST_F(TimersTest, ClosingALoopWithArmedTimersReleasesThem) {
  asyncio::EventLoop loop;
  bool ran = false;
  asyncio::TimerHandle far = loop.call_later(3600s, [&] { ran = true; });
  asyncio::TimerHandle near = loop.call_later(0.5ms, [&] { loop.stop(); });
  loop.run_forever();  // the alarm was armed for `near`, then for `far`
  loop.close();
  EXPECT_FALSE(ran);
  EXPECT_EQ(loop.live_handle_count(), 0U);
  EXPECT_THROW(loop.call_later(1ms, [] {}), concur::RuntimeError);
}

}  // namespace
