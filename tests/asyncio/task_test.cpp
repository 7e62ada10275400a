// SPDX-License-Identifier: MIT
// Tasks: creation, awaiting, results and exceptions, names, callbacks, cancellation.
#include "concur/asyncio/task.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using TaskTest = asyncio::testing_support::AsyncioTest;

asyncio::Task<int> answer() { co_return 42; }
asyncio::Task<int> add_later(int a, int b) {
  co_await asyncio::sleep(0s);
  co_return a + b;
}
asyncio::Task<void> fail_with(std::string message) {
  co_await asyncio::sleep(0s);
  throw std::out_of_range(message);
}

TEST_F(TaskTest, RunReturnsTheValueOfTheMainCoroutine) { EXPECT_EQ(asyncio::run(answer()), 42); }

TEST_F(TaskTest, AwaitingACoroutineRunsItInsideTheCurrentTask) {
  auto main = []() -> asyncio::Task<int> {
    const auto before = asyncio::current_task();
    int v = co_await add_later(1, 2);
    EXPECT_TRUE(asyncio::current_task().has_value());
    EXPECT_TRUE(*asyncio::current_task() == *before);
    EXPECT_EQ(asyncio::all_tasks().size(), 1U);
    co_return v;
  };
  EXPECT_EQ(asyncio::run(main()), 3);
}

TEST_F(TaskTest, ExceptionsReachTheAwaiterWithTheirType) {
  auto main = []() -> asyncio::Task<std::string> {
    try {
      co_await fail_with("inline");
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "inline");
    }
    auto t = asyncio::create_task(fail_with("task"));
    try {
      co_await t;
    } catch (const std::out_of_range& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(asyncio::run(main()), "task");
}

TEST_F(TaskTest, RunRethrowsTheMainTasksException) {
  EXPECT_THROW(asyncio::run(fail_with("x")), std::out_of_range);
}

TEST_F(TaskTest, MoveOnlyResultsAreMovedOutOfTheTask) {
  auto make = []() -> asyncio::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  auto main = [make]() -> asyncio::Task<int> {
    auto t = asyncio::create_task(make());
    std::unique_ptr<int> p = co_await std::move(t);
    std::unique_ptr<int> q = co_await make();
    co_return *p + *q;
  };
  EXPECT_EQ(asyncio::run(main()), 14);
}

TEST_F(TaskTest, ATaskCanBeAwaitedSeveralTimes) {
  auto main = []() -> asyncio::Task<int> {
    auto t = asyncio::create_task(add_later(2, 3));
    int a = co_await t;
    int b = co_await t;
    EXPECT_TRUE(t.done());
    EXPECT_EQ(t.result(), 5);
    co_return a + b;
  };
  EXPECT_EQ(asyncio::run(main()), 10);
}

TEST_F(TaskTest, AwaitingACoroutineTwiceRaisesRuntimeError) {
  auto main = []() -> asyncio::Task<bool> {
    auto c = answer();
    co_await c;
    try {
      co_await c;
    } catch (const concur::RuntimeError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(TaskTest, ATaskAwaitingItselfRaisesRuntimeError) {
  struct Self {
    asyncio::Task<void> me;
  };
  auto self = std::make_shared<Self>();
  auto body = [](std::shared_ptr<Self> s) -> asyncio::Task<void> {
    co_await asyncio::sleep(0s);
    asyncio::Task<void> me = s->me;
    s->me = {};
    co_await me;
  };
  auto main = [&]() -> asyncio::Task<bool> {
    self->me = asyncio::create_task(body(self));
    auto t = self->me;
    try {
      co_await t;
    } catch (const concur::RuntimeError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(TaskTest, TasksAreNamedTaskNUnlessNamed) {
  auto main = []() -> asyncio::Task<void> {
    auto a = asyncio::create_task(answer());
    auto b = asyncio::create_task(answer(), "worker");
    EXPECT_EQ(a.get_name().rfind("Task-", 0), 0U);
    EXPECT_EQ(b.get_name(), "worker");
    b.set_name("renamed");
    EXPECT_EQ(b.get_name(), "renamed");
    co_await a;
    co_await b;
  };
  asyncio::run(main());
}

TEST_F(TaskTest, ResultAndExceptionBeforeDoneRaiseInvalidStateError) {
  auto main = []() -> asyncio::Task<void> {
    auto t = asyncio::create_task(add_later(1, 1));
    EXPECT_THROW((void)t.result(), concur::InvalidStateError);
    EXPECT_THROW((void)t.exception(), concur::InvalidStateError);
    co_await t;
    EXPECT_EQ(t.exception(), nullptr);
  };
  asyncio::run(main());
}

TEST_F(TaskTest, DoneCallbacksAreScheduledWithTheTask) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> seen;
    auto t = asyncio::create_task(answer(), "cb");
    t.add_done_callback([&](asyncio::TaskBase task) { seen.push_back("first " + task.get_name()); });
    t.add_done_callback([&](asyncio::TaskBase) { seen.push_back("second"); });
    co_await t;
    EXPECT_TRUE(seen.empty());  // scheduled with call_soon, not run at completion
    co_await asyncio::sleep(0s);
    t.add_done_callback([&](asyncio::TaskBase) { seen.push_back("late"); });
    co_await asyncio::sleep(0s);
    co_return seen;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"first cb", "second", "late"}));
}

TEST_F(TaskTest, ATaskKeepsItselfAliveWithoutAnyHandle) {
  struct Shared {
    int finished = 0;
    asyncio::Event all_done;
  };
  auto main = []() -> asyncio::Task<int> {
    Shared shared;
    for (int i = 0; i < 10; ++i) {
      // No handle is kept: each task must still run to its end (cpython gh-88831).
      (void)asyncio::create_task([](Shared& s) -> asyncio::Task<void> {
        co_await asyncio::sleep(1ms);
        if (++s.finished == 10) s.all_done.set();
      }(shared));
    }
    co_await shared.all_done.wait();
    co_return shared.finished;
  };
  EXPECT_EQ(asyncio::run(main()), 10);
}

TEST_F(TaskTest, CancelThrowsCancelledErrorAtTheSleepAndTheTaskIsCancelled) {
  auto main = []() -> asyncio::Task<void> {
    bool reached_end = false;
    auto t = asyncio::create_task([](bool& end) -> asyncio::Task<void> {
      co_await asyncio::sleep(10s);
      end = true;
    }(reached_end));
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(t.cancel("stop"));
    EXPECT_EQ(t.cancelling(), 1U);
    try {
      co_await t;
      ADD_FAILURE() << "no CancelledError";
    } catch (const CancelledError& e) {
      EXPECT_STREQ(e.what(), "stop");
    }
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(reached_end);
    EXPECT_FALSE(t.cancel());  // done: nothing to cancel
    EXPECT_THROW((void)t.exception(), CancelledError);
  };
  asyncio::run(main());
}

TEST_F(TaskTest, ATaskCancelledBeforeItsFirstStepNeverRuns) {
  auto main = []() -> asyncio::Task<void> {
    bool ran = false;
    auto t = asyncio::create_task([](bool& r) -> asyncio::Task<void> {
      r = true;
      co_return;
    }(ran));
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(ran);
  };
  asyncio::run(main());
}

TEST_F(TaskTest, ATaskThatCatchesCancelledErrorAndReturnsIsNotCancelled) {
  auto main = []() -> asyncio::Task<int> {
    auto t = asyncio::create_task([]() -> asyncio::Task<int> {
      try {
        co_await asyncio::sleep(10s);
      } catch (const CancelledError&) {
        co_return -1;
      }
      co_return 0;
    }());
    co_await asyncio::sleep(0s);
    t.cancel();
    int v = co_await t;
    EXPECT_FALSE(t.cancelled());
    co_return v;
  };
  EXPECT_EQ(asyncio::run(main()), -1);
}

TEST_F(TaskTest, CancelledErrorIsNotCaughtAsStdException) {
  auto main = []() -> asyncio::Task<std::string> {
    auto t = asyncio::create_task([]() -> asyncio::Task<std::string> {
      try {
        co_await asyncio::sleep(10s);
      } catch (const std::exception&) {
        co_return "swallowed";
      }
      co_return "not cancelled";
    }());
    co_await asyncio::sleep(0s);
    t.cancel();
    try {
      co_await t;
    } catch (const concur::BaseException&) {
      co_return "cancelled";
    }
    co_return t.result();
  };
  EXPECT_EQ(asyncio::run(main()), "cancelled");
}

TEST_F(TaskTest, CancellingATaskAwaitingAnotherTaskCancelsThatTaskToo) {
  auto main = []() -> asyncio::Task<void> {
    auto inner = asyncio::create_task([]() -> asyncio::Task<void> { co_await asyncio::sleep(10s); }());
    auto outer = asyncio::create_task([](asyncio::Task<void> i) -> asyncio::Task<void> { co_await i; }(inner));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    outer.cancel();
    try {
      co_await outer;
    } catch (const CancelledError&) {
    }
    EXPECT_TRUE(outer.cancelled());
    EXPECT_TRUE(inner.cancelled());
  };
  asyncio::run(main());
}

TEST_F(TaskTest, CancelDuringTheStepRaisesAtTheNextSuspension) {
  auto main = []() -> asyncio::Task<std::string> {
    auto self = *asyncio::current_task();
    self.cancel();
    std::string log = "after cancel;";
    try {
      co_await asyncio::sleep(10s);
      log += "slept;";
    } catch (const CancelledError&) {
      log += "cancelled;";
    }
    EXPECT_EQ(self.uncancel(), 0U);
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "after cancel;cancelled;");
}

TEST_F(TaskTest, CancelOnAnUnstartedCoroutineIsInvalidState) {
  auto c = answer();
  EXPECT_THROW(c.cancel(), concur::InvalidStateError);
}

TEST_F(TaskTest, CurrentTaskOutsideALoopRaisesRuntimeError) {
  EXPECT_THROW((void)asyncio::current_task(), concur::RuntimeError);
  EXPECT_THROW((void)asyncio::create_task(answer()), concur::RuntimeError);
}

TEST_F(TaskTest, AnExceptionNeverRetrievedIsReportedWithTheTaskName) {
  auto main = []() -> asyncio::Task<void> {
    (void)asyncio::create_task(fail_with("lost"), "forgotten");
    co_await asyncio::sleep(1ms);
  };
  asyncio::run(main(), capturing());
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_EQ(reports[0], "Task exception was never retrieved [forgotten]");
}

// ---- never awaited ----------------------------------------------------------------------------

using asyncio::Task;

/// What `fn` writes to file descriptor 2 (stderr), captured through a temporary file.
template <class F>
std::string captured_stderr(F fn) {
  std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  const int saved = ::dup(2);
  ::dup2(::fileno(capture), 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string text;
  std::rewind(capture);
  for (int c = std::fgetc(capture); c != EOF; c = std::fgetc(capture)) text.push_back(static_cast<char>(c));
  std::fclose(capture);
  return text;
}

Task<int> forgotten_work() { co_return 1; }
Task<std::size_t> takes_a_c_string(const char* text) { co_return std::string(text).size(); }
struct Downloader {
  Task<void> download() { co_return; }
};

TEST_F(TaskTest, ACoroutineNeverAwaitedIsReportedOnStderrAsInPython) {
  EXPECT_EQ(captured_stderr([] { (void)forgotten_work(); }),
            "RuntimeWarning: coroutine 'forgotten_work' was never awaited\n");
  // The name is the function's, whatever the arguments (a const char* one included).
  EXPECT_EQ(captured_stderr([] { (void)takes_a_c_string("not a name"); }),
            "RuntimeWarning: coroutine 'takes_a_c_string' was never awaited\n");
  EXPECT_EQ(captured_stderr([] { (void)Downloader().download(); }),
            "RuntimeWarning: coroutine 'download' was never awaited\n");
  EXPECT_EQ(captured_stderr([] { (void)[]() -> Task<void> { co_return; }(); }),
            "RuntimeWarning: coroutine '<lambda>' was never awaited\n");
  // A coroutine dropped inside a running task is reported too (the loop goes on).
  const std::string inside = captured_stderr([] {
    EXPECT_EQ(asyncio::run([]() -> Task<int> {
                { auto dropped = forgotten_work(); }
                co_return co_await forgotten_work() + 1;
              }()),
              2);
  });
  EXPECT_EQ(inside, "RuntimeWarning: coroutine 'forgotten_work' was never awaited\n");
}

TEST_F(TaskTest, CoroutinesThatRanAreNeverReportedAsNotAwaited) {
  const std::string quiet = captured_stderr([] {
    asyncio::run([]() -> Task<void> {
      co_await forgotten_work();                                   // awaited inline
      auto t = asyncio::create_task(forgotten_work());            // a task nobody awaits
      co_await asyncio::gather(forgotten_work(), forgotten_work());
      auto never_awaited_task = asyncio::create_task(forgotten_work());
      co_await asyncio::sleep(0s);
      EXPECT_TRUE(t.done());
      EXPECT_TRUE(never_awaited_task.done());
    }());
    asyncio::run(forgotten_work());
  });
  EXPECT_EQ(quiet.find("never awaited"), std::string::npos) << quiet;
}

TEST_F(TaskTest, ACoroutineRefusedByAFinishedTaskGroupIsNotReported) {
  // Python's TaskGroup.create_task closes the coroutine it refuses: no warning.
  const std::string quiet = captured_stderr([] {
    asyncio::run([]() -> Task<void> {
      asyncio::TaskGroup tg;
      co_await tg.join();
      EXPECT_THROW((void)tg.create_task(forgotten_work()), concur::RuntimeError);
    }());
  });
  EXPECT_EQ(quiet.find("never awaited"), std::string::npos) << quiet;
}

}  // namespace
