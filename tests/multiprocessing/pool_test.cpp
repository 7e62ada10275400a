// SPDX-License-Identifier: MIT
// pool.hpp: Pool — apply/map/imap/starmap and their async forms, chunking, exceptions,
// initializer, maxtasksperchild, close/terminate/join, and every way a worker can die.
#include <concur/multiprocessing/pool.hpp>

#include <concur/multiprocessing/context.hpp>
#include <concur/multiprocessing/detail/pool_channel.hpp>
#include <concur/threading/event.hpp>
#include <concur/threading/thread.hpp>

#include <gtest/gtest.h>

#include "capturing_excepthook.hpp"
#include "fork_server_support.hpp"
#include "input_range_support.hpp"
#include "mp_test_environment.hpp"

#include "../../src/multiprocessing/reply_ring.hpp"  // the reply ring: private to the library

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace mp = concur::multiprocessing;
namespace th = concur::threading;
using namespace std::chrono_literals;

namespace pool_test {
class CustomError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class Unregistered : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
}  // namespace pool_test

namespace {


int square(int x) { return x * x; }

/// 0, 1, ..., last - 1 as a vector (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<int> numbers(int first, int last) {
  std::vector<int> v(static_cast<std::size_t>(last - first));
  std::iota(v.begin(), v.end(), first);
  return v;
}
int add(int a, int b) { return a + b; }
int my_pid(int) { return static_cast<int>(::getpid()); }
void nothing(int) {}
int throw_out_of_range(int x) {
  if (x == 3) throw std::out_of_range("item 3 is out of range");
  return x;
}
int throw_custom(int) { throw pool_test::CustomError("custom failure"); }
int throw_unregistered(int) { throw pool_test::Unregistered("nobody knows me"); }
int block_forever(int) {
  for (;;) ::pause();
}

// Crashes the way `how` says when x == 5; otherwise returns x.
int crash_on_five(int x, int how) {
  if (x != 5) return x;
  switch (how) {
    case 0:  // with the default action, even under AddressSanitizer (it handles SIGSEGV)
      ::signal(SIGSEGV, SIG_DFL);
      ::raise(SIGSEGV);
      break;
    case 1: std::abort();
    case 2: ::_exit(3);
    default: ::kill(::getpid(), SIGKILL); break;
  }
  return x;
}

// Blocks on a FIFO for the last item, so that the test can see earlier results arrive first.
int wait_on_fifo_for_last(int x, std::string fifo, int last) {
  if (x == last) {
    const int fd = ::open(fifo.c_str(), O_RDONLY);
    char c;
    [[maybe_unused]] auto n = ::read(fd, &c, 1);
    ::close(fd);
  }
  return x;
}

// A string of n bytes, all 'x': replies of every size, from empty to larger than the ring.
std::string bytes_of(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }

// Appends "<x>\n" to the file at `path` (O_APPEND: one write per line), then crashes when
// x == crash_at: the file tells which items ran and how many times.
int log_then_crash_at(int x, std::string path, int crash_at) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open the log");
  const std::string line = std::to_string(x) + "\n";
  [[maybe_unused]] const auto n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (x == crash_at) ::kill(::getpid(), SIGKILL);
  return x;
}

int g_initialized = 0;
void init_worker(int value) { g_initialized = value; }
int read_initialized(int) { return g_initialized; }
void failing_init() { throw std::runtime_error("cannot initialize"); }

std::size_t payload_sum(std::vector<unsigned char> v) {
  return std::accumulate(v.begin(), v.end(), std::size_t{0});
}
std::vector<double> reversed(std::vector<double> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

// Opens (and removes when done) a FIFO on which wait_on_fifo_for_last blocks until release().
class FifoGate {
 public:
  explicit FifoGate(const std::string& tag)
      : m_path("/tmp/concur-pool-gate-" + std::to_string(::getpid()) + "-" + tag) {
    ::unlink(m_path.c_str());
    if (::mkfifo(m_path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
  }
  FifoGate(const FifoGate&) = delete;
  FifoGate& operator=(const FifoGate&) = delete;
  ~FifoGate() { ::unlink(m_path.c_str()); }
  const std::string& path() const { return m_path; }
  void release() const {
    const int fd = ::open(m_path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "x", 1), 1);
    ::close(fd);
  }

 private:
  std::string m_path;
};

using CapturingHook = concur::testing_support::CapturingExceptHook;

// The message of the exception `e` holds, rethrown as type E; empty if it is not an E.
template <class E>
std::string message_if(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E& error) {
    return error.what();
  } catch (...) {
    return {};
  }
}

class PoolTest : public testing::TestWithParam<std::string> {
 protected:
  mp::PoolOptions options(int processes = 2) const {
    return mp::PoolOptions{.processes = processes, .start_method = GetParam()};
  }
};

}  // namespace

TEST_P(PoolTest, MapReturnsEveryResultInInputOrder) {
  mp::Pool pool(options());
  EXPECT_EQ(pool.processes(), 2U);
  const auto out = pool.map(square, numbers(0, 1000));
  ASSERT_EQ(out.size(), 1000U);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[i], i * i);
  EXPECT_EQ(pool.map(square, std::vector<int>{3, 4}, 1), (std::vector<int>{9, 16}));
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
}

TEST_P(PoolTest, ApplyAndApplyAsyncRunOneCall) {
  mp::Pool pool(options());
  EXPECT_EQ(pool.apply(add, 2, 3), 5);
  auto r = pool.apply_async(square, 9);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(), 81);
  EXPECT_EQ(pool.apply_async([](std::string s) { return s + "!"; }, "hi").get(), "hi!");
}

TEST_P(PoolTest, StarmapUnpacksTuplesAndPairs) {
  mp::Pool pool(options());
  const std::vector<std::tuple<int, int>> t{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap(add, t), (std::vector<int>{3, 7}));
  const std::vector<std::pair<int, int>> p{{10, 20}};
  EXPECT_EQ(pool.starmap_async(add, p).get(), (std::vector<int>{30}));
}

TEST_P(PoolTest, VoidFunctionsGiveOneEmptyResultPerItem) {
  mp::Pool pool(options());
  EXPECT_EQ(pool.map(nothing, numbers(0, 5)).size(), 5U);
}

TEST_P(PoolTest, ImapYieldsInOrderWhileLaterTasksStillRun) {
  const std::string fifo = "/tmp/concur-imap-" + std::to_string(::getpid()) + "-" + GetParam();
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  mp::Pool pool(options());
  std::vector<std::tuple<int, std::string, int>> items;
  for (int i = 0; i < 6; ++i) items.emplace_back(i, fifo, 5);
  // starmap-like imap over tuples: use a lambda taking the tuple.
  auto it = pool.imap([](std::tuple<int, std::string, int> t) { return wait_on_fifo_for_last(std::get<0>(t), std::get<1>(t), std::get<2>(t)); }, items);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(it.next(30s), i);  // item 5 is still blocked
  EXPECT_THROW(it.next(50ms), concur::TimeoutError);
  const int fd = ::open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "x", 1), 1);
  ::close(fd);
  EXPECT_EQ(it.next(30s), 5);
  EXPECT_EQ(it.next(), std::nullopt);
  ::unlink(fifo.c_str());
}

TEST_P(PoolTest, ImapAndImapUnorderedAreRanges) {
  mp::Pool pool(options());
  std::vector<int> ordered;
  for (int v : pool.imap(square, numbers(0, 50), 3)) ordered.push_back(v);
  ASSERT_EQ(ordered.size(), 50U);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(ordered[i], i * i);
  std::multiset<int> unordered;
  for (int v : pool.imap_unordered(square, numbers(0, 50))) unordered.insert(v);
  std::multiset<int> expected;
  for (int i = 0; i < 50; ++i) expected.insert(i * i);
  EXPECT_EQ(unordered, expected);
  EXPECT_THROW(pool.imap(square, std::vector<int>{1}, 0), concur::ValueError);
}

TEST_P(PoolTest, RegisteredExceptionsComeBackAsTheirOwnType) {
  mp::Pool pool(options());
  EXPECT_THROW(pool.map(throw_out_of_range, numbers(0, 10), 2), std::out_of_range);
  mp::register_exception<pool_test::CustomError>();
  EXPECT_THROW(pool.apply(throw_custom, 1), pool_test::CustomError);
  auto r = pool.apply_async(throw_custom, 1);
  r.wait();
  EXPECT_FALSE(r.successful());
}

TEST_P(PoolTest, UnregisteredExceptionsComeBackAsRemoteErrorWithTypeAndMessage) {
  mp::Pool pool(options());
  try {
    pool.apply(throw_unregistered, 1);
    FAIL() << "no exception";
  } catch (const mp::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "pool_test::Unregistered");
    EXPECT_EQ(e.message(), "nobody knows me");
  }
}

TEST_P(PoolTest, ImapRaisesAFailedChunkAtItsPositionAndGoesOn) {
  mp::Pool pool(options());
  auto it = pool.imap(throw_out_of_range, numbers(0, 6));
  EXPECT_EQ(it.next(), 0);
  EXPECT_EQ(it.next(), 1);
  EXPECT_EQ(it.next(), 2);
  EXPECT_THROW(it.next(), std::out_of_range);
  EXPECT_EQ(it.next(), 4);
  EXPECT_EQ(it.next(), 5);
  EXPECT_EQ(it.next(), std::nullopt);
}

TEST_P(PoolTest, GetWithATimeoutRaisesTimeoutError) {
  mp::Pool pool(options(1));
  auto r = pool.apply_async(block_forever, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(r.get(50ms), concur::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(r.ready());
  EXPECT_THROW((void)r.successful(), concur::ValueError);
}

class CrashTest : public testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(CrashTest, ADyingWorkerFailsOnlyItsTaskWhichNamesPidSignalAndTask) {
  const auto [method, how] = GetParam();
  mp::Pool pool({.processes = 2, .start_method = method});
  std::vector<mp::AsyncResult<int>> results;
  for (int i = 0; i < 12; ++i) results.push_back(pool.apply_async(crash_on_five, i, how));
  for (int i = 0; i < 12; ++i) {
    if (i != 5) {
      EXPECT_EQ(results[i].get(30s), i);
      continue;
    }
    try {
      (void)results[i].get(30s);
      ADD_FAILURE() << "the crashing task succeeded";
    } catch (const concur::ProcessError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("worker process "), std::string::npos) << what;
      EXPECT_NE(what.find("apply #6"), std::string::npos) << what;
      const char* expected[] = {"SIGSEGV", "SIGABRT", "exited with code 3", "SIGKILL"};
      EXPECT_NE(what.find(expected[how]), std::string::npos) << what;
    }
  }
  // The worker was replaced: the pool still has its processes and works.
  EXPECT_EQ(pool.map(square, numbers(0, 20)).size(), 20U);
}

TEST_P(CrashTest, AMapWithACrashingItemFailsAndTheNextMapSucceeds) {
  const auto [method, how] = GetParam();
  mp::Pool pool({.processes = 2, .start_method = method});
  std::vector<std::pair<int, int>> items;
  for (int i = 0; i < 10; ++i) items.emplace_back(i, how);
  // The error names the input position, as the user knows it (not an internal task number).
  try {
    (void)pool.starmap(crash_on_five, items, 1);
    ADD_FAILURE() << "the crashing item succeeded";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("while running starmap item 5"), std::string::npos) << e.what();
  }
  try {
    (void)pool.starmap(crash_on_five, items, 4);
    ADD_FAILURE() << "the crashing chunk succeeded";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("while running starmap items 4 to 7"), std::string::npos) << e.what();
  }
  items[5].first = 6;
  EXPECT_EQ(pool.starmap(crash_on_five, items, 1).size(), 10U);
}

std::string crash_name(const testing::TestParamInfo<std::tuple<std::string, int>>& info) {
  static const char* const how[] = {"segfault", "abort", "exit", "sigkill"};
  return std::get<0>(info.param) + "_" + how[std::get<1>(info.param)];
}
INSTANTIATE_TEST_SUITE_P(Pool, CrashTest,
                         testing::Combine(testing::Values("fork", "forkserver"), testing::Values(0, 1, 2, 3)), crash_name);

TEST_P(PoolTest, MaxtasksperchildReplacesWorkersAfterThatManyTasks) {
  mp::Pool pool({.processes = 2, .maxtasksperchild = 1, .start_method = GetParam()});
  const auto pids = pool.map(my_pid, numbers(0, 6), 1);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 6U);
}

TEST_P(PoolTest, TheInitializerRunsInEveryWorker) {
  mp::Pool pool({.processes = 2, .initializer = {init_worker, 7}, .start_method = GetParam()});
  for (int v : pool.map(read_initialized, numbers(0, 10), 1)) EXPECT_EQ(v, 7);
}

TEST_P(PoolTest, AFailingInitializerBreaksThePoolInsteadOfLoopingForever) {
  mp::Pool pool({.processes = 2, .initializer = failing_init, .start_method = GetParam()});
  EXPECT_THROW(pool.apply(square, 2), concur::ProcessError);
  EXPECT_THROW(pool.map(square, numbers(0, 4)), concur::ProcessError);
}

TEST_P(PoolTest, CloseRefusesNewWorkAndJoinWaitsForTheQueuedWork) {
  mp::Pool pool(options());
  EXPECT_THROW(pool.join(), concur::ValueError);
  auto r = pool.map_async(square, numbers(0, 100), 1);
  pool.close();
  EXPECT_THROW(pool.apply(square, 1), concur::ValueError);
  pool.join();
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get().size(), 100U);
}

TEST_P(PoolTest, TerminateFailsUnfinishedTasksInsteadOfHanging) {
  mp::Pool pool(options(1));
  auto r = pool.apply_async(block_forever, 0);
  auto queued = pool.apply_async(square, 3);
  pool.terminate();
  pool.join();
  EXPECT_THROW(r.get(30s), concur::ProcessError);
  EXPECT_THROW(queued.get(30s), concur::ProcessError);
}

TEST_P(PoolTest, TheDestructorNeverHangsOnRunningTasks) {
  std::optional<mp::AsyncResult<int>> r;
  {
    mp::Pool pool(options());
    r = pool.apply_async(block_forever, 0);
  }
  EXPECT_THROW(r->get(30s), concur::ProcessError);
}

TEST_P(PoolTest, LargePayloadsTravelBothWays) {
  mp::Pool pool(options());
  std::vector<std::vector<unsigned char>> blocks(8, std::vector<unsigned char>(1 << 20, 1));
  for (auto s : pool.map(payload_sum, blocks)) EXPECT_EQ(s, std::size_t{1} << 20);
  std::vector<double> v(200'000);
  std::iota(v.begin(), v.end(), 0.0);
  auto back = pool.apply(reversed, v);
  std::reverse(back.begin(), back.end());
  EXPECT_EQ(back, v);
}

// ---- replies: the shared ring, the socket, and a worker's death -----------------------------

TEST_P(PoolTest, RepliesOfEverySizeArriveWhicheverWayTheyTravel) {
  // Sizes around the ring's limit for one reply and past a shared-memory block's threshold:
  // small replies go through the ring, large ones on the socket, in one interleaved stream.
  mp::Pool pool(options());
  std::vector<int> sizes;
  for (int i = 0; i < 300; ++i) {
    const int kinds[] = {0, 1, 7, 100, 8000, 8192, 9000, 20000, 70000};
    sizes.push_back(kinds[i % 9] + i % 5);
  }
  const auto out = pool.map(bytes_of, sizes, 1);
  ASSERT_EQ(out.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(out[i], bytes_of(sizes[i])) << "item " << i;
  std::vector<int> got;
  for (const std::string& v : pool.imap(bytes_of, sizes, 3)) got.push_back(static_cast<int>(v.size()));
  EXPECT_EQ(got, sizes);
}

TEST_P(PoolTest, RepliesWrittenBeforeAWorkerDiesAreKeptAndNoTaskRunsTwice) {
  const std::string path = "/tmp/concur-pool-log-" + std::to_string(::getpid()) + "-" + GetParam();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  mp::Pool pool(options());
  std::vector<std::tuple<int, std::string, int>> items;
  for (int i = 0; i < 400; ++i) items.emplace_back(i, path, 250);
  try {
    (void)pool.starmap(log_then_crash_at, items, 1);
    ADD_FAILURE() << "the crashing item succeeded";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("while running starmap item 250"), std::string::npos) << e.what();
  }
  pool.close();
  pool.join();  // the map failed at once; its other items ran on
  // Every item ran exactly once: the replies the dead worker had written were not lost (they
  // would have been run again elsewhere), and the item it died in was not retried.
  std::map<int, int> runs;
  {
    std::ifstream log(path);
    for (int x; log >> x;) ++runs[x];
  }
  ::unlink(path.c_str());
  ASSERT_EQ(runs.size(), 400U);
  for (const auto& [x, n] : runs) EXPECT_EQ(n, 1) << "item " << x << " ran " << n << " times";
}

// ---- callbacks (callback= / error_callback=) ----------------------------------------------

TEST_P(PoolTest, ApplyAsyncCallsTheCallbackWithTheResultBeforeGetReturns) {
  mp::Pool pool(options());
  int value = 0;  // written by the callback, read after get(): get() must order them
  int calls = 0;
  int errors = 0;
  auto r = pool.apply_async(add, std::tuple(2, 3),
                            {.callback = [&](int v) {
                               value = v;
                               ++calls;
                             },
                             .error_callback = [&](std::exception_ptr) { ++errors; }});
  EXPECT_EQ(r.get(30s), 5);
  EXPECT_EQ(value, 5);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(errors, 0);
  EXPECT_TRUE(r.successful());

  // A named Callbacks, a string argument, and a void function (its result is std::monostate).
  std::string text;
  const mp::Callbacks<std::string> named{.callback = [&](const std::string& s) { text = s; }};
  pool.apply_async([](std::string s) { return s + "!"; }, std::tuple("hi"), named).wait();
  EXPECT_EQ(text, "hi!");
  bool void_called = false;
  pool.apply_async(nothing, std::tuple(1), {.callback = [&](std::monostate) { void_called = true; }}).get();
  EXPECT_TRUE(void_called);
  // Only an error_callback: nothing is called on success.
  EXPECT_EQ(pool.apply_async(square, std::tuple(4), {.error_callback = [&](std::exception_ptr) { ++errors; }}).get(), 16);
  EXPECT_EQ(errors, 0);
}

TEST_P(PoolTest, TheErrorCallbackReceivesTheExceptionGetWouldRethrow) {
  mp::Pool pool(options());
  std::exception_ptr registered;
  int calls = 0;
  auto r = pool.apply_async(throw_out_of_range, std::tuple(3),
                            {.callback = [&](int) { ++calls; },
                             .error_callback = [&](std::exception_ptr e) { registered = std::move(e); }});
  EXPECT_THROW(r.get(30s), std::out_of_range);
  EXPECT_FALSE(r.successful());
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(registered);
  EXPECT_EQ(message_if<std::out_of_range>(registered), "item 3 is out of range");

  std::exception_ptr remote;
  auto u = pool.apply_async(throw_unregistered, std::tuple(1), {.error_callback = [&](std::exception_ptr e) { remote = e; }});
  EXPECT_THROW(u.get(30s), mp::RemoteError);
  try {
    std::rethrow_exception(remote);
  } catch (const mp::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "pool_test::Unregistered");
    EXPECT_EQ(e.message(), "nobody knows me");
  } catch (...) {
    ADD_FAILURE() << "not a RemoteError: " << concur::exception_type_name(remote);
  }
}

TEST_P(PoolTest, TheResultBecomesReadyOnlyAfterTheCallbackReturned) {
  mp::Pool pool(options());
  th::Event entered;
  th::Event release;
  bool finished = false;
  auto r = pool.apply_async(square, std::tuple(6), {.callback = [&](int) {
                                                     entered.set();
                                                     release.wait();
                                                     finished = true;
                                                   }});
  ASSERT_TRUE(entered.wait(30s));
  // The result arrived but its callback still runs: not ready yet, as in Python.
  EXPECT_FALSE(r.ready());
  EXPECT_THROW(r.get(50ms), concur::TimeoutError);
  EXPECT_THROW((void)r.successful(), concur::ValueError);
  release.set();
  EXPECT_EQ(r.get(30s), 36);
  EXPECT_TRUE(finished);
  EXPECT_TRUE(r.ready());
}

TEST_P(PoolTest, MapAsyncAndStarmapAsyncCallTheCallbackWithEveryResultInOrder) {
  mp::Pool pool(options());
  std::vector<int> seen;
  auto r = pool.map_async(square, numbers(0, 100), {.callback = [&](const std::vector<int>& all) { seen = all; }});
  const auto got = r.get(30s);
  ASSERT_EQ(seen.size(), 100U);
  EXPECT_EQ(seen, got);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i * i);

  std::vector<int> chunked;
  pool.map_async(square, numbers(0, 10), 3, {.callback = [&](const std::vector<int>& all) { chunked = all; }}).wait();
  EXPECT_EQ(chunked, (std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49, 64, 81}));

  const std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  std::vector<int> sums;
  pool.starmap_async(add, pairs, {.callback = [&](const std::vector<int>& all) { sums = all; }}).wait();
  EXPECT_EQ(sums, (std::vector<int>{3, 7, 11}));
  std::vector<int> sums_by_one;
  pool.starmap_async(add, pairs, 1, {.callback = [&](const std::vector<int>& all) { sums_by_one = all; }}).wait();
  EXPECT_EQ(sums_by_one, (std::vector<int>{3, 7, 11}));
}

TEST_P(PoolTest, AFailingMapCallsTheErrorCallbackExactlyOnce) {
  mp::Pool pool(options());
  int values = 0;
  int errors = 0;
  std::exception_ptr first;
  // Every chunk fails; only the first failure settles the job.
  auto r = pool.map_async(throw_unregistered, numbers(0, 20), 1,
                          {.callback = [&](const std::vector<int>&) { ++values; },
                           .error_callback = [&](std::exception_ptr e) {
                             first = e;
                             ++errors;
                           }});
  EXPECT_THROW(r.get(30s), mp::RemoteError);
  pool.close();
  pool.join();  // every chunk has come back
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(values, 0);
  EXPECT_NE(message_if<mp::RemoteError>(first).find("nobody knows me"), std::string::npos);
}

TEST_P(PoolTest, MapAsyncOverNothingCallsTheCallbackWithAnEmptyVectorBeforeReturning) {
  // Python never calls it for an empty input; concur keeps "exactly once".
  mp::Pool pool(options());
  std::optional<std::size_t> size;
  auto r = pool.map_async(square, std::vector<int>{}, {.callback = [&](const std::vector<int>& all) { size = all.size(); }});
  EXPECT_EQ(size, 0U);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.get().empty());
  bool star = false;
  pool.starmap_async(add, std::vector<std::pair<int, int>>{}, 4, {.callback = [&](const std::vector<int>&) { star = true; }});
  EXPECT_TRUE(star);
  pool.close();
  // A closed pool refuses even an empty map, and calls nothing.
  bool called = false;
  EXPECT_THROW(pool.map_async(square, std::vector<int>{}, {.callback = [&](const std::vector<int>&) { called = true; }}),
               concur::ValueError);
  EXPECT_THROW(pool.apply_async(square, std::tuple(1), {.error_callback = [&](std::exception_ptr) { called = true; }}),
               concur::ValueError);
  EXPECT_FALSE(called);
}

TEST_P(PoolTest, ACallbackCanSubmitWorkAndAskOtherResultsWhetherTheyAreReady) {
  mp::Pool pool(options());
  auto earlier = pool.apply_async(square, 2);
  earlier.wait();
  std::mutex mutex;
  std::optional<mp::AsyncResult<int>> inner;  // guarded by mutex
  bool earlier_ready = false;
  th::Event inner_done;
  int inner_value = 0;
  auto outer = pool.apply_async(square, std::tuple(3), {.callback = [&](int v) {
                                                         earlier_ready = earlier.ready();
                                                         auto next = pool.apply_async(
                                                             square, std::tuple(v), {.callback = [&](int w) {
                                                               inner_value = w;
                                                               inner_done.set();
                                                             }});
                                                         const std::scoped_lock hold(mutex);
                                                         inner.emplace(std::move(next));
                                                       }});
  EXPECT_EQ(outer.get(30s), 9);
  EXPECT_TRUE(earlier_ready);
  ASSERT_TRUE(inner_done.wait(30s));
  std::optional<mp::AsyncResult<int>> next;
  {
    const std::scoped_lock hold(mutex);
    next = std::move(inner);
  }
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->get(30s), 81);
  EXPECT_EQ(inner_value, 81);
}

TEST_P(PoolTest, AThrowingCallbackGoesToTheExcepthookAndThePoolCarriesOn) {
  CapturingHook hook;
  mp::Pool pool(options());
  auto r = pool.apply_async(square, std::tuple(5), {.callback = [](int) { throw std::runtime_error("callback failed"); }});
  EXPECT_EQ(r.get(30s), 25);  // the result is unaffected
  EXPECT_TRUE(r.successful());
  auto e = pool.apply_async(throw_custom, std::tuple(1),
                            {.error_callback = [](std::exception_ptr) { throw std::logic_error("error_callback failed"); }});
  EXPECT_THROW(e.get(30s), std::exception);
  const auto records = hook.records();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].type, "std::runtime_error");
  EXPECT_EQ(records[0].message, "callback failed");
  EXPECT_EQ(records[1].type, "std::logic_error");
  EXPECT_EQ(records[1].message, "error_callback failed");
  // Other results and later callbacks are not lost.
  std::vector<int> seen;
  EXPECT_EQ(pool.map_async(square, numbers(0, 30), {.callback = [&](const std::vector<int>& all) { seen = all; }}).get(30s),
            seen);
  EXPECT_EQ(seen.size(), 30U);
}

TEST_P(PoolTest, DroppingTheResultBeforeItIsReadyStillRunsTheCallback) {
  FifoGate gate("drop-" + GetParam());
  mp::Pool pool(options());
  th::Event called;
  int value = -1;
  {
    auto r = pool.apply_async(wait_on_fifo_for_last, std::tuple(7, gate.path(), 7), {.callback = [&](int v) {
                                                                                    value = v;
                                                                                    called.set();
                                                                                  }});
    EXPECT_FALSE(r.ready());  // blocked on the gate
  }
  th::Event mapped;
  std::vector<int> all;
  (void)pool.map_async(square, numbers(0, 8), {.callback = [&](const std::vector<int>& v) {
                                                 all = v;
                                                 mapped.set();
                                               }});
  gate.release();
  ASSERT_TRUE(called.wait(30s));
  EXPECT_EQ(value, 7);
  ASSERT_TRUE(mapped.wait(30s));
  EXPECT_EQ(all.size(), 8U);
}

TEST_P(PoolTest, ACrashingWorkerAndTerminateCallTheErrorCallback) {
  mp::Pool pool(options(1));
  std::exception_ptr crashed;
  auto c = pool.apply_async(crash_on_five, std::tuple(5, 2), {.callback = [](int) { ADD_FAILURE() << "callback of a crash"; },
                                                              .error_callback = [&](std::exception_ptr e) { crashed = e; }});
  EXPECT_THROW(c.get(30s), concur::ProcessError);
  EXPECT_NE(message_if<concur::ProcessError>(crashed).find("exited with code 3"), std::string::npos);

  int errors = 0;
  std::vector<std::string> messages;
  auto record = [&](std::exception_ptr e) {
    ++errors;
    messages.push_back(message_if<concur::ProcessError>(e));
  };
  auto running = pool.apply_async(block_forever, std::tuple(0), {.error_callback = record});
  auto queued = pool.map_async(square, numbers(0, 4), {.error_callback = record});
  pool.terminate();
  pool.join();
  EXPECT_THROW(running.get(30s), concur::ProcessError);
  EXPECT_THROW(queued.get(30s), concur::ProcessError);
  EXPECT_EQ(errors, 2);
  for (const auto& m : messages) EXPECT_NE(m.find("terminated"), std::string::npos) << m;
}

TEST_P(PoolTest, ABrokenPoolCallsTheErrorCallbackInTheSubmittingCall) {
  mp::Pool pool({.processes = 1, .initializer = failing_init, .start_method = GetParam()});
  EXPECT_THROW(pool.apply(square, 2), concur::ProcessError);  // the pool is broken from now on
  std::exception_ptr error;
  auto r = pool.apply_async(square, std::tuple(3), {.error_callback = [&](std::exception_ptr e) { error = e; }});
  EXPECT_TRUE(r.ready());
  EXPECT_NE(message_if<concur::ProcessError>(error).find("initializer"), std::string::npos);
  EXPECT_THROW(r.get(), concur::ProcessError);
}

TEST_P(PoolTest, GettersOnOtherThreadsSeeWhatTheCallbackWrote) {
  mp::Pool pool(options());
  std::vector<int> seen;  // plain: get()/wait() must order the callback's write before the reads
  auto r = pool.map_async(square, numbers(0, 64), 1, {.callback = [&](const std::vector<int>& all) { seen = all; }});
  std::vector<std::size_t> sizes(3, 0);
  std::vector<std::thread> readers;
  readers.emplace_back([&] { sizes[0] = r.get(30s).size() == seen.size() ? seen.size() : 0; });
  readers.emplace_back([&] {
    r.wait(30s);
    sizes[1] = r.ready() ? seen.size() : 0;
  });
  readers.emplace_back([&] {
    while (!r.ready()) r.wait(10ms);
    sizes[2] = seen.size();
  });
  for (auto& t : readers) t.join();
  EXPECT_EQ(sizes, (std::vector<std::size_t>(3, 64)));
}

TEST_P(PoolTest, EveryMapFormAcceptsAnInputRangeEndingInASentinel) {
  using concur_mp_test::CountingInput;
  mp::Pool pool(options());
  const std::vector<int> squares = {0, 1, 4, 9, 16};
  EXPECT_EQ(pool.map(square, CountingInput(0, 5)), squares);
  EXPECT_EQ(pool.map(square, CountingInput(0, 5), 2), squares);
  EXPECT_EQ(pool.map_async(square, CountingInput(0, 5)).get(30s), squares);
  std::vector<int> got;
  for (int v : pool.imap(square, CountingInput(0, 5))) got.push_back(v);
  EXPECT_EQ(got, squares);
  got.clear();
  for (int v : pool.imap_unordered(square, CountingInput(0, 5), 2)) got.push_back(v);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, squares);
  // A forward range without a size: read once too (the end is tested once per element).
  const std::vector<int> all = numbers(0, 100);
  concur_mp_test::IntsBelow below_four(all, 4);
  EXPECT_EQ(pool.map(square, below_four), (std::vector<int>{0, 1, 4, 9}));
  EXPECT_EQ(below_four.tests(), 5);
  EXPECT_EQ(pool.imap(square, concur_mp_test::IntsBelow(all, 3)).next(30s), 0);
  std::vector<std::tuple<int, int>> pairs;
  for (int i : below_four) pairs.emplace_back(i, 10 * i);
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{0, 11, 22, 33}));
  EXPECT_EQ(pool.starmap(square, CountingInput(0, 5)), squares);  // each item a 1-tuple
  EXPECT_EQ(pool.starmap_async(square, concur_mp_test::IntsBelow(all, 5), 2).get(30s), squares);
  EXPECT_TRUE(pool.map(square, CountingInput(0, 0)).empty());
}

TEST_P(PoolTest, AnExceptionThrownWhileReadingTheInputReachesTheCallerAndSubmitsNothing) {
  using concur_mp_test::CountingInput;
  using concur_mp_test::InputError;
  mp::Pool pool(options());
  int callbacks = 0;
  for (int at : {0, 3}) {
    EXPECT_THROW(pool.map(square, CountingInput(0, 10, at)), InputError);
    EXPECT_THROW(pool.map_async(square, CountingInput(0, 10, at), {.callback = [&](const auto&) { ++callbacks; },
                                                                   .error_callback = [&](auto) { ++callbacks; }}),
                 InputError);
    EXPECT_THROW(pool.imap(square, CountingInput(0, 10, at)), InputError);
    EXPECT_THROW(pool.imap_unordered(square, CountingInput(0, 10, at)), InputError);
  }
  try {
    (void)pool.map(square, CountingInput(0, 10, 7));
    ADD_FAILURE() << "no exception";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "input failed at element 7");
  }
  // A sized range whose element fails when read (here while a chunk is being encoded).
  const std::vector<int> all = numbers(0, 20);
  EXPECT_THROW(pool.map(square, concur_mp_test::ThrowingOnRead(all, 13), 4), InputError);
  EXPECT_THROW(pool.imap(square, concur_mp_test::ThrowingOnRead(all, 13)), InputError);
  EXPECT_THROW(pool.map_async(square, concur_mp_test::ThrowingOnRead(all, 0)), InputError);
  EXPECT_EQ(callbacks, 0);  // nothing was submitted, so no callback ran
  // The pool is unharmed.
  EXPECT_EQ(pool.map(square, numbers(0, 4)), (std::vector<int>{0, 1, 4, 9}));
}

// clang 14 cannot compile libstdc++ 12's views (see input_range_support.hpp); g++ checks the
// standard library's own sentinel-ended ranges here.
#if !defined(__clang__) || __clang_major__ >= 15
TEST(PoolRanges, StandardRangesEndingInASentinelWork) {
  mp::Pool pool({.processes = 2});
  auto below_five = std::views::iota(0) | std::views::take_while([](int x) { return x < 5; });
  EXPECT_EQ(pool.map(square, below_five), (std::vector<int>{0, 1, 4, 9, 16}));
  std::istringstream text("3 1 4 1 5");
  std::vector<int> got;
  for (int v : pool.imap(square, std::ranges::istream_view<int>(text))) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{9, 1, 16, 1, 25}));
  auto failing = std::views::iota(0, 10) | std::views::transform([](int x) {
                   if (x == 6) throw concur_mp_test::InputError("six");
                   return x;
                 });
  EXPECT_THROW(pool.map(square, failing), concur_mp_test::InputError);
}
#endif

TEST(PoolProcesses, ZeroOrLessIsAValueErrorAndStartsNothing) {
  for (int n : {0, -1, -64, INT_MIN}) {
    try {
      mp::Pool pool({.processes = n});
      ADD_FAILURE() << "processes = " << n << " was accepted";
    } catch (const concur::ValueError& e) {
      EXPECT_STREQ(e.what(), "Number of processes must be at least 1");
    }
  }
  mp::Pool one({.processes = 1});
  EXPECT_EQ(one.processes(), 1U);
}

TEST(PoolProcesses, TheDefaultIsTheNumberOfCpusThisProcessMayRunOn) {
  // Python 3.13's os.process_cpu_count(): the affinity mask, not the machine. Pin the calling
  // thread (sched_setaffinity(0) affects only it on Linux; process_cpu_count reads the calling
  // thread's mask, as Python does) to one CPU, and restore it afterwards.
  cpu_set_t saved;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(mp::process_cpu_count(), static_cast<std::size_t>(CPU_COUNT(&saved)));
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
  const std::size_t pinned_count = mp::process_cpu_count();
  std::size_t pinned_workers = 0;
  std::vector<int> out;
  {
    mp::Pool pool({.start_method = "fork"});  // not the fork server: it is not pinned
    pinned_workers = pool.processes();
    out = pool.map(square, numbers(0, 5));
  }
  ASSERT_EQ(::sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(pinned_count, 1U);
  EXPECT_EQ(pinned_workers, 1U);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 4, 9, 16}));
  EXPECT_LE(mp::process_cpu_count(), mp::cpu_count());
  mp::Pool pool({.start_method = "fork"});
  EXPECT_EQ(pool.processes(), mp::process_cpu_count());
}

TEST(PoolForkServer, AKilledForkServerLosesNoTaskAndThePoolGoesOnWithANewOne) {
  mp::forkserver::ensure_running();
  // Workers are replaced every 250 tasks: after the kill, their replacements need a new
  // fork server.
  mp::Pool pool({.processes = 2, .maxtasksperchild = 250, .start_method = "forkserver"});
  auto it = pool.imap(square, numbers(0, 2000));
  EXPECT_EQ(it.next(30s), 0);
  // The manager may reap the dead server at any moment (when it replaces a worker).
  int server = 0;
  ASSERT_TRUE(concur_mp_test::kill_fork_server(server, 30'000));
  // Every result arrives, each within a bound (next(timeout) raises TimeoutError, not hang).
  for (int i = 1; i < 2000; ++i) ASSERT_EQ(it.next(30s), i * i) << "item " << i;
  EXPECT_EQ(it.next(30s), std::nullopt);
  const int replacement = mp::detail::forkserver_pid();
  EXPECT_GT(replacement, 0);
  EXPECT_NE(replacement, server);
  const auto again = pool.map(square, numbers(0, 600), 1);
  ASSERT_EQ(again.size(), 600U);
  for (int i = 0; i < 600; ++i) EXPECT_EQ(again[static_cast<std::size_t>(i)], i * i);
  pool.close();
  pool.join();
}

TEST(PoolForkServer, WhenNoWorkerCanBeStartedThePoolBreaksInsteadOfHanging) {
  mp::forkserver::ensure_running();
  // One worker, replaced after each task: the replacement needs the fork server, stopped here.
  mp::Pool pool({.processes = 1, .maxtasksperchild = 1, .start_method = "forkserver"});
  const int server = mp::detail::forkserver_pid();
  ASSERT_GT(server, 0);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, server, 0));
  ASSERT_GE(pidfd, 0);
  struct Cleanup {
    int pidfd;
    ~Cleanup() {
      (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, nullptr, 0);
      ::close(pidfd);
      mp::forkserver::set_start_timeout(20s);
    }
  } cleanup{pidfd};
  mp::forkserver::set_start_timeout(200ms);
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, nullptr, 0), 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(server), &info, WSTOPPED | WNOWAIT), 0);  // stopped now

  auto results = pool.map_async(square, numbers(0, 5), 1);
  try {
    (void)results.get(60s);
    ADD_FAILURE() << "the map succeeded without workers";
  } catch (const concur::ProcessError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot start a replacement worker"), std::string::npos) << what;
    EXPECT_NE(what.find("the pool is broken"), std::string::npos) << what;
  }
  EXPECT_THROW(pool.apply(square, 1), concur::ProcessError);  // at once: no worker will come
  pollfd dead{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&dead, 1, 0), 1);  // the stopped server was killed
  pool.close();
  pool.join();
  mp::forkserver::set_start_timeout(20s);
  mp::forkserver::ensure_running();  // as the other tests expect
}

TEST(PoolChunksize, TheDefaultIsPythons) {
  EXPECT_EQ(mp::detail::default_chunksize(100'000, 2), 12'500U);
  EXPECT_EQ(mp::detail::default_chunksize(100, 2), 13U);
  EXPECT_EQ(mp::detail::default_chunksize(200, 2), 25U);
  EXPECT_EQ(mp::detail::default_chunksize(0, 2), 1U);
}

// ---- the channel seam: a Pool on a transport of the test's own ----------------------------

namespace {

// Each "worker" is a thread of this process that runs the tasks it is sent with
// run_pool_task: a transport that is neither a socket nor a process, to show that the
// manager, the result types and the exception registry work on any WorkerChannel.
class ThreadChannel final : public mp::detail::WorkerChannel {
 public:
  ThreadChannel()
      : m_ready(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), m_ended_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (m_ready < 0 || m_ended_fd < 0) throw std::runtime_error("eventfd failed");
    m_thread = std::thread([this] { run(); });
  }
  ~ThreadChannel() override {
    kill();
    join();
    ::close(m_ready);
    ::close(m_ended_fd);
  }
  void send(std::uint64_t id, const mp::detail::PoolTask& task) override {
    if (task.chunk.blob) throw std::runtime_error("this test transport carries no shared-memory blocks");
    std::scoped_lock lock(m_mutex);
    m_tasks.push_back({id, task.entry, task.fn, task.chunk.bytes});
    m_cv.notify_one();
  }
  void flush() override {}
  [[nodiscard]] std::size_t backlog() const override { return 0; }
  bool arm() override { return false; }  // every reply signals m_ready
  bool receive(std::vector<mp::detail::WorkerReply>& replies, bool readable) override {
    if (readable) {
      std::uint64_t n;
      while (::read(m_ready, &n, sizeof n) > 0) {
      }
    }
    std::scoped_lock lock(m_mutex);
    for (auto& r : m_replies) replies.push_back(std::move(r));
    m_replies.clear();
    return true;
  }
  [[nodiscard]] int descriptor() const override { return m_closed ? -1 : m_ready; }
  [[nodiscard]] int sentinel() const override { return m_ended_fd; }
  [[nodiscard]] bool alive() override {
    std::scoped_lock lock(m_mutex);
    return !m_ended;
  }
  void close() noexcept override {
    std::scoped_lock lock(m_mutex);
    m_closing = true;
    m_closed = true;
    m_cv.notify_one();
  }
  [[nodiscard]] bool closed() const override { return m_closed; }
  mp::detail::WorkerEnding ended() override {
    join();
    return {"worker thread ended", 0, false};
  }
  void kill() override {
    std::scoped_lock lock(m_mutex);
    m_stop = true;
    m_cv.notify_one();
  }
  void join() override {
    if (m_thread.joinable()) m_thread.join();
  }

 private:
  struct Task {
    std::uint64_t id;
    mp::detail::TaskEntry entry;
    std::uintptr_t fn;
    std::string bytes;
  };
  void run() {
    std::unique_lock lock(m_mutex);
    for (;;) {
      m_cv.wait(lock, [&] { return m_stop || m_closing || !m_tasks.empty(); });
      if (m_stop || m_tasks.empty()) break;
      Task t = std::move(m_tasks.front());
      m_tasks.pop_front();
      lock.unlock();
      mp::Payload chunk;
      chunk.bytes = std::move(t.bytes);
      mp::detail::TaskOutcome out = mp::detail::run_pool_task(t.entry, t.fn, chunk);
      lock.lock();
      m_replies.push_back({t.id, out.failed, 0, std::move(out.result)});
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(m_ready, &one, sizeof one);
    }
    m_ended = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(m_ended_fd, &one, sizeof one);
  }

  const int m_ready;     // eventfd: replies are waiting
  const int m_ended_fd;  // eventfd: the thread ended
  mutable std::mutex m_mutex;  // guards the fields below but m_closed
  std::condition_variable m_cv;
  std::deque<Task> m_tasks;
  std::vector<mp::detail::WorkerReply> m_replies;
  bool m_closing = false;
  bool m_stop = false;
  bool m_ended = false;
  bool m_closed = false;  // the manager's thread only
  std::thread m_thread;
};

class ThreadLauncher final : public mp::detail::WorkerLauncher {
 public:
  explicit ThreadLauncher(std::atomic<int>& launched) : m_launched(launched) {}
  std::unique_ptr<mp::detail::WorkerChannel> launch() override {
    ++m_launched;
    return std::make_unique<ThreadChannel>();
  }

 private:
  std::atomic<int>& m_launched;
};

}  // namespace

TEST(PoolChannel, APoolRunsOnAnyChannelWithTheSameResultsErrorsAndCallbacks) {
  std::atomic<int> launched{0};
  std::atomic<int> called{0};
  {
    mp::Pool pool(std::make_unique<ThreadLauncher>(launched), 3);
    EXPECT_EQ(launched.load(), 3);
    EXPECT_EQ(pool.processes(), 3U);
    const auto squares = pool.map(square, numbers(0, 200), 1);
    ASSERT_EQ(squares.size(), 200U);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(squares[static_cast<std::size_t>(i)], i * i);
    std::multiset<int> unordered;
    for (int v : pool.imap_unordered(square, numbers(0, 50), 4)) unordered.insert(v);
    EXPECT_EQ(unordered.size(), 50U);
    EXPECT_THROW(pool.apply(throw_out_of_range, 3), std::out_of_range);  // the registry
    EXPECT_THROW(pool.apply(throw_unregistered, 1), mp::RemoteError);
    auto r = pool.apply_async(add, std::tuple(2, 3), {.callback = [&](int v) { called += v; }});
    EXPECT_EQ(r.get(30s), 5);
    EXPECT_EQ(called.load(), 5);
    pool.close();
    pool.join();
  }
  EXPECT_EQ(launched.load(), 3);  // nobody died: nobody was replaced
}

TEST(PoolChannel, ALauncherPoolRefusesNoLauncherAndNoWorkers) {
  std::atomic<int> launched{0};
  EXPECT_THROW(mp::Pool(nullptr, 2), concur::ValueError);
  EXPECT_THROW(mp::Pool(std::make_unique<ThreadLauncher>(launched), 0), concur::ValueError);
  EXPECT_EQ(launched.load(), 0);
}

// ---- the reply ring, on its own (white-box: src/multiprocessing/reply_ring.hpp) -------------

namespace {

using mp::detail::Published;
using mp::detail::ReplyRecord;
using mp::detail::ReplyRing;
using mp::detail::ReplyRingReader;

struct Drained {
  std::uint64_t tag;
  std::uint32_t flags;
  std::string payload;
};

std::vector<Drained> drain_all(ReplyRingReader& reader) {
  std::vector<Drained> out;
  reader.drain([&](const ReplyRecord& h, std::string_view payload) { out.push_back({h.tag, h.flags, std::string(payload)}); });
  return out;
}

}  // namespace

TEST(PoolReplyRing, RepliesComeOutWholeAndInOrderLapAfterLap) {
  auto ring = std::make_unique<ReplyRing>();
  ReplyRingReader reader(ring.get());
  std::uint64_t next_tag = 1;
  std::uint64_t expected_tag = 1;
  std::size_t total = 0;
  for (int round = 0; round < 200; ++round) {
    // A few replies of awkward sizes (the end of the ring falls inside some of them).
    for (int k = 0; k < 7; ++k) {
      const std::size_t size = static_cast<std::size_t>((round * 131 + k * 977) % 3000);
      const std::string payload(size, static_cast<char>('a' + (next_tag % 26)));
      ASSERT_NE(mp::detail::publish_reply(*ring, next_tag, 0, 5, payload), Published::no_room);
      ++next_tag;
      total += size;
    }
    for (const Drained& d : drain_all(reader)) {
      EXPECT_EQ(d.tag, expected_tag);
      EXPECT_EQ(d.payload, std::string(d.payload.size(), static_cast<char>('a' + (expected_tag % 26))));
      ++expected_tag;
    }
  }
  EXPECT_EQ(expected_tag, next_tag);
  EXPECT_GT(total, 4 * ReplyRing::capacity);  // it went round several times
}

TEST(PoolReplyRing, AFullRingRefusesUntilTheReaderMakesRoom) {
  auto ring = std::make_unique<ReplyRing>();
  ReplyRingReader reader(ring.get());
  const std::string payload(1000, 'p');
  std::uint64_t tag = 0;
  while (mp::detail::publish_reply(*ring, ++tag, 0, 0, payload) != Published::no_room) {
    ASSERT_LT(tag, 1000U);
  }
  const std::uint64_t published = tag - 1;
  EXPECT_GE(published * mp::detail::reply_record_span(payload.size()), ReplyRing::capacity - 2 * 1024);
  EXPECT_EQ(drain_all(reader).size(), published);
  EXPECT_NE(mp::detail::publish_reply(*ring, tag, 0, 0, payload), Published::no_room);
  // Too large for the ring at all: refused even when it is empty (it goes on the socket).
  (void)drain_all(reader);
  EXPECT_EQ(mp::detail::publish_reply(*ring, 1, 0, 0, std::string(ReplyRing::max_payload + 1, 'x')), Published::no_room);
  EXPECT_NE(mp::detail::publish_reply(*ring, 1, 0, 0, std::string(ReplyRing::max_payload, 'x')), Published::no_room);
}

TEST(PoolReplyRing, TheWriterRingsOnceAndOnlyWhenTheReaderIsAboutToSleep) {
  auto ring = std::make_unique<ReplyRing>();
  ReplyRingReader reader(ring.get());
  EXPECT_EQ(mp::detail::publish_reply(*ring, 1, 0, 0, "a"), Published::quietly);  // reader awake
  EXPECT_TRUE(reader.arm());  // a reply is there: do not sleep
  EXPECT_EQ(drain_all(reader).size(), 1U);
  EXPECT_FALSE(reader.arm());  // nothing there: the reader sleeps, asking to be rung
  EXPECT_EQ(mp::detail::publish_reply(*ring, 2, mp::detail::reply_failed, 0, "b"), Published::ring);
  EXPECT_EQ(mp::detail::publish_reply(*ring, 3, 0, 0, "c"), Published::quietly);  // rung already
  const auto got = drain_all(reader);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].flags, mp::detail::reply_failed);
  EXPECT_EQ(got[1].payload, "c");
  EXPECT_EQ(mp::detail::publish_reply(*ring, 4, 0, 0, "d"), Published::quietly);  // draining woke it
}

TEST(PoolReplyRing, ARecordThatBreaksTheFormatStopsTheReadingForGood) {
  auto ring = std::make_unique<ReplyRing>();
  ReplyRingReader reader(ring.get());
  const ReplyRecord bad{static_cast<std::uint32_t>(ReplyRing::capacity), 0, 9, 0};  // longer than the ring
  std::memcpy(ring->bytes, &bad, sizeof bad);
  ring->head.store(mp::detail::reply_record_span(64), std::memory_order_release);
  EXPECT_TRUE(drain_all(reader).empty());
  EXPECT_FALSE(reader.arm());
  ring->head.store(ReplyRing::capacity * 3, std::memory_order_release);  // a head beyond the ring
  EXPECT_TRUE(drain_all(reader).empty());
}

TEST(PoolFlatWire, NumbersEncodedWithoutAnArchiveAreByteForByteWhatSerializeWrites) {
  const std::vector<int> v{1, 2, 3, -7};
  mp::Payload fast = mp::detail::encode_flat(v.data(), v.size());
  mp::Payload slow = mp::serialize(v);
  EXPECT_EQ(fast.bytes, slow.bytes);
  EXPECT_EQ(mp::deserialize<std::vector<int>>(fast), v);
  const auto elements = mp::detail::flat_elements<int>(slow);
  ASSERT_TRUE(elements.has_value());
  EXPECT_EQ(elements->count, 4U);
  const std::vector<double> d(3, 1.5);
  EXPECT_EQ(mp::detail::encode_flat(d.data(), d.size()).bytes, mp::serialize(d).bytes);
  EXPECT_EQ(mp::detail::encode_flat(v.data(), 0).bytes, mp::serialize(std::vector<int>{}).bytes);
  // Anything else is left to deserialize(): another type, a truncated payload, a large block.
  EXPECT_FALSE(mp::detail::flat_elements<long>(slow).has_value());
  EXPECT_FALSE(mp::detail::flat_elements<int>(mp::serialize(std::string("abcdefgh"))).has_value());
  slow.bytes.pop_back();
  EXPECT_FALSE(mp::detail::flat_elements<int>(slow).has_value());
  EXPECT_THROW((void)mp::deserialize<std::vector<int>>(slow), mp::SerializationError);
  const std::vector<int> big(100'000, 1);
  mp::Payload large = mp::detail::encode_flat(big.data(), big.size());
  EXPECT_TRUE(static_cast<bool>(large.blob));
  EXPECT_FALSE(mp::detail::flat_elements<int>(large).has_value());
  EXPECT_EQ(mp::deserialize<std::vector<int>>(large), big);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoolTest, testing::Values("fork", "forkserver"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });
