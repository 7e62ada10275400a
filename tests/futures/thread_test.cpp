// SPDX-License-Identifier: MIT
// Tests of concur/futures/thread.hpp: ThreadPoolExecutor.
#include "concur/futures/thread.hpp"

#include <dirent.h>
#include <gtest/gtest.h>

#include "os_threads.hpp"
#include <sched.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures/wait.hpp"
#include "concur/threading/event.hpp"
#include "concur/threading/thread.hpp"

namespace {

using namespace std::chrono_literals;
namespace futures = concur::futures;
namespace th = concur::threading;
using futures::Future;
using futures::ThreadPoolExecutor;
using futures::ThreadPoolOptions;

using concur_test::count_os_threads;

TEST(ThreadPoolExecutor, SubmitRunsTheCallWithItsArguments) {
  ThreadPoolExecutor pool({.max_workers = 2});
  Future<int> f = pool.submit([](int a, int b) { return a * b; }, 6, 7);
  EXPECT_EQ(f.result(), 42);
  Future<std::string> g = pool.submit([](std::string s) { return s + "!"; }, std::string("hi"));
  EXPECT_EQ(g.result(), "hi!");
}

TEST(ThreadPoolExecutor, SubmitTakesMoveOnlyArgumentsAndResults) {
  ThreadPoolExecutor pool({.max_workers = 1});
  auto f = pool.submit([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); }, std::make_unique<int>(1));
  EXPECT_EQ(*f.result(), 2);
}

TEST(ThreadPoolExecutor, AVoidTaskGivesAFutureOfVoid) {
  ThreadPoolExecutor pool({.max_workers = 1});
  int ran = 0;
  Future<void> f = pool.submit([&] { ran = 1; });
  f.result();
  EXPECT_EQ(ran, 1);
}

TEST(ThreadPoolExecutor, ATaskExceptionIsRethrownWithItsOwnType) {
  ThreadPoolExecutor pool({.max_workers = 1});
  auto f = pool.submit([]() -> int { throw std::out_of_range("no such key"); });
  EXPECT_THROW(f.result(), std::out_of_range);
  try {
    (void)f.result();
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "no such key");
  }
  auto g = pool.submit([] { throw concur::ValueError("bad"); });
  EXPECT_THROW(g.result(), concur::ValueError);
}

TEST(ThreadPoolExecutor, WorkersAreThreadsNamedAfterThePrefix) {
  ThreadPoolExecutor pool({.max_workers = 1, .thread_name_prefix = "crawler"});
  auto f = pool.submit([] { return th::current_thread().name(); });
  EXPECT_EQ(f.result(), "crawler_0");
}

TEST(ThreadPoolExecutor, TheDefaultPrefixNamesTheExecutor) {
  ThreadPoolExecutor pool({.max_workers = 1});
  const std::string name = pool.submit([] { return th::current_thread().name(); }).result();
  EXPECT_EQ(name.rfind("ThreadPoolExecutor-", 0), 0u) << name;
  EXPECT_EQ(name.substr(name.size() - 2), "_0") << name;
}

TEST(ThreadPoolExecutor, TheDefaultMaxWorkersIsPythons) {
  ThreadPoolExecutor pool;
  EXPECT_GE(pool.max_workers(), 5u);
  EXPECT_LE(pool.max_workers(), 32u);
}

TEST(ThreadPoolExecutor, TheDefaultCountsOnlyTheCpusThisProcessMayRunOn) {
  // Python 3.13: min(32, os.process_cpu_count() + 4). Pinned to one CPU, that is 5, whatever
  // the machine has. (sched_setaffinity(0) pins the calling thread only; restored below.)
  cpu_set_t saved;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(saved), &saved), 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
  std::size_t pinned = 0;
  {
    ThreadPoolExecutor pool;
    pinned = pool.max_workers();
  }
  ASSERT_EQ(::sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(pinned, 5u);
}

TEST(ThreadPoolExecutor, MaxWorkersOfZeroOrLessIsAValueError) {
  for (int n : {0, -1, -1000, std::numeric_limits<int>::min()}) {
    try {
      ThreadPoolExecutor pool({.max_workers = n});
      ADD_FAILURE() << "max_workers = " << n << " was accepted";
    } catch (const concur::ValueError& e) {
      EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
    }
  }
  ThreadPoolExecutor one({.max_workers = 1});
  EXPECT_EQ(one.max_workers(), 1u);
}

TEST(ThreadPoolExecutor, ShutdownWithWaitReturnsOnceTheWorkerThreadsAreGone) {
  // As Thread::join: the OS threads have exited when shutdown(wait = true) or the destructor
  // returns, every time.
  const int before = count_os_threads();
  ASSERT_GT(before, 0);
  int left_behind = 0;
  for (int i = 0; i < 200; ++i) {
    std::optional<ThreadPoolExecutor> pool(std::in_place, ThreadPoolOptions{.max_workers = 2});
    std::latch both(2);
    auto a = pool->submit([&] { both.arrive_and_wait(); });  // two tasks that need two workers
    auto b = pool->submit([&] { both.arrive_and_wait(); });
    if (i % 2 == 0) {
      pool->shutdown(true);
    } else {
      pool.reset();  // the destructor
    }
    if (count_os_threads() != before) ++left_behind;
    EXPECT_TRUE(a.done() && b.done());
  }
  EXPECT_EQ(left_behind, 0);
}

TEST(ThreadPoolExecutor, RunsUpToMaxWorkersTasksAtOnce) {
  constexpr std::size_t workers = 3;
  ThreadPoolExecutor pool({.max_workers = workers, .thread_name_prefix = "w"});
  std::latch all_running(workers);  // only released if `workers` tasks run at the same time
  std::vector<Future<std::string>> fs;
  for (std::size_t i = 0; i < workers; ++i)
    fs.push_back(pool.submit([&] {
      all_running.arrive_and_wait();
      return th::current_thread().name();
    }));
  std::set<std::string> names;
  for (auto& f : fs) names.insert(f.result());
  EXPECT_EQ(names, (std::set<std::string>{"w_0", "w_1", "w_2"}));
}

TEST(ThreadPoolExecutor, NeverStartsMoreThanMaxWorkersThreads) {
  ThreadPoolExecutor pool({.max_workers = 2});
  std::mutex mutex;
  std::set<std::string> names;
  std::vector<Future<void>> fs;
  for (int i = 0; i < 200; ++i)
    fs.push_back(pool.submit([&] {
      std::lock_guard lock(mutex);
      names.insert(th::current_thread().name());
    }));
  for (auto& f : fs) f.result();
  EXPECT_LE(names.size(), 2u);
}

TEST(ThreadPoolExecutor, ATaskWaitingForALaterTaskDoesNotStarveIt) {
  ThreadPoolExecutor pool({.max_workers = 2});
  th::Event later_ran;
  auto first = pool.submit([&] { return later_ran.wait(); });
  auto second = pool.submit([&] { later_ran.set(); });
  second.result();
  EXPECT_TRUE(first.result());
}

TEST(ThreadPoolExecutor, TasksMaySubmitMoreTasks) {
  ThreadPoolExecutor pool({.max_workers = 2});
  auto outer = pool.submit([&] { return pool.submit([] { return 5; }); });
  EXPECT_EQ(outer.result().result(), 5);
}

TEST(ThreadPoolExecutor, SubmitAfterShutdownIsARuntimeError) {
  ThreadPoolExecutor pool({.max_workers = 1});
  pool.shutdown();
  EXPECT_THROW(pool.submit([] { return 1; }), concur::RuntimeError);
  pool.shutdown();  // again: harmless
}

TEST(ThreadPoolExecutor, ShutdownWithWaitRunsTheQueuedWorkFirst) {
  std::atomic<int> ran{0};
  ThreadPoolExecutor pool({.max_workers = 2});
  std::vector<Future<void>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([&] { ran.fetch_add(1); }));
  pool.shutdown(true);
  EXPECT_EQ(ran.load(), 100);
  for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST(ThreadPoolExecutor, TheDestructorWaitsForTheQueuedWork) {
  std::atomic<int> ran{0};
  {
    ThreadPoolExecutor pool({.max_workers = 2});
    for (int i = 0; i < 50; ++i) pool.submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(ThreadPoolExecutor, ShutdownWithoutWaitLetsTheQueuedWorkFinish) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event release;
  auto blocked = pool.submit([&] { release.wait(); });
  auto queued = pool.submit([] { return 3; });
  pool.shutdown(false);
  EXPECT_FALSE(queued.done());
  release.set();
  EXPECT_EQ(queued.result(), 3);
}

TEST(ThreadPoolExecutor, ShutdownWithCancelFuturesCancelsTheQueuedWork) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event started, release;
  std::atomic<int> ran{0};
  auto running = pool.submit([&] {
    started.set();
    release.wait();
    return 1;
  });
  started.wait();
  std::vector<Future<void>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit([&] { ran.fetch_add(1); }));
  pool.shutdown(false, true);
  for (auto& f : queued) {
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.result(), concur::CancelledError);
  }
  release.set();
  EXPECT_EQ(running.result(), 1);  // the running task is not cancelled
  pool.shutdown(true);
  EXPECT_EQ(ran.load(), 0);
}

TEST(ThreadPoolExecutor, ACancelledPendingTaskNeverRuns) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event started, release;
  bool ran = false;
  auto blocker = pool.submit([&] {
    started.set();
    release.wait();
  });
  started.wait();
  auto victim = pool.submit([&] { ran = true; });
  EXPECT_TRUE(victim.cancel());
  EXPECT_FALSE(blocker.cancel());  // running
  release.set();
  blocker.result();
  pool.shutdown();
  EXPECT_FALSE(ran);
  EXPECT_THROW(victim.result(), concur::CancelledError);
}

TEST(ThreadPoolExecutor, ARunningTaskReportsRunning) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event started, release;
  auto f = pool.submit([&] {
    started.set();
    release.wait();
  });
  started.wait();
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  release.set();
  f.result();
  EXPECT_FALSE(f.running());
}

TEST(ThreadPoolExecutor, TheInitializerRunsInEachWorkerBeforeItsTasks) {
  std::atomic<int> initialized{0};
  thread_local bool ready = false;
  ThreadPoolExecutor pool({.max_workers = 2, .initializer = [&] {
                             ready = true;
                             initialized.fetch_add(1);
                           }});
  std::vector<Future<bool>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit([] { return ready; }));
  for (auto& f : fs) EXPECT_TRUE(f.result());
  pool.shutdown();
  EXPECT_GE(initialized.load(), 1);
  EXPECT_LE(initialized.load(), 2);
}

TEST(ThreadPoolExecutor, AFailingInitializerBreaksThePool) {
  testing::internal::CaptureStderr();
  ThreadPoolExecutor pool({.max_workers = 1, .initializer = [] { throw std::runtime_error("no database"); }});
  auto pending = pool.submit([] { return 1; });
  EXPECT_THROW(pending.result(), futures::BrokenThreadPool);
  EXPECT_THROW(pool.submit([] { return 2; }), futures::BrokenThreadPool);
  EXPECT_THROW(pool.submit([] { return 2; }), futures::BrokenExecutor);
  pool.shutdown();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in initializer"), std::string::npos) << err;
  EXPECT_NE(err.find("no database"), std::string::npos) << err;
}

TEST(ThreadPoolExecutor, MapYieldsTheResultsInInputOrder) {
  ThreadPoolExecutor pool({.max_workers = 4});
  std::vector<int> xs{5, 3, 8, 1, 9};
  std::vector<int> out;
  for (int r : pool.map([](int x) { return x * x; }, xs)) out.push_back(r);
  EXPECT_EQ(out, (std::vector<int>{25, 9, 64, 1, 81}));
}

TEST(ThreadPoolExecutor, MapZipsSeveralRangesUpToTheShortest) {
  ThreadPoolExecutor pool({.max_workers = 2});
  std::vector<int> a{1, 2, 3, 4};
  std::vector<std::string> b{"x", "y", "z"};
  std::vector<std::string> out;
  for (const auto& s : pool.map([](int n, const std::string& t) { return std::string(static_cast<std::size_t>(n), t[0]); }, a, b))
    out.push_back(s);
  EXPECT_EQ(out, (std::vector<std::string>{"x", "yy", "zzz"}));
}

TEST(ThreadPoolExecutor, MapOverAnEmptyRangeYieldsNothing) {
  ThreadPoolExecutor pool({.max_workers = 1});
  std::vector<int> none;
  int n = 0;
  for (int r : pool.map([](int x) { return x; }, none)) n += r + 1;
  EXPECT_EQ(n, 0);
}

TEST(ThreadPoolExecutor, MapYieldsLazilyAsResultsArrive) {
  ThreadPoolExecutor pool({.max_workers = 2});
  th::Event first_consumed;
  std::vector<int> xs{0, 1, 2};
  auto results = pool.map(
      [&](int x) {
        if (x > 0) first_consumed.wait();  // later calls finish only after result 0 was consumed
        return x;
      },
      xs);
  std::vector<int> out;
  for (int r : results) {
    if (r == 0) first_consumed.set();
    out.push_back(r);
  }
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

TEST(ThreadPoolExecutor, MapTimesOutWhenAResultIsLate) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event started, release;
  std::vector<int> xs{1, 2, 3};
  std::atomic<int> ran{0};
  {
    const auto start = std::chrono::steady_clock::now();
    auto results = pool.map(
        [&](int x) {
          ran.fetch_add(1);
          started.set();
          release.wait();
          return x;
        },
        xs, 50ms);
    started.wait();  // the first call runs (and blocks); the others wait in the queue
    EXPECT_THROW(results.begin(), concur::TimeoutError);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  }
  release.set();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 1);  // the timeout cancelled the calls not started
}

TEST(ThreadPoolExecutor, MapAcceptsItsTimeoutAsMapOptions) {
  ThreadPoolExecutor pool({.max_workers = 1});
  std::vector<int> xs{1, 2};
  int sum = 0;
  for (int r : pool.map([](int x) { return x; }, xs, futures::MapOptions{.timeout = 10s})) sum += r;
  EXPECT_EQ(sum, 3);
}

TEST(ThreadPoolExecutor, MapRethrowsACallsExceptionAndCancelsTheRest) {
  ThreadPoolExecutor pool({.max_workers = 1});
  std::vector<int> xs{0, 1, 2, 3};
  std::atomic<int> ran{0};
  th::Event release;
  std::vector<int> out;
  {
    auto results = pool.map(
        [&](int x) {
          ran.fetch_add(1);
          if (x == 1) throw std::domain_error("one");
          if (x == 2) release.wait();
          return x;
        },
        xs);
    auto it = results.begin();
    out.push_back(*it);
    EXPECT_THROW(++it, std::domain_error);
    EXPECT_TRUE(it == results.end());
  }
  release.set();
  pool.shutdown();
  EXPECT_EQ(out, std::vector<int>{0});
  EXPECT_LE(ran.load(), 3);  // x == 3 was cancelled unless already started
}

TEST(ThreadPoolExecutor, LeavingAMapLoopEarlyCancelsTheCallsNotStarted) {
  ThreadPoolExecutor pool({.max_workers = 1});
  th::Event release;
  std::atomic<int> ran{0};
  std::vector<int> xs{0, 1, 2, 3, 4};
  for (int r : pool.map(
           [&](int x) {
             ran.fetch_add(1);
             if (x == 1) release.wait();
             return x;
           },
           xs)) {
    EXPECT_EQ(r, 0);
    break;
  }
  release.set();
  pool.shutdown();
  EXPECT_LE(ran.load(), 2);
}

TEST(ThreadPoolExecutor, MapOfAVoidFunctionWaitsForEachCall) {
  ThreadPoolExecutor pool({.max_workers = 2});
  std::atomic<int> sum{0};
  std::vector<int> xs{1, 2, 3};
  int steps = 0;
  for ([[maybe_unused]] auto unit : pool.map([&](int x) { sum.fetch_add(x); }, xs)) ++steps;
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(sum.load(), 6);
}

TEST(ThreadPoolExecutor, ManyTasksFromSeveralSubmittersAllComplete) {
  ThreadPoolExecutor pool({.max_workers = 4});
  constexpr int submitters = 4, per_submitter = 2000;
  std::vector<std::vector<Future<int>>> fs(submitters);
  std::vector<th::Thread> threads;
  for (int s = 0; s < submitters; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_submitter; ++i) fs[static_cast<std::size_t>(s)].push_back(pool.submit([i] { return i; }));
    });
    threads.back().start();
  }
  for (auto& t : threads) t.join();
  long sum = 0;
  for (auto& v : fs)
    for (auto& f : v) sum += f.result();
  EXPECT_EQ(sum, static_cast<long>(submitters) * per_submitter * (per_submitter - 1) / 2);
}

TEST(ThreadPoolExecutor, BurstsSeparatedByIdlePeriodsAllComplete) {
  // Workers park between bursts; every burst must wake them again.
  ThreadPoolExecutor pool({.max_workers = 3});
  for (int burst = 0; burst < 50; ++burst) {
    std::vector<Future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit([i] { return i; }));
    int sum = 0;
    for (auto& f : fs) sum += f.result();
    ASSERT_EQ(sum, 190);
  }
}

TEST(ThreadPoolExecutor, ATaskMayShutDownItsOwnPool) {
  ThreadPoolExecutor pool({.max_workers = 2});
  auto f = pool.submit([&] { pool.shutdown(true); });
  f.result();
  EXPECT_THROW(pool.submit([] {}), concur::RuntimeError);
}

TEST(ThreadPoolExecutor, ShutdownRacingWithSubmitLosesNoAcceptedTask) {
  for (int round = 0; round < 20; ++round) {
    ThreadPoolExecutor pool({.max_workers = 2});
    std::vector<Future<int>> accepted;
    th::Thread submitter([&] {
      for (int i = 0; i < 200; ++i) {
        try {
          accepted.push_back(pool.submit([i] { return i; }));
        } catch (const concur::RuntimeError&) {
          return;
        }
      }
    });
    submitter.start();
    pool.shutdown(true);
    submitter.join();
    pool.shutdown(true);
    for (auto& f : accepted) ASSERT_TRUE(f.done());
  }
}

}  // namespace
