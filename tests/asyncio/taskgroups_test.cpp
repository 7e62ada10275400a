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
/// Fails with `what` once `go` is set: the test decides when, not the timers.
asyncio::Task<void> fail_when_set(asyncio::Event& go, std::string what) {
  co_await go.wait();
  throw std::runtime_error(what);
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

// Two tasks that fail in the same loop iteration are both in the group, in the order they
// failed: the group reacts to a failure in the next iteration, as Python's done callback does.
TEST_F(TaskGroupTest, EveryFailureIsInTheGroupInOrder) {
  asyncio::Event go;  // outlives the loop's tasks
  auto main = [&]() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> messages;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(fail_when_set(go, "first"));
        (void)tg.create_task(fail_when_set(go, "second"));
        co_await asyncio::sleep(0s);  // both wait for `go`
        go.set();                     // both wake in this order and fail in one iteration
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
  asyncio::Event child_waits;
  auto main = [&]() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    auto parent = asyncio::create_task([](std::vector<std::string>& l, asyncio::Event& waits) -> asyncio::Task<void> {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task([](std::vector<std::string>& l2, asyncio::Event& w) -> asyncio::Task<void> {
          w.set();
          co_await record_cancel(l2, "child");
        }(l, waits));
        co_return;
      });
      l.push_back("not reached");
    }(log, child_waits));
    co_await child_waits.wait();  // the child runs, the parent waits for it in join()
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

// Python 3.13's __aexit__: when the parent is cancelled from outside while a task fails, the
// ExceptionGroup is raised and the parent is cancelled again (uncancel() + cancel()): the
// caller that handles the group gets CancelledError at its next await, cancelling() stays 1.
// First order: the outside cancellation comes first, the failure while the group unwinds.
TEST_F(TaskGroupTest, AnOutsideCancellationMeetingAFailureIsKeptAfterTheExceptionGroup) {
  asyncio::Event child_waits, fail;
  auto main = [&]() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    auto owner = asyncio::create_task([](std::vector<std::string>& l, asyncio::Event& waits,
                                         asyncio::Event& go) -> asyncio::Task<void> {
      try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
          (void)tg.create_task([](asyncio::Event& w, asyncio::Event& g) -> asyncio::Task<void> {
            w.set();
            co_await g.wait();
            throw std::runtime_error("child failed");
          }(waits, go));
          co_await asyncio::sleep(1000s);
        });
        l.push_back("no group");
      } catch (const concur::ExceptionGroup& eg) {
        l.push_back("group: " + concur::exception_message(eg.exceptions().at(0)));
      }
      l.push_back("cancelling " + std::to_string(asyncio::current_task()->cancelling()));
      try {
        co_await asyncio::sleep(0s);
        l.push_back("not cancelled");
      } catch (const CancelledError&) {
        l.push_back("cancelled at the next await");
        throw;
      }
    }(log, child_waits, fail));
    co_await child_waits.wait();  // the child waits for `fail`, the owner sleeps in the body
    fail.set();                   // the child fails in the next iteration...
    owner.cancel();               // ...and the owner is cancelled from outside before that
    try {
      co_await owner;
    } catch (const CancelledError&) {
    }
    EXPECT_TRUE(owner.cancelled());
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"group: child failed", "cancelling 1",
                                                             "cancelled at the next await"}));
}

// Second order: the failure comes first (the group cancels the owner itself), the outside
// cancellation while the group waits for its tasks.
TEST_F(TaskGroupTest, AnOutsideCancellationAfterAFailureIsKeptAfterTheExceptionGroup) {
  asyncio::Event child_waits, fail, sibling_cancelled, release_sibling;
  auto main = [&]() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    auto owner = asyncio::create_task([](std::vector<std::string>& l, asyncio::Event& waits, asyncio::Event& go,
                                         asyncio::Event& sib_cancelled, asyncio::Event& release) -> asyncio::Task<void> {
      try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
          (void)tg.create_task([](asyncio::Event& w, asyncio::Event& g) -> asyncio::Task<void> {
            w.set();
            co_await g.wait();
            throw std::runtime_error("child failed");
          }(waits, go));
          // A sibling that takes its time to finish once cancelled: the group waits for it.
          (void)tg.create_task([](asyncio::Event& c, asyncio::Event& r) -> asyncio::Task<void> {
            try {
              co_await asyncio::sleep(1000s);
            } catch (const CancelledError&) {
              c.set();
            }
            co_await asyncio::shield(asyncio::create_task([](asyncio::Event& r2) -> asyncio::Task<void> {
              co_await r2.wait();
            }(r)));
          }(sib_cancelled, release));
          co_await asyncio::sleep(1000s);
        });
        l.push_back("no group");
      } catch (const concur::ExceptionGroup& eg) {
        l.push_back("group: " + concur::exception_message(eg.exceptions().at(0)));
      }
      l.push_back("cancelling " + std::to_string(asyncio::current_task()->cancelling()));
      try {
        co_await asyncio::sleep(0s);
        l.push_back("not cancelled");
      } catch (const CancelledError&) {
        l.push_back("cancelled at the next await");
        throw;
      }
    }(log, child_waits, fail, sibling_cancelled, release_sibling));
    co_await child_waits.wait();
    fail.set();                        // the child fails; the group cancels the sibling and the owner
    co_await sibling_cancelled.wait(); // the owner now waits in join() for the sibling
    owner.cancel();                    // a cancellation from outside the group
    release_sibling.set();
    try {
      co_await owner;
    } catch (const CancelledError&) {
    }
    EXPECT_TRUE(owner.cancelled());
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"group: child failed", "cancelling 1",
                                                             "cancelled at the next await"}));
}

// Without an outside cancellation, the group's own cancellation of the owner does not leak.
TEST_F(TaskGroupTest, AFailureAloneLeavesTheOwnerUncancelledAfterTheGroup) {
  asyncio::Event go;
  auto main = [&]() -> asyncio::Task<std::string> {
    std::string log;
    try {
      co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
        (void)tg.create_task(fail_when_set(go, "boom"));
        go.set();
        co_await asyncio::sleep(1000s);
      });
    } catch (const concur::ExceptionGroup&) {
      log += "group;";
    }
    EXPECT_EQ(asyncio::current_task()->cancelling(), 0U);
    co_await asyncio::sleep(0s);
    log += "not cancelled;";
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "group;not cancelled;");
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
