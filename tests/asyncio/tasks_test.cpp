// SPDX-License-Identifier: MIT
// sleep, gather, wait, as_completed, shield.
#include "concur/asyncio/tasks.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using TasksTest = asyncio::testing_support::AsyncioTest;

asyncio::Task<int> after(std::chrono::milliseconds d, int v) {
  co_await asyncio::sleep(d);
  co_return v;
}
asyncio::Task<int> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await asyncio::sleep(d);
  throw std::invalid_argument(what);
}
asyncio::Task<void> nothing() { co_return; }
/// `v` once `go` is set: the test decides when each task finishes, not the timers.
asyncio::Task<int> when_set(asyncio::Event& go, int v) {
  co_await go.wait();
  co_return v;
}
asyncio::Task<int> fail_when_set(asyncio::Event& go, std::string what) {
  co_await go.wait();
  throw std::invalid_argument(what);
}

TEST_F(TasksTest, SleepWaitsAtLeastItsDelay) {
  auto main = []() -> asyncio::Task<double> {
    auto& loop = asyncio::get_running_loop();
    const double t0 = loop.time();
    co_await asyncio::sleep(20ms);
    co_return loop.time() - t0;
  };
  const double took = asyncio::run(main());
  EXPECT_GE(took, 0.020);
  EXPECT_LT(took, 5.0);
}

TEST_F(TasksTest, SleepZeroYieldsToOtherTasks) {
  auto main = []() -> asyncio::Task<std::string> {
    std::string log;
    auto other = asyncio::create_task([](std::string& l) -> asyncio::Task<void> {
      l += "other;";
      co_return;
    }(log));
    log += "main;";
    co_await asyncio::sleep(0s);
    log += "main again;";
    co_await other;
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "main;other;main again;");
}

TEST_F(TasksTest, GatherReturnsATupleOfValuesInArgumentOrder) {
  auto main = []() -> asyncio::Task<void> {
    auto [a, b, c] = co_await asyncio::gather(after(20ms, 1), after(1ms, 2), nothing());
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(c, std::monostate{});
  };
  asyncio::run(main());
}

TEST_F(TasksTest, GatherRunsItsTasksConcurrently) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    auto step = [](std::vector<std::string>& l, int i) -> asyncio::Task<int> {
      l.push_back("start");
      co_await asyncio::sleep(1ms);
      l.push_back("end");
      co_return i;
    };
    std::vector<asyncio::Task<int>> tasks;
    for (int i = 0; i < 10; ++i) tasks.push_back(step(log, i));
    std::vector<int> values = co_await asyncio::gather(tasks);
    EXPECT_EQ(values, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    co_return log;
  };
  // Every task starts before any ends: they wait concurrently, not one after another.
  std::vector<std::string> expected(10, "start");
  expected.insert(expected.end(), 10, "end");
  EXPECT_EQ(asyncio::run(main()), expected);
}

TEST_F(TasksTest, GatherPropagatesTheFirstExceptionAndLeavesTheOthersRunning) {
  asyncio::Event first, second, slow_done;  // outlive the loop's tasks
  auto main = [&]() -> asyncio::Task<void> {
    auto slow = asyncio::create_task(when_set(slow_done, 5));
    auto late = asyncio::create_task(fail_when_set(second, "second"));
    first.set();
    try {
      co_await asyncio::gather(fail_when_set(first, "first"), slow, late);
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_FALSE(slow.done());
    EXPECT_FALSE(late.done());
    second.set();
    slow_done.set();
    EXPECT_EQ(co_await slow, 5);
    EXPECT_TRUE(late.done());  // it failed after the gather had raised
  };
  asyncio::run(main(), capturing());
  EXPECT_TRUE(reports.empty()) << reports.front();  // gather retrieved "second" too
}

TEST_F(TasksTest, GatherWithReturnExceptionsReturnsEveryOutcome) {
  auto main = []() -> asyncio::Task<void> {
    auto [a, b] = co_await asyncio::gather(asyncio::return_exceptions, after(1ms, 3), fail_after(1ms, "bad"));
    EXPECT_EQ(std::get<0>(a), 3);
    EXPECT_EQ(b.index(), 1U);
    EXPECT_THROW(std::rethrow_exception(std::get<1>(b)), std::invalid_argument);
    std::vector<asyncio::Task<int>> tasks{after(1ms, 1), fail_after(1ms, "x")};
    auto outcomes = co_await asyncio::gather(asyncio::return_exceptions, tasks);
    EXPECT_EQ(outcomes.size(), 2U);
    EXPECT_EQ(std::get<0>(outcomes.at(0)), 1);
    EXPECT_EQ(outcomes.at(1).index(), 1U);
  };
  asyncio::run(main());
}

TEST_F(TasksTest, CancellingAGatherCancelsItsChildren) {
  auto main = []() -> asyncio::Task<void> {
    auto a = asyncio::create_task(after(1000ms * 1000, 1));
    auto b = asyncio::create_task(after(1000ms * 1000, 2));
    auto g = asyncio::create_task(asyncio::gather(a, b));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(g.cancel());
    EXPECT_THROW(co_await g, CancelledError);
    EXPECT_TRUE(g.cancelled());
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(b.cancelled());
  };
  asyncio::run(main());
}

// Python's gather links its children when it is called: cancelling it before its task ever
// ran still cancels them.
TEST_F(TasksTest, CancellingAGatherTaskAtOnceCancelsItsChildren) {
  asyncio::Event never;
  auto main = [&]() -> asyncio::Task<void> {
    auto a = asyncio::create_task(when_set(never, 1));
    auto b = asyncio::create_task(when_set(never, 2));
    auto g = asyncio::create_task(asyncio::gather(a, b));
    EXPECT_TRUE(g.cancel());
    EXPECT_THROW(co_await g, CancelledError);
    EXPECT_TRUE(g.cancelled());
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(b.cancelled());
  };
  asyncio::run(main());
}

TEST_F(TasksTest, CancellingAGatherTaskInTheNextIterationBeforeItRanCancelsItsChildren) {
  asyncio::Event never;
  auto main = [&]() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> children{when_set(never, 1), when_set(never, 2)};
    asyncio::Task<std::vector<int>> g;
    bool accepted = false;
    bool g_had_run = true;
    // Queued before the gather's task: it runs in the next iteration, before that task's first step.
    asyncio::get_running_loop().call_soon([&] {
      g_had_run = g.done();
      accepted = g.cancel("stop");
    });
    g = asyncio::create_task(asyncio::gather(children));
    try {
      co_await g;
      ADD_FAILURE() << "the gather was cancelled";
    } catch (const CancelledError& e) {
      EXPECT_STREQ(e.what(), "stop");
    }
    EXPECT_FALSE(g_had_run);
    EXPECT_TRUE(accepted);
    EXPECT_TRUE(children[0].cancelled());
    EXPECT_TRUE(children[1].cancelled());
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitForAGatherWithAZeroTimeoutCancelsItsChildren) {
  asyncio::Event never;
  auto main = [&]() -> asyncio::Task<void> {
    auto a = asyncio::create_task(when_set(never, 1));
    auto b = asyncio::create_task(when_set(never, 2));
    EXPECT_THROW(co_await asyncio::wait_for(asyncio::gather(asyncio::return_exceptions, a, b), 0s), concur::TimeoutError);
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(b.cancelled());
  };
  asyncio::run(main());
}

// bpo-26923: once every child is done, cancel() returns false and the result is kept, even
// before the gather's task has taken it.
TEST_F(TasksTest, AGatherRefusesCancelOnceEveryChildIsDone) {
  asyncio::Event go;
  auto main = [&]() -> asyncio::Task<void> {
    auto child = asyncio::create_task(when_set(go, 42));
    auto g = asyncio::create_task(asyncio::gather(child));
    co_await asyncio::sleep(0s);  // the child and the gather now wait
    go.set();
    co_await asyncio::sleep(0s);  // the child runs and finishes just before us in this iteration
    EXPECT_TRUE(child.done());
    EXPECT_FALSE(g.done());
    EXPECT_FALSE(g.cancel());
    auto [value] = co_await g;
    EXPECT_EQ(value, 42);
    EXPECT_FALSE(g.cancelled());
  };
  asyncio::run(main());
}

// Python's gathering future is done at the first failure: cancel() returns false from then
// on, the failure is what the gather raises, and the other children are not cancelled.
TEST_F(TasksTest, AGatherRefusesCancelOnceAChildHasFailed) {
  asyncio::Event fail, never;
  auto main = [&]() -> asyncio::Task<void> {
    auto bad = asyncio::create_task(fail_when_set(fail, "bad"));
    auto slow = asyncio::create_task(when_set(never, 1));
    auto g = asyncio::create_task(asyncio::gather(bad, slow));
    co_await asyncio::sleep(0s);  // every task waits
    fail.set();
    co_await asyncio::sleep(0s);  // `bad` fails just before us in this iteration
    EXPECT_TRUE(bad.done());
    EXPECT_FALSE(g.done());
    EXPECT_FALSE(g.cancel());
    EXPECT_THROW(co_await g, std::invalid_argument);
    EXPECT_FALSE(slow.done());
  };
  asyncio::run(main());
}

TEST_F(TasksTest, ACancelledChildMakesGatherRaiseCancelledError) {
  auto main = []() -> asyncio::Task<void> {
    auto a = asyncio::create_task(after(1000ms * 1000, 1));
    auto waiting = asyncio::create_task(asyncio::gather(a, after(1ms, 2)));
    co_await asyncio::sleep(0s);
    a.cancel();
    EXPECT_THROW(co_await waiting, CancelledError);
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitAllCompletedReturnsEveryTaskDone) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{after(1ms, 1), after(5ms, 2)};
    auto [done, pending] = co_await asyncio::wait(tasks);
    EXPECT_EQ(done.size(), 2U);
    EXPECT_TRUE(pending.empty());
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitFirstCompletedReturnsAsSoonAsOneIsDone) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{after(1ms, 1), after(1000ms * 1000, 2)};
    auto [done, pending] = co_await asyncio::wait(tasks, std::nullopt, asyncio::FIRST_COMPLETED);
    EXPECT_EQ(done.size(), 1U);
    EXPECT_EQ(done.at(0).result(), 1);
    EXPECT_EQ(pending.size(), 1U);
    pending.at(0).cancel();
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitFirstExceptionReturnsAtTheFirstFailure) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{fail_after(1ms, "x"), after(1000ms * 1000, 2)};
    auto [done, pending] = co_await asyncio::wait(tasks, std::nullopt, asyncio::FIRST_EXCEPTION);
    EXPECT_EQ(done.size(), 1U);
    EXPECT_NE(done.at(0).exception(), nullptr);
    pending.at(0).cancel();
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitWithATimeoutReturnsThePendingTasksWithoutRaising) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{after(1000ms * 1000, 1)};
    auto [done, pending] = co_await asyncio::wait(tasks, 10ms);
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(pending.size(), 1U);
    EXPECT_FALSE(pending.at(0).done());  // not cancelled by wait
    pending.at(0).cancel();
  };
  asyncio::run(main());
}

TEST_F(TasksTest, WaitOnNothingIsAValueError) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> none;
    EXPECT_THROW((void)asyncio::wait(none), concur::ValueError);
    co_return;
  };
  asyncio::run(main());
}

TEST_F(TasksTest, AsCompletedYieldsResultsInTheOrderTheyFinish) {
  asyncio::Event go0, go1, go2;
  auto main = [&]() -> asyncio::Task<std::vector<int>> {
    std::vector<asyncio::Task<int>> tasks{asyncio::create_task(when_set(go0, 0)), asyncio::create_task(when_set(go1, 1)),
                                          asyncio::create_task(when_set(go2, 2))};
    co_await asyncio::sleep(0s);  // all three wait
    go2.set();                    // they finish in this order in the next iteration
    go0.set();
    go1.set();
    std::vector<int> order;
    for (auto next : asyncio::as_completed(tasks)) order.push_back(co_await next);
    co_return order;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<int>{2, 0, 1}));
}

TEST_F(TasksTest, AsCompletedRaisesTimeoutErrorForWhatIsNotDoneInTime) {
  auto main = []() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{asyncio::create_task(after(0ms, 1)), after(1000ms * 1000, 2)};
    co_await tasks[0];  // done before as_completed starts: its result comes first
    std::vector<std::string> log;
    for (auto next : asyncio::as_completed(tasks, 20ms)) {
      try {
        log.push_back(std::to_string(co_await next));
      } catch (const concur::TimeoutError&) {
        log.push_back("timeout");
      }
    }
    EXPECT_EQ(log, (std::vector<std::string>{"1", "timeout"}));
    tasks[1].cancel();
  };
  asyncio::run(main());
}

// Takes two results from as_completed(ts); a cancelled await counts as -1.
asyncio::Task<std::vector<int>> two_completed(std::vector<asyncio::Task<int>>& ts) {
  std::vector<int> got;
  for (auto next : asyncio::as_completed(ts, 30s)) {
    try {
      got.push_back(co_await next);
    } catch (const CancelledError&) {
      got.push_back(-1);
    }
    if (got.size() == 2) break;
  }
  co_return got;
}

TEST_F(TasksTest, AsCompletedKeepsAFinishedTaskWhenTheAwaitIsCancelledBeforeItResumes) {
  // The consumer's await has been handed `first` (finished) but has not resumed when it is
  // cancelled: the cancellation is raised, and `first` goes to the next await, as in Python.
  asyncio::Event go;
  auto main = [&]() -> asyncio::Task<void> {
    std::vector<asyncio::Task<int>> tasks{asyncio::create_task(when_set(go, 7)), after(1000ms * 1000, 8)};
    auto consumer = asyncio::create_task(two_completed(tasks));
    co_await asyncio::sleep(0s);  // the consumer waits in as_completed, the first task on `go`
    go.set();
    while (!tasks[0].done()) co_await asyncio::sleep(0s);
    // The first task finished in this iteration and was handed to the consumer's await; the
    // consumer runs in the next one.
    EXPECT_TRUE(consumer.cancel());
    const std::vector<int> got = co_await consumer;
    EXPECT_EQ(got, (std::vector<int>{-1, 7}));
    tasks[1].cancel();
  };
  asyncio::run(main());
}

TEST_F(TasksTest, ShieldKeepsTheInnerTaskRunningWhenTheAwaiterIsCancelled) {
  asyncio::Event go;
  auto main = [&]() -> asyncio::Task<void> {
    auto inner = asyncio::create_task(when_set(go, 9));
    auto outer = asyncio::create_task([](asyncio::Task<int> i) -> asyncio::Task<int> {
      co_return co_await asyncio::shield(i);
    }(inner));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_FALSE(inner.done());
    go.set();
    EXPECT_EQ(co_await inner, 9);
  };
  asyncio::run(main());
}

TEST_F(TasksTest, ShieldRaisesCancelledErrorWhenTheInnerTaskIsCancelled) {
  auto main = []() -> asyncio::Task<void> {
    auto inner = asyncio::create_task(after(1000ms * 1000, 9));
    auto outer = asyncio::create_task(asyncio::shield(inner));
    co_await asyncio::sleep(0s);
    inner.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
  };
  asyncio::run(main());
}

}  // namespace
