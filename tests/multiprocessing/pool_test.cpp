// pool.hpp: Pool — apply/map/imap/starmap and their async forms, chunking, exceptions,
// initializer, maxtasksperchild, close/terminate/join, and every way a worker can die.
#include <concur/multiprocessing/pool.hpp>

#include <concur/multiprocessing/context.hpp>

#include <gtest/gtest.h>

#include "mp_test_environment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mp = concur::multiprocessing;
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

class PoolTest : public testing::TestWithParam<std::string> {
 protected:
  mp::PoolOptions options(std::size_t processes = 2) const {
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
  EXPECT_THROW(pool.starmap(crash_on_five, items, 1), concur::ProcessError);
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

TEST(PoolChunksize, TheDefaultIsPythons) {
  EXPECT_EQ(mp::detail::default_chunksize(100'000, 2), 12'500U);
  EXPECT_EQ(mp::detail::default_chunksize(100, 2), 13U);
  EXPECT_EQ(mp::detail::default_chunksize(200, 2), 25U);
  EXPECT_EQ(mp::detail::default_chunksize(0, 2), 1U);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoolTest, testing::Values("fork", "forkserver"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });
