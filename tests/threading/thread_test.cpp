// SPDX-License-Identifier: MIT
// Tests for concur/threading/thread.hpp: Thread, the module functions, excepthook, exit.
#include "concur/threading/thread.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "os_threads.hpp"
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "capturing_excepthook.hpp"
#include "concur/errors.hpp"
#include "concur/threading/event.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::MatchesRegex;

namespace {

using concur_test::count_os_threads;

bool in_enumerate(const th::Thread& t) {
  const auto all = th::enumerate();
  return std::find(all.begin(), all.end(), t) != all.end();
}

using CapturingHook = concur::testing_support::CapturingExceptHook;

// ---- target mode ------------------------------------------------------------------------------

TEST(Thread, RunsItsTargetWithDecayCopiedArguments) {
  int sum = 0;
  std::string seen;
  auto text = std::make_unique<std::string>("moved in");
  th::Thread t(
      [&sum, &seen](int a, int b, std::unique_ptr<std::string> s) {
        sum = a + b;
        seen = *s;
      },
      2, 40, std::move(text));
  EXPECT_TRUE(t.daemon() == false);
  t.start();
  t.join();
  EXPECT_EQ(sum, 42);
  EXPECT_EQ(seen, "moved in");
}

TEST(Thread, DestroysItsCopiesOfTargetAndArgumentsOnceTheTargetReturns) {
  auto token = std::make_shared<int>(1);
  const std::weak_ptr<int> watch = token;
  th::Thread t([](const std::shared_ptr<int>&) {}, std::move(token));
  t.start();
  t.join();
  EXPECT_TRUE(watch.expired());  // while the handle `t` is still alive, as in Python
}

TEST(Thread, JoinReturnsAfterTheThreadsThreadLocalsWereDestroyed) {
  struct SetsOnDestruction {
    std::atomic<bool>* flag = nullptr;
    ~SetsOnDestruction() {
      if (flag != nullptr) flag->store(true);
    }
  };
  static std::atomic<bool> destroyed{false};
  th::Thread t([] {
    static thread_local SetsOnDestruction marker;
    marker.flag = &destroyed;
  });
  t.start();
  t.join();
  EXPECT_TRUE(destroyed.load());
}

TEST(Thread, AcceptsOptionsAfterTheTargetOrBeforeItWithArguments) {
  th::Thread a([] {}, {.name = "Payment"});
  EXPECT_EQ(a.name(), "Payment");
  std::string got;
  th::Thread b({.name = "Mail", .daemon = true}, [&got](std::string s) { got = s; }, std::string("hello"));
  EXPECT_EQ(b.name(), "Mail");
  EXPECT_TRUE(b.daemon());
  a.start();
  b.start();
  a.join();
  b.join();
  EXPECT_EQ(got, "hello");
}

TEST(Thread, DefaultNamesAreThreadDashNumber) {
  th::Thread t([] {});
  EXPECT_THAT(t.name(), MatchesRegex("Thread-[0-9]+"));
  th::Thread u([] {});
  EXPECT_NE(t.name(), u.name());
  t.set_name("renamed");
  EXPECT_EQ(t.name(), "renamed");
}

TEST(Thread, IsAliveFromStartUntilItsTargetReturns) {
  th::Event release;
  th::Thread t([&] { release.wait(); });
  EXPECT_FALSE(t.is_alive());
  t.start();
  EXPECT_TRUE(t.is_alive());
  release.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, IdentAndNativeIdAreUnsetBeforeStartAndMatchTheThreadsOwn) {
  std::uint64_t inside_ident = 0, inside_native = 0;
  th::Thread t([&] {
    inside_ident = th::get_ident();
    inside_native = th::get_native_id();
  });
  EXPECT_EQ(t.ident(), std::nullopt);
  EXPECT_EQ(t.native_id(), std::nullopt);
  t.start();
  t.join();
  EXPECT_EQ(t.ident(), inside_ident);
  EXPECT_EQ(t.native_id(), inside_native);
  EXPECT_NE(inside_ident, th::get_ident());
  EXPECT_NE(inside_native, th::get_native_id());
}

TEST(Thread, StartingTwiceThrowsRuntimeError) {
  th::Thread t([] {});
  t.start();
  EXPECT_THROW(t.start(), concur::RuntimeError);
  t.join();
  EXPECT_THROW(t.start(), concur::RuntimeError);
}

TEST(Thread, JoiningAThreadNeverStartedThrowsRuntimeError) {
  th::Thread t([] {});
  EXPECT_THROW(t.join(), concur::RuntimeError);
  EXPECT_THROW(t.join(1s), concur::RuntimeError);
}

TEST(Thread, AThreadJoiningItselfGetsRuntimeError) {
  std::atomic<bool> threw{false};
  th::Thread t([&] {
    try {
      th::current_thread().join();
    } catch (const concur::RuntimeError&) {
      threw = true;
    }
  });
  t.start();
  t.join();
  EXPECT_TRUE(threw.load());
}

TEST(Thread, TimedJoinReturnsWhileTheThreadIsStillAlive) {
  th::Event release;
  th::Thread t([&] { release.wait(); });
  t.start();
  const auto start = std::chrono::steady_clock::now();
  t.join(50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_TRUE(t.is_alive());
  release.set();
  t.join(30s);
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, JoinReturnsOnlyOnceTheOsThreadHasExited) {
  // Python 3.13's join waits for the OS thread itself: right after join() the thread must be
  // gone from the kernel's list, every time (daemon or not).
  const int before = count_os_threads();
  ASSERT_GT(before, 0);
  int left_behind = 0;
  for (int i = 0; i < 1000; ++i) {
    th::Thread t([] {}, {.daemon = i % 2 == 0});
    t.start();
    t.join();
    if (count_os_threads() != before) ++left_behind;
  }
  EXPECT_EQ(left_behind, 0);
}

TEST(Thread, ATimedJoinThatGivesUpLeavesTheThreadJoinable) {
  const int before = count_os_threads();
  th::Event release;
  th::Thread t([&] { release.wait(); });
  t.start();
  t.join(1ms);
  t.join(0s);
  EXPECT_TRUE(t.is_alive());
  release.set();
  t.join(60s);
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(count_os_threads(), before);
  t.join();  // joining a joined thread again returns at once, as in Python
  t.join(0s);
}

TEST(Thread, SeveralThreadsJoiningOneAllReturnAfterItsOsThreadExited) {
  th::Event release;
  th::Thread target([&] { release.wait(); });
  target.start();
  const std::uint64_t tid = *target.native_id();
  const std::string task_dir = "/proc/self/task/" + std::to_string(tid);
  std::atomic<int> still_there{0};
  std::vector<std::thread> joiners;
  for (int i = 0; i < 4; ++i) {
    joiners.emplace_back([&, i] {
      if (i % 2 == 0) {
        target.join();
      } else {
        while (target.is_alive()) target.join(1ms);  // timed joins, repeated, race the others
        target.join(60s);
      }
      if (::access(task_dir.c_str(), F_OK) == 0) still_there.fetch_add(1);
    });
  }
  release.set();
  for (auto& j : joiners) j.join();
  EXPECT_EQ(still_there.load(), 0);
}

TEST(Thread, SettingDaemonAfterStartThrowsRuntimeError) {
  th::Thread t([] {});
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
  t.set_daemon(false);
  t.start();
  EXPECT_THROW(t.set_daemon(true), concur::RuntimeError);
  t.join();
  EXPECT_FALSE(t.daemon());
}

TEST(Thread, DaemonFlagIsInheritedFromTheCreatingThread) {
  bool child_of_daemon = false;
  bool child_of_plain_thread = false;
  th::Thread parent({.daemon = true}, [&] {
    th::Thread child([] {});
    child_of_daemon = child.daemon();
  });
  parent.start();
  parent.join();
  std::thread([&] { child_of_plain_thread = th::Thread([] {}).daemon(); }).join();
  EXPECT_TRUE(child_of_daemon);
  EXPECT_TRUE(child_of_plain_thread);
  EXPECT_FALSE(th::Thread([] {}).daemon());  // created by the main thread
}

TEST(Thread, ObjectMayBeDestroyedWhileItsThreadRuns) {
  th::Event release;
  th::Event finished;
  std::optional<std::uint64_t> id;
  {
    th::Thread t([&] {
      release.wait();
      finished.set();
    });
    t.start();
    id = t.ident();
  }  // the only handle dies here; the thread runs on with its own state
  release.set();
  EXPECT_TRUE(finished.wait(30s));
  // Join it through enumerate() if it has not ended yet.
  for (auto& t : th::enumerate()) {
    if (t.ident() == id) t.join();
  }
}

TEST(Thread, MovingAStartedTargetThreadKeepsTheHandleUsable) {
  th::Event release;
  th::Thread a([&] { release.wait(); });
  a.start();
  th::Thread b(std::move(a));
  EXPECT_TRUE(b.is_alive());
  EXPECT_THROW((void)a.name(), concur::RuntimeError);  // NOLINT(bugprone-use-after-move): tested
  release.set();
  b.join();
}

TEST(Thread, StartingAndJoiningManyThreadsLeavesNothingBehind) {
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    th::Thread t([&] { ran.fetch_add(1); });
    t.start();
    t.join();
  }
  EXPECT_EQ(ran.load(), 100);
}

// ---- module functions -------------------------------------------------------------------------

TEST(CurrentThread, IsTheMainThreadInMain) {
  EXPECT_EQ(th::current_thread(), th::main_thread());
  EXPECT_EQ(th::main_thread().name(), "MainThread");
  EXPECT_FALSE(th::main_thread().daemon());
  EXPECT_TRUE(th::main_thread().is_alive());
  EXPECT_EQ(th::main_thread().ident(), th::get_ident());
  EXPECT_EQ(th::main_thread().native_id(), th::get_native_id());
}

TEST(CurrentThread, IsTheThreadObjectInsideAThread) {
  bool same = false;
  std::string name;
  th::Thread t([&] {
    name = th::current_thread().name();
    same = th::current_thread() != th::main_thread();
  }, {.name = "worker"});
  t.start();
  t.join();
  EXPECT_TRUE(same);
  EXPECT_EQ(name, "worker");
}

TEST(CurrentThread, InAPlainStdThreadIsADaemonDummyThatLeavesEnumerateWhenItExits) {
  std::string name;
  bool daemon = false, alive = false, listed = false, join_threw = false;
  std::size_t count_inside = 0;
  const std::size_t count_before = th::active_count();
  std::thread plain([&] {
    th::Thread me = th::current_thread();
    name = me.name();
    daemon = me.daemon();
    alive = me.is_alive();
    listed = in_enumerate(me);
    count_inside = th::active_count();
    try {
      me.join(1s);
    } catch (const concur::RuntimeError&) {
      join_threw = true;
    }
  });
  plain.join();
  EXPECT_THAT(name, MatchesRegex("Dummy-[0-9]+"));
  EXPECT_TRUE(daemon);
  EXPECT_TRUE(alive);
  EXPECT_TRUE(listed);
  EXPECT_TRUE(join_threw);
  EXPECT_EQ(count_inside, count_before + 1);
  EXPECT_EQ(th::active_count(), count_before);
}

TEST(Enumerate, ListsRunningThreadsAndForgetsJoinedOnes) {
  th::Event release;
  th::Thread t([&] { release.wait(); });
  const std::size_t before = th::active_count();
  EXPECT_FALSE(in_enumerate(t));
  t.start();
  EXPECT_TRUE(in_enumerate(t));
  EXPECT_TRUE(in_enumerate(th::main_thread()));
  EXPECT_EQ(th::active_count(), before + 1);
  release.set();
  t.join();
  EXPECT_FALSE(in_enumerate(t));
  EXPECT_EQ(th::active_count(), before);
}

TEST(ThreadFork, AForkedChildKeepsOnlyTheForkingThreadAndMakesItTheMainThread) {
  th::Event release;
  th::Thread bystander([&] { release.wait(); }, {.name = "bystander"});
  bystander.start();
  th::Event ran;
  th::Thread finished_unjoined([&] { ran.set(); });
  finished_unjoined.start();
  ran.wait();
  int status = -1;
  th::Thread forker([&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      if (th::active_count() != 1) code |= 1;
      if (!(th::current_thread() == th::main_thread())) code |= 2;
      if (th::main_thread().name() != "forker") code |= 4;
      if (th::main_thread().native_id() != th::get_native_id()) code |= 8;
      // The parent's threads do not exist here: joining them returns at once (never joins or
      // waits for an OS thread of the parent), whatever state they were in at the fork.
      bystander.join();
      finished_unjoined.join();
      if (bystander.is_alive() || finished_unjoined.is_alive()) code |= 16;
      ::_exit(code);
    }
    ::waitpid(pid, &status, 0);
  }, {.name = "forker"});
  forker.start();
  forker.join();
  release.set();
  bystander.join();
  finished_unjoined.join();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ---- excepthook -------------------------------------------------------------------------------

TEST(Excepthook, ReceivesTheTypeMessageAndThreadOfAnEscapingException) {
  CapturingHook hook;
  th::Thread t([] { throw std::out_of_range("index 7"); }, {.name = "failing"});
  t.start();
  t.join();
  EXPECT_FALSE(t.is_alive());
  const auto records = hook.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, "std::out_of_range");
  EXPECT_EQ(records[0].message, "index 7");
  EXPECT_EQ(records[0].thread_name, "failing");
  EXPECT_TRUE(records[0].ran_in_failing_thread);
}

TEST(Excepthook, ReceivesCancelledErrorAndNonStandardExceptionsToo) {
  CapturingHook hook;
  th::Thread a([] { throw concur::CancelledError("stop"); });
  th::Thread b([] { throw 42; });
  a.start();
  a.join();
  b.start();
  b.join();
  const auto records = hook.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].type, "concur::CancelledError");
  EXPECT_EQ(records[0].message, "stop");
  EXPECT_EQ(records[1].type, "int");
}

TEST(Excepthook, DefaultPrintsThreadNameTypeAndMessageToStderr) {
  // Make sure the default hook is the installed one for this test.
  const th::ExceptHook previous = th::set_excepthook(nullptr);
  testing::internal::CaptureStderr();
  th::Thread t([] { throw concur::ValueError("bad input"); }, {.name = "Payment"});
  t.start();
  t.join();
  const std::string err = testing::internal::GetCapturedStderr();
  th::set_excepthook(previous);
  EXPECT_THAT(err, HasSubstr("Exception in thread Payment: concur::ValueError: bad input"));
}

TEST(Excepthook, SetExcepthookReturnsThePreviousHookAndEmptyRestoresTheDefault) {
  int calls = 0;
  const th::ExceptHook original = th::set_excepthook([&](const th::ExceptHookArgs&) { ++calls; });
  ASSERT_TRUE(static_cast<bool>(original));
  const th::ExceptHook mine = th::set_excepthook(original);
  ASSERT_TRUE(static_cast<bool>(mine));
  mine(th::ExceptHookArgs{std::make_exception_ptr(1), "int", th::current_thread()});
  EXPECT_EQ(calls, 1);
}

TEST(Excepthook, AHookThatThrowsIsReportedAndTheThreadStillEnds) {
  const th::ExceptHook previous = th::set_excepthook([](const th::ExceptHookArgs&) { throw std::runtime_error("hook broke"); });
  testing::internal::CaptureStderr();
  th::Thread t([] { throw std::logic_error("x"); });
  t.start();
  t.join();
  const std::string err = testing::internal::GetCapturedStderr();
  th::set_excepthook(previous);
  EXPECT_FALSE(t.is_alive());
  EXPECT_THAT(err, HasSubstr("Exception in threading.excepthook: std::runtime_error: hook broke"));
}

// ---- subclass mode ----------------------------------------------------------------------------

class Counter : public th::Thread {
 public:
  explicit Counter(int n) : Thread({.name = "Counter"}), m_n(n) {}
  Counter(Counter&&) = default;
  int total() const { return m_total; }

 protected:
  void run() override {
    for (int i = 1; i <= m_n; ++i) m_total += i;
  }

 private:
  int m_n;
  int m_total = 0;
};

class Blocker : public th::Thread {
 public:
  explicit Blocker(th::Event& release) : m_release(release) {}

 protected:
  void run() override { m_release.wait(); }

 private:
  th::Event& m_release;
};

TEST(ThreadSubclass, RunsTheOverriddenRun) {
  Counter c(10);
  EXPECT_EQ(c.name(), "Counter");
  c.start();
  c.join();
  EXPECT_EQ(c.total(), 55);
}

TEST(ThreadSubclass, MayBeMovedBeforeStartAndRunsOnTheNewObject) {
  Counter a(4);
  Counter b(std::move(a));
  b.start();
  b.join();
  EXPECT_EQ(b.total(), 10);
}

TEST(ThreadSubclass, AnExceptionFromRunGoesToTheExcepthook) {
  class Failing : public th::Thread {
   protected:
    void run() override { throw std::runtime_error("run failed"); }
  };
  CapturingHook hook;
  Failing f;
  f.start();
  f.join();
  ASSERT_EQ(hook.records().size(), 1u);
  EXPECT_EQ(hook.records()[0].message, "run failed");
}

TEST(ThreadSubclassDeathTest, DestroyingItWhileRunIsExecutingAbortsWithAClearMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        th::Event release;  // never set: run() is still executing when the object dies
        auto blocker = std::make_unique<Blocker>(release);
        blocker->start();
        blocker.reset();
      },
      // Under ThreadSanitizer the destructor's vptr write races with the running virtual call
      // and TSan reports it first: the misuse dies loudly either way.
      "Thread subclass object was destroyed or moved while its run\\(\\) may still be executing|"
      "data race on vptr");
}

TEST(ThreadSubclassDeathTest, MovingItWhileRunIsExecutingAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        th::Event release;  // never set: run() is still executing when the object is moved
        Blocker blocker(release);
        blocker.start();
        Blocker moved(std::move(blocker));
      },
      "destroyed or moved while its run\\(\\) may still be executing");
}

// ---- program exit -----------------------------------------------------------------------------

th::Event g_exit_started;

TEST(ThreadExitDeathTest, ProgramExitWaitsForNonDaemonThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        th::Thread worker([] {
          g_exit_started.wait();  // only set once exit() has begun
          std::fputs("non-daemon thread finished after main\n", stderr);
          std::fflush(stderr);
        });
        worker.start();
        // Registered after the first start(), so it runs before concur's wait (atexit is LIFO).
        std::atexit([] { g_exit_started.set(); });
        std::exit(0);
      },
      testing::ExitedWithCode(0), "non-daemon thread finished after main");
}

TEST(ThreadExitDeathTest, DaemonThreadsDoNotHoldTheProgramOpen) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        th::Thread worker([] {
          th::Event never;
          never.wait();
        }, {.daemon = true});
        worker.start();
        std::fputs("main exits\n", stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0), "main exits");
}

}  // namespace
