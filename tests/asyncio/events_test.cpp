// SPDX-License-Identifier: MIT
// The event loop: callbacks, timers, threadsafe wake-ups, run/stop/close, Runner, debug reports.
#include "concur/asyncio/events.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

using EventLoopTest = asyncio::testing_support::AsyncioTest;

TEST_F(EventLoopTest, CallSoonRunsCallbacksInFifoOrder) {
  asyncio::EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) loop.call_soon([&order, i] { order.push_back(i); });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  loop.close();
  EXPECT_EQ(loop.live_handle_count(), 0U);
}

TEST_F(EventLoopTest, CallbacksScheduledByACallbackRunInTheNextIteration) {
  asyncio::EventLoop loop;
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("a");
    loop.call_soon([&] { order.push_back("c"); loop.stop(); });
  });
  loop.call_soon([&] { order.push_back("b"); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(EventLoopTest, CallSoonPassesArguments) {
  asyncio::EventLoop loop;
  int sum = 0;
  loop.call_soon([&sum](int a, int b) { sum = a + b; }, 2, 3);
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(sum, 5);
}

TEST_F(EventLoopTest, ACancelledHandleDoesNotRun) {
  asyncio::EventLoop loop;
  bool ran = false;
  asyncio::Handle h = loop.call_soon([&] { ran = true; });
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(ran);
}

TEST_F(EventLoopTest, TimersFireInDeadlineOrder) {
  asyncio::EventLoop loop;
  std::vector<int> order;
  const double t0 = loop.time();
  loop.call_at(t0 + 0.030, [&] { order.push_back(30); loop.stop(); });
  loop.call_later(10ms, [&] { order.push_back(10); });
  loop.call_later(20ms, [&] { order.push_back(20); });
  loop.call_later(10.5ms, [&] { order.push_back(11); });
  loop.call_later(0s, [&] { order.push_back(0); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{0, 10, 11, 20, 30}));
  EXPECT_GE(loop.time() - t0, 0.030);
}

TEST_F(EventLoopTest, ATimerAlreadyOverdueWhenTheLoopWouldBlockStillFires) {
  asyncio::EventLoop loop;
  bool fired = false;
  loop.call_later(1ms, [&] {
    fired = true;
    loop.stop();
  });
  // The behaviour under test: a callback that blocks the loop past the timer's deadline, so
  // that the loop finds the timer overdue when it is about to wait for I/O.
  loop.call_soon([] { std::this_thread::sleep_for(5ms); });
  loop.run_forever();
  EXPECT_TRUE(fired);
}

TEST_F(EventLoopTest, ACancelledTimerNeverFires) {
  asyncio::EventLoop loop;
  bool fired = false;
  asyncio::TimerHandle t = loop.call_later(5ms, [&] { fired = true; });
  loop.call_soon([&] { t.cancel(); });
  loop.call_later(20ms, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(fired);
  EXPECT_GT(t.when(), 0.0);
}

TEST_F(EventLoopTest, CallSoonThreadsafeWakesTheLoopFromAnotherThread) {
  asyncio::EventLoop loop;
  std::latch loop_started(1);
  std::atomic<int> value{0};
  std::thread other([&] {
    loop_started.wait();
    loop.call_soon_threadsafe([&] {
      value = 7;
      loop.stop();
    });
  });
  loop.call_soon([&] { loop_started.count_down(); });
  loop.run_forever();  // blocks in libuv until the other thread's callback arrives
  other.join();
  EXPECT_EQ(value.load(), 7);
}

TEST_F(EventLoopTest, ExceptionsFromCallbacksGoToTheExceptionHandler) {
  asyncio::EventLoop loop;
  std::vector<std::string> seen;
  loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
    seen.push_back(c.message + ": " + concur::exception_message(c.exception));
  });
  loop.call_soon([] { throw std::runtime_error("boom"); });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(seen, (std::vector<std::string>{"Exception in callback: boom"}));
}

TEST_F(EventLoopTest, MisuseRaisesRuntimeError) {
  asyncio::EventLoop loop;
  loop.call_soon([&] {
    EXPECT_THROW(loop.run_forever(), concur::RuntimeError);
    asyncio::EventLoop other;
    EXPECT_THROW(other.run_forever(), concur::RuntimeError);
    EXPECT_THROW(loop.close(), concur::RuntimeError);
    EXPECT_EQ(&asyncio::get_running_loop(), &loop);
    loop.stop();
  });
  loop.run_forever();
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  EXPECT_THROW(loop.call_soon([] {}), concur::RuntimeError);
  EXPECT_THROW(loop.call_soon_threadsafe([] {}), concur::RuntimeError);
  EXPECT_THROW(loop.run_forever(), concur::RuntimeError);
  EXPECT_THROW((void)asyncio::get_running_loop(), concur::RuntimeError);
}

TEST_F(EventLoopTest, StopBeforeRunForeverRunsOneIteration) {
  asyncio::EventLoop loop;
  int runs = 0;
  loop.call_soon([&] { ++runs; });
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(runs, 1);
}

TEST_F(EventLoopTest, RunUntilCompleteReturnsTheValueAndKeepsTheLoopReusable) {
  asyncio::EventLoop loop;
  auto work = [](int x) -> asyncio::Task<int> {
    co_await asyncio::sleep(1ms);
    co_return x * 2;
  };
  EXPECT_EQ(loop.run_until_complete(work(2)), 4);
  EXPECT_EQ(loop.run_until_complete(work(5)), 10);
  loop.close();
}

TEST_F(EventLoopTest, ClosingALoopWithAPendingTaskReportsAndDestroysIt) {
  m_expected_destroyed_pending = 1;
  asyncio::EventLoop loop;
  std::vector<std::string> seen;
  loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
    seen.push_back(c.message + " " + c.task_name);
  });
  auto forever = []() -> asyncio::Task<void> { co_await asyncio::sleep(1000s); };
  auto t = loop.create_task(forever(), "stuck");
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(seen, (std::vector<std::string>{"Task was destroyed but it is pending! stuck"}));
  EXPECT_TRUE(t.cancelled());
}

TEST_F(EventLoopTest, RunnerRunsSeveralCoroutinesOnOneLoop) {
  asyncio::Runner runner;
  asyncio::EventLoop* first = nullptr;
  auto which = [&]() -> asyncio::Task<asyncio::EventLoop*> { co_return &asyncio::get_running_loop(); };
  first = runner.run(which());
  EXPECT_EQ(runner.run(which()), first);
  EXPECT_EQ(&runner.get_loop(), first);
  runner.close();
  EXPECT_THROW(runner.run(which()), concur::RuntimeError);
}

TEST_F(EventLoopTest, RunCancelsAndAwaitsTheTasksLeftWhenMainReturns) {
  bool cleaned_up = false;
  auto leftover = [](bool& flag) -> asyncio::Task<void> {
    try {
      co_await asyncio::sleep(1000s);
    } catch (const concur::CancelledError&) {
      flag = true;
      throw;
    }
  };
  auto main = [&]() -> asyncio::Task<int> {
    (void)asyncio::create_task(leftover(cleaned_up));
    co_await asyncio::sleep(0s);
    co_return 1;
  };
  EXPECT_EQ(asyncio::run(main()), 1);
  EXPECT_TRUE(cleaned_up);
}

TEST_F(EventLoopTest, RunInsideARunningLoopRaisesRuntimeError) {
  auto inner = []() -> asyncio::Task<void> { co_return; };
  auto main = [&]() -> asyncio::Task<bool> {
    try {
      asyncio::run(inner());
    } catch (const concur::RuntimeError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(EventLoopTest, DebugModeReportsASlowStepWithTheTaskName) {
  auto slow = []() -> asyncio::Task<void> {
    std::this_thread::sleep_for(120ms);  // the behaviour under test: a step that blocks the loop
    co_return;
  };
  auto main = [&]() -> asyncio::Task<void> { co_await asyncio::create_task(slow(), "blocker"); };
  auto options = capturing();
  options.debug = true;
  asyncio::run(main(), options);
  ASSERT_EQ(reports.size(), 1U);
  const std::string prefix = "Executing <Task name='blocker'> took ";
  ASSERT_EQ(reports[0].rfind(prefix, 0), 0U) << reports[0];
  EXPECT_GE(std::stod(reports[0].substr(prefix.size())), 0.1) << reports[0];
}

TEST_F(EventLoopTest, DebugModeIsOffByDefaultAndFollowsTheEnvironment) {
  {
    ::unsetenv("CONCUR_ASYNCIO_DEBUG");
    asyncio::EventLoop loop;
    EXPECT_FALSE(loop.get_debug());
  }
  {
    ::setenv("CONCUR_ASYNCIO_DEBUG", "1", 1);
    asyncio::EventLoop loop;
    EXPECT_TRUE(loop.get_debug());
    ::unsetenv("CONCUR_ASYNCIO_DEBUG");
  }
}

}  // namespace
