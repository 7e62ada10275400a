// SPDX-License-Identifier: MIT
// TaskGroup.
#include "concur/asyncio/taskgroups.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using TaskGroupTest = asyncio::testing_support::AsyncioTest;

asyncio::Task<int> after(std::chrono::milliseconds d, int v) {
  co_await asyncio::sleep(d);
  co_return v;
}
asyncio::Task<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await asyncio::sleep(d);
  throw std::runtime_error(what);
}
asyncio::Task<void> record_cancel(std::vector<std::string>& log, std::string name) {
  try {
    co_await asyncio::sleep(1000s);
  } catch (const CancelledError&) {
    log.push_back(name + " cancelled");
    throw;
  }
}

TEST_F(TaskGroupTest, WaitsForEveryTask) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Task<int> a, b;
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
      a = tg.create_task(after(5ms, 1));
      b = tg.create_task(after(1ms, 2));
      co_return;
    });
    EXPECT_TRUE(a.done() && b.done());
    co_return a.result() + b.result();
  };
  EXPECT_EQ(asyncio::run(main()), 3);
}

TEST_F(TaskGroupTest, AFailureCancelsTheSiblingsAndRaisesAnExceptionGroup) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(record_cancel(log, "a"));
        (void)tg.create_task(record_cancel(log, "b"));
        (void)tg.create_task(fail_after(1ms, "boom"));
        co_return;
      });
    } catch (const concur::ExceptionGroup& eg) {
      EXPECT_EQ(eg.exceptions().size(), 1U);
      log.push_back(std::string("group: ") + concur::exception_message(eg.exceptions().at(0)));
    }
    EXPECT_EQ(asyncio::current_task()->cancelling(), 0U);
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"a cancelled", "b cancelled", "group: boom"}));
}

TEST_F(TaskGroupTest, AFailureInterruptsTheBodyAtItsCurrentAwait) {
  auto main = []() -> asyncio::Task<std::string> {
    std::string log;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(fail_after(1ms, "x"));
        try {
          co_await asyncio::sleep(1000s);
        } catch (const CancelledError&) {
          log += "body interrupted;";
          throw;
        }
      });
    } catch (const concur::ExceptionGroup&) {
      log += "group;";
    }
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "body interrupted;group;");
}

TEST_F(TaskGroupTest, EveryFailureIsInTheGroupInOrder) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> messages;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(fail_after(1ms, "first"));
        (void)tg.create_task(fail_after(1ms, "second"));
        co_return;
      });
    } catch (const concur::ExceptionGroup& eg) {
      for (const auto& e : eg.exceptions()) messages.push_back(concur::exception_message(e));
    }
    co_return messages;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"first", "second"}));
}

TEST_F(TaskGroupTest, AnExceptionOfTheBodyCancelsTheTasksAndJoinsTheGroup) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(record_cancel(log, "child"));
        co_await asyncio::sleep(0s);
        throw std::logic_error("body");
      });
    } catch (const concur::ExceptionGroup& eg) {
      log.push_back(concur::exception_message(eg.exceptions().at(0)));
    }
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"child cancelled", "body"}));
}

TEST_F(TaskGroupTest, CancellingTheParentCancelsTheTasksAndPropagatesCancelledError) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    auto parent = asyncio::create_task([](std::vector<std::string>& l) -> asyncio::Task<void> {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(record_cancel(l, "child"));
        co_return;
      });
      l.push_back("not reached");
    }(log));
    co_await asyncio::sleep(1ms);
    parent.cancel();
    try {
      co_await parent;
    } catch (const CancelledError&) {
      log.push_back("parent cancelled");
    }
    EXPECT_TRUE(parent.cancelled());
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"child cancelled", "parent cancelled"}));
}

TEST_F(TaskGroupTest, CreateTaskOnAFinishedOrAbortingGroupRaisesRuntimeError) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::TaskGroup tg;
    (void)tg.create_task(after(0ms, 1));
    co_await tg.join();
    EXPECT_THROW((void)tg.create_task(after(0ms, 1)), concur::RuntimeError);
  };
  asyncio::run(main());
}

TEST_F(TaskGroupTest, TheExplicitFormJoinsTheTasks) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::TaskGroup tg;
    auto a = tg.create_task(after(2ms, 20));
    auto b = tg.create_task(after(1ms, 22));
    EXPECT_EQ(tg.size(), 2U);
    co_await tg.join();
    EXPECT_EQ(tg.size(), 0U);
    co_return a.result() + b.result();
  };
  EXPECT_EQ(asyncio::run(main()), 42);
}

TEST_F(TaskGroupTest, TaskGroupOutsideATaskRaisesRuntimeError) {
  EXPECT_THROW(asyncio::TaskGroup(), concur::RuntimeError);
}

}  // namespace
