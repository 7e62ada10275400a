// SPDX-License-Identifier: MIT
// concur/futures/process.hpp: ProcessPoolExecutor — submit, map, shutdown, crashes, and the
// futures it returns.
#include <concur/futures/process.hpp>

#include <concur/multiprocessing/context.hpp>

#include <gtest/gtest.h>

#include "input_range_support.hpp"
#include "mp_test_environment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <numeric>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace futures = concur::futures;
namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

namespace {


int square(int x) { return x * x; }

/// 0, 1, ..., last - 1 as a vector (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<int> numbers(int first, int last) {
  std::vector<int> v(static_cast<std::size_t>(last - first));
  std::iota(v.begin(), v.end(), first);
  return v;
}
int add(int a, int b) { return a + b; }
std::string describe(int n, std::string word, double x) { return std::to_string(n) + " " + word + " " + std::to_string(x); }
int my_pid() { return static_cast<int>(::getpid()); }
void segfault() {
  ::signal(SIGSEGV, SIG_DFL);  // the default action, even under AddressSanitizer
  ::raise(SIGSEGV);
}
int fail(int) { throw std::invalid_argument("bad input"); }
// Blocks until a byte arrives on the FIFO at `path`.
int wait_on_fifo(std::string path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  char c = 0;
  [[maybe_unused]] auto n = ::read(fd, &c, 1);
  ::close(fd);
  return 1;
}
// Says "started" on the FIFO `started`, then waits on the FIFO `go`.
int announce_then_wait(std::string started, std::string go) {
  const int fd = ::open(started.c_str(), O_WRONLY);
  [[maybe_unused]] auto n = ::write(fd, "s", 1);
  ::close(fd);
  return wait_on_fifo(std::move(go));
}
void await_fifo(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::read(fd, &c, 1), 1);
  ::close(fd);
}
void release_fifo(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "x", 1), 1);
  ::close(fd);
}
int g_value = 0;
void init(int v) { g_value = v; }
int value() { return g_value; }

}  // namespace

TEST(ProcessPoolExecutor, SubmitReturnsAFutureWithTheResult) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  futures::Future<int> f = ex.submit(square, 12);
  EXPECT_EQ(f.result(30s), 144);
  EXPECT_TRUE(f.done());
  futures::Future<void> v = ex.submit([](int) {}, 1);
  v.result(30s);
  EXPECT_TRUE(v.done());
}

TEST(ProcessPoolExecutor, ExceptionsComeBackThroughTheFuture) {
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  auto f = ex.submit(fail, 1);
  EXPECT_THROW(f.result(30s), std::invalid_argument);
  EXPECT_NE(f.exception(), nullptr);
}

TEST(ProcessPoolExecutor, MapYieldsResultsInInputOrder) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  std::vector<int> out;
  for (int v : ex.map(square, numbers(0, 100), std::nullopt, 7)) out.push_back(v);
  ASSERT_EQ(out.size(), 100U);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], i * i);
}

template <class Results>
auto collect(Results&& results) {
  std::vector<std::remove_cvref_t<decltype(*results.begin())>> out;
  for (const auto& v : results) out.push_back(v);
  return out;
}

TEST(ProcessPoolExecutor, MapZipsSeveralRangesUpToTheShortest) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  EXPECT_EQ(collect(ex.map(add, numbers(0, 10), numbers(100, 105))), (std::vector<int>{100, 102, 104, 106, 108}));
  EXPECT_EQ(collect(ex.map(add, numbers(0, 3), numbers(10, 20))), (std::vector<int>{10, 12, 14}));
  EXPECT_TRUE(collect(ex.map(add, numbers(0, 3), std::vector<int>{})).empty());
  // Three ranges of different types, then a timeout and a chunksize, as Python's
  // map(fn, *iterables, timeout=, chunksize=).
  const std::vector<std::string> words = {"one", "two", "three"};
  const std::vector<double> xs = {0.5, 1.5, 2.5, 3.5};
  EXPECT_EQ(collect(ex.map(describe, numbers(1, 10), words, xs, 60s, 2)),
            (std::vector<std::string>{"1 one 0.500000", "2 two 1.500000", "3 three 2.500000"}));
  EXPECT_EQ(collect(ex.map(add, numbers(0, 100), numbers(0, 100), std::nullopt, 7)).size(), 100U);
  // A sentinel-ended range zips too.
  EXPECT_EQ(collect(ex.map(add, concur_mp_test::CountingInput(0, 4), numbers(10, 20))), (std::vector<int>{10, 12, 14, 16}));
}

TEST(ProcessPoolExecutor, MapAcceptsARangeEndingInASentinelAndRethrowsItsErrors) {
  using concur_mp_test::CountingInput;
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  EXPECT_EQ(collect(ex.map(square, CountingInput(0, 5))), (std::vector<int>{0, 1, 4, 9, 16}));
  EXPECT_THROW(ex.map(square, CountingInput(0, 10, 4)), concur_mp_test::InputError);
  EXPECT_THROW(ex.map(add, CountingInput(0, 10, 4), numbers(0, 10)), concur_mp_test::InputError);
  EXPECT_THROW(ex.map(add, numbers(0, 10), CountingInput(0, 10, 0)), concur_mp_test::InputError);
  EXPECT_EQ(ex.submit(square, 3).result(30s), 9);  // nothing was submitted; the executor goes on
}

TEST(ProcessPoolExecutor, AChunksizeBelowOneIsAValueError) {
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  EXPECT_THROW(ex.map(square, numbers(0, 3), std::nullopt, 0), concur::ValueError);
  EXPECT_THROW(ex.map(square, numbers(0, 3), std::nullopt, -5), concur::ValueError);
}

TEST(ProcessPoolExecutor, MaxWorkersOfZeroOrLessIsAValueError) {
  for (int n : {0, -1, INT_MIN}) {
    try {
      futures::ProcessPoolExecutor ex({.max_workers = n});
      ADD_FAILURE() << "max_workers = " << n << " was accepted";
    } catch (const concur::ValueError& e) {
      EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
    }
  }
}

TEST(ProcessPoolExecutor, MapTimeoutCountsFromTheCall) {
  const std::string fifo = "/tmp/concur-ppe-" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  auto results = ex.map(wait_on_fifo, std::vector<std::string>{fifo}, 50ms);
  EXPECT_THROW(results.next(), concur::TimeoutError);
  release_fifo(fifo);
  ::unlink(fifo.c_str());
}

TEST(ProcessPoolExecutor, ACrashingTaskFailsOnlyItsFutureAndTheExecutorGoesOn) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  auto crash = ex.submit(segfault);
  std::vector<futures::Future<int>> others;
  for (int i = 0; i < 10; ++i) others.push_back(ex.submit(square, i));
  try {
    crash.result(30s);
    ADD_FAILURE() << "no exception";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos) << e.what();
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(others[i].result(30s), i * i);
  EXPECT_EQ(ex.submit(square, 3).result(30s), 9);
}

TEST(ProcessPoolExecutor, InitializerAndMaxTasksPerChild) {
  futures::ProcessPoolExecutor ex({.max_workers = 1, .initializer = {init, 5}, .max_tasks_per_child = 1});
  std::set<int> pids;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ex.submit(value).result(30s), 5);
    pids.insert(ex.submit(my_pid).result(30s));
  }
  EXPECT_EQ(pids.size(), 3U);
}

TEST(ProcessPoolExecutor, SubmitAfterShutdownIsRuntimeError) {
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  ex.shutdown();
  EXPECT_THROW(ex.submit(square, 1), concur::RuntimeError);
  ex.shutdown();  // idempotent
}

TEST(ProcessPoolExecutor, ShutdownWithCancelFuturesCancelsWhatHasNotStarted) {
  const std::string started = "/tmp/concur-ppe-started-" + std::to_string(::getpid());
  const std::string go = "/tmp/concur-ppe-go-" + std::to_string(::getpid());
  ::unlink(started.c_str());
  ::unlink(go.c_str());
  ASSERT_EQ(::mkfifo(started.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(go.c_str(), 0600), 0);
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  auto running = ex.submit(announce_then_wait, started, go);
  std::vector<futures::Future<int>> queued;
  for (int i = 0; i < 20; ++i) queued.push_back(ex.submit(square, i));
  await_fifo(started);  // the worker runs `running`; most of `queued` waits in the pool
  EXPECT_TRUE(running.running());
  ex.shutdown(false, true);
  EXPECT_FALSE(running.cancelled());
  release_fifo(go);
  EXPECT_EQ(running.result(30s), 1);
  int cancelled = 0;
  for (auto& f : queued) {
    try {
      (void)f.result(30s);
    } catch (const concur::CancelledError&) {
      ++cancelled;
    }
  }
  EXPECT_GT(cancelled, 0);
  ex.shutdown(true);
  ::unlink(started.c_str());
  ::unlink(go.c_str());
}

TEST(ProcessPoolExecutor, ShutdownWaitsForSubmittedWork) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  std::vector<futures::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(square, i));
  ex.shutdown(true);
  for (auto& f : fs) EXPECT_TRUE(f.done());
}
