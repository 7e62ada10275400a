// SPDX-License-Identifier: MIT
// mpi::Pool under `mpiexec -n 3` (rank 0 runs the tests, ranks 1 and 2 serve tasks), and on a
// single rank (falls back to local processes). Results are compared with the local
// multiprocessing::Pool's on the same inputs.
#include <concur/mpi.hpp>

#include <gtest/gtest.h>

#include "mpi_test_support.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mp = concur::multiprocessing;
namespace mpi = concur::mpi;
using namespace concur_mpi_test;
using namespace std::chrono_literals;

namespace {

bool distributed_job() { return mpi::workers() > 0; }

#define REQUIRE_WORKER_RANKS()                                                  \
  if (!distributed_job()) GTEST_SKIP() << "needs worker ranks (mpiexec -n 3)"

TEST(MpiPool, MapGivesTheLocalPoolsResultsInOrder) {
  REQUIRE_WORKER_RANKS();
  std::vector<int> local;
  {
    mp::Pool pool({.processes = 2, .start_method = "forkserver"});  // no fork of an MPI process
    local = pool.map(square, range(0, 1000));
  }
  mpi::Pool pool;
  EXPECT_TRUE(pool.distributed());
  EXPECT_EQ(pool.processes(), static_cast<std::size_t>(mpi::workers()));
  EXPECT_EQ(pool.map(square, range(0, 1000)), local);
  EXPECT_EQ(pool.map(square, range(0, 1000), 1), local);
  EXPECT_EQ(pool.map(square, range(0, 1000), 333), local);
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
  pool.close();
  pool.join();
}

TEST(MpiPool, ImapKeepsOrderAndImapUnorderedGivesEveryResult) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  std::vector<int> in(200);
  std::iota(in.begin(), in.end(), 0);
  std::vector<int> ordered;
  for (int v : pool.imap(square, in)) ordered.push_back(v);
  std::vector<int> expected;
  for (int x : in) expected.push_back(x * x);
  EXPECT_EQ(ordered, expected);
  std::vector<int> unordered;
  for (int v : pool.imap_unordered(square, in, 7)) unordered.push_back(v);
  std::sort(unordered.begin(), unordered.end());
  EXPECT_EQ(unordered, expected);
  pool.close();
  pool.join();
}

TEST(MpiPool, StarmapApplyAndStringsCrossRanks) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  std::vector<std::pair<int, long>> pairs;
  for (int i = 0; i < 50; ++i) pairs.emplace_back(i, 1000L * i);
  const auto sums = pool.starmap(add, pairs);
  ASSERT_EQ(sums.size(), 50U);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sums[static_cast<std::size_t>(i)], 1001L * i);
  EXPECT_EQ(pool.apply(square, 12), 144);
  auto r = pool.apply_async(shout, "hello");
  EXPECT_EQ(r.get(30s), "hello!");
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  pool.close();
  pool.join();
}

TEST(MpiPool, LargeContiguousPayloadsCrossBothWays) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  // 1 MiB vectors go out (the argument) and come back (the result) as shared-memory blocks.
  const std::vector<int> sizes{131072, 131072, 200000, 10};
  const auto vectors = pool.starmap(ramp, std::vector<std::tuple<int, double>>{{131072, 1.0}, {131072, 2.0}, {200000, 0.5}, {10, 3.0}});
  ASSERT_EQ(vectors.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(vectors[i], ramp(sizes[i], std::vector<double>{1.0, 2.0, 0.5, 3.0}[i]));
  const auto sums = pool.map(sum, vectors, 1);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(sums[i], std::accumulate(vectors[i].begin(), vectors[i].end(), 0.0));
  const std::string big(300000, 'x');
  EXPECT_EQ(pool.apply(shout, big), big + "!");
  pool.close();
  pool.join();
}

TEST(MpiPool, ReusedSharedMemoryCarriesEachBlocksOwnBytes) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  // Blocks of changing sizes, round after round: the files they travel in are reused (and
  // grown) on both sides, and their mappings kept; every block must arrive as it was sent.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::tuple<int, double>> args;
    for (int i = 0; i < 24; ++i) args.emplace_back(20000 + ((i * 7919 + round * 104729) % 5) * 40000, 0.5 + i + round);
    const auto vectors = pool.starmap(ramp, args);
    ASSERT_EQ(vectors.size(), args.size());
    const auto sums = pool.map(sum, vectors, 1);
    for (std::size_t i = 0; i < args.size(); ++i) {
      ASSERT_EQ(vectors[i], ramp(std::get<0>(args[i]), std::get<1>(args[i]))) << "round " << round << ", block " << i;
      EXPECT_DOUBLE_EQ(sums[i], std::accumulate(vectors[i].begin(), vectors[i].end(), 0.0));
    }
  }
  pool.close();
  pool.join();
}

TEST(MpiPool, AFunctionTakingAViewReadsTheBlockWhereItArrived) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  std::vector<std::vector<double>> vectors;
  for (int n : {0, 3, 5000, 131072, 200000}) vectors.push_back(ramp(n, 0.5));
  std::vector<double> expected;
  for (const auto& v : vectors) expected.push_back(std::accumulate(v.begin(), v.end(), 0.0));
  EXPECT_EQ(pool.map(sum_view, vectors, 1), expected);
  EXPECT_EQ(pool.map(sum_view, vectors, 2), expected);
  // On one machine a worker rank opens rank 0's shared memory, and the worker process reads
  // the block there; with CONCUR_MPI_SHARED_FILES=0 (as between machines) the block crosses
  // by MPI into the worker rank's own shared memory.
  const char* shared = std::getenv("CONCUR_MPI_SHARED_FILES");
  const bool by_message = shared != nullptr && std::string(shared) == "0";
  const std::vector<std::vector<std::uint8_t>> blocks(4, std::vector<std::uint8_t>(1 << 20, 7));
  for (const auto& where : pool.map(where_the_view_is, blocks, 1)) {
    EXPECT_NE(where.find(by_message ? "memfd:concur-mpi-block" : "memfd:concur-blob"), std::string::npos) << where;
  }
  pool.close();
  pool.join();
}

TEST(MpiPool, ExceptionsComeBackWithTheirTypes) {
  REQUIRE_WORKER_RANKS();
  mp::register_exception<Registered>();
  mpi::Pool pool;
  try {
    pool.map(fail_on_three, range(0, 10), 1);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "three is not allowed");
  }
  try {
    pool.apply(throw_unregistered, 1);
    FAIL() << "no exception";
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(std::string(e.type_name()).find("Unregistered"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "not known on rank 0");
  }
  EXPECT_THROW(pool.apply(throw_registered, 1), Registered);
  // imap raises at the failed item's position and goes on after it.
  auto it = pool.imap(fail_on_three, range(0, 6));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(it.next(30s), i);
  EXPECT_THROW(it.next(30s), std::invalid_argument);
  EXPECT_EQ(it.next(30s), 4);
  EXPECT_EQ(it.next(30s), 5);
  EXPECT_EQ(it.next(30s), std::nullopt);
  pool.close();
  pool.join();
}

TEST(MpiPool, ASegfaultingOrAbortingTaskFailsOnlyItselfNamingTheRankAndSignal) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  auto crash = pool.apply_async(segfault, 1);
  auto abort = pool.apply_async(abort_task, 2);
  auto fine = pool.map_async(square, range(0, 100), 1);
  try {
    crash.get(60s);
    FAIL() << "no exception";
  } catch (const concur::ProcessError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank "), std::string::npos) << what;
    EXPECT_NE(what.find("SIGSEGV"), std::string::npos) << what;
    EXPECT_NE(what.find("apply #1"), std::string::npos) << what;
  }
  try {
    abort.get(60s);
    FAIL() << "no exception";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("SIGABRT"), std::string::npos) << e.what();
  }
  const auto squares = fine.get(60s);
  ASSERT_EQ(squares.size(), 100U);
  EXPECT_EQ(squares[99], 99 * 99);
  // The ranks go on: every one of them still runs tasks.
  EXPECT_EQ(pool.map(square, range(0, 20), 1).back(), 19 * 19);
  pool.close();
  pool.join();
}

TEST(MpiPool, CallbacksRunOnceInRankZero) {
  REQUIRE_WORKER_RANKS();
  std::atomic<int> total{0};
  std::atomic<int> errors{0};
  std::atomic<std::size_t> mapped{0};
  {
    mpi::Pool pool;
    auto a = pool.apply_async(square, std::tuple(7), {.callback = [&](int v) { total += v; }, .error_callback = [&](std::exception_ptr) { ++errors; }});
    auto b = pool.apply_async(fail_on_three, std::tuple(3), {.callback = [&](int v) { total += v; }, .error_callback = [&](std::exception_ptr) { ++errors; }});
    auto m = pool.map_async(square, range(0, 10), {.callback = [&](const std::vector<int>& v) { mapped = v.size(); }});
    a.wait(30s);
    b.wait(30s);
    m.wait(30s);
    EXPECT_TRUE(a.successful());
    EXPECT_FALSE(b.successful());
    pool.close();
    pool.join();
  }
  EXPECT_EQ(total.load(), 49);
  EXPECT_EQ(errors.load(), 1);
  EXPECT_EQ(mapped.load(), 10U);
}

TEST(MpiPool, TerminateFailsUnfinishedTasksAndFreesTheRanks) {
  REQUIRE_WORKER_RANKS();
  {
    mpi::Pool pool;
    auto slow = pool.map_async(sleep_ms, std::vector<int>(40, 500), 1);
    const auto t0 = std::chrono::steady_clock::now();
    pool.terminate();
    pool.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
    EXPECT_THROW(slow.get(10s), concur::ProcessError);
    EXPECT_THROW(pool.apply_async(square, 1), concur::ValueError);
  }
  // The ranks serve the next pool.
  mpi::Pool again;
  EXPECT_EQ(again.apply(square, 9), 81);
  again.close();
  again.join();
}

TEST(MpiPool, OnePoolAtATimeOwnsTheRanksAndMisuseIsAnError) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  EXPECT_THROW(mpi::Pool{}, concur::ValueError);
  EXPECT_THROW(pool.join(), concur::ValueError);  // still running
  EXPECT_THROW(mpi::Pool({.processes = mpi::workers() + 1}), concur::ValueError);
  pool.close();
  EXPECT_THROW(pool.apply_async(square, 1), concur::ValueError);
  pool.join();
  mpi::Pool one({.processes = 1});
  EXPECT_EQ(one.processes(), 1U);
  EXPECT_EQ(one.map(square, range(0, 10)).back(), 81);
}

TEST(MpiPool, IdleRanksUseAlmostNoCpu) {
  REQUIRE_WORKER_RANKS();
  mpi::Pool pool;
  const int ranks = mpi::workers();
  // One chunk per rank: the queue is dealt one chunk per rank in turn.
  auto before = pool.map(rank_cpu_ticks, range(0, ranks), 1);
  std::set<int> pids;
  for (const auto& [pid, ticks] : before) pids.insert(pid);
  ASSERT_EQ(pids.size(), static_cast<std::size_t>(ranks)) << "each rank should have answered once";
  rusage r0{};
  ::getrusage(RUSAGE_SELF, &r0);
  std::this_thread::sleep_for(2s);  // the measurement window, not a synchronisation
  rusage r1{};
  ::getrusage(RUSAGE_SELF, &r1);
  auto after = pool.map(rank_cpu_ticks, range(0, ranks), 1);
  const long hz = ::sysconf(_SC_CLK_TCK);
  for (std::size_t i = 0; i < after.size(); ++i) {
    ASSERT_EQ(after[i].first, before[i].first);
    const double seconds = static_cast<double>(after[i].second - before[i].second) / static_cast<double>(hz);
    EXPECT_LT(seconds, 0.1) << "rank process " << after[i].first << " used " << seconds << " s of CPU in 2 s idle";
  }
  auto cpu = [](const rusage& r) {
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  EXPECT_LT(cpu(r1) - cpu(r0), 0.1) << "rank 0 used " << cpu(r1) - cpu(r0) << " s of CPU in 2 s idle";
  pool.close();
  pool.join();
}

TEST(MpiPool, FunctionsCrossRanksByIdentityNotAddress) {
  REQUIRE_WORKER_RANKS();
  // Each rank is its own process with its own ASLR layout; the call lands anyway.
  mpi::Pool pool;
  auto pids = pool.map(rank_pid, range(0, mpi::workers()), 1);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), static_cast<std::size_t>(mpi::workers()));
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 41), 42);  // a capture-less lambda
  pool.close();
  pool.join();
}

TEST(MpiPoolFallback, WithoutWorkerRanksTasksRunInLocalProcesses) {
  if (distributed_job()) GTEST_SKIP() << "runs on a single rank (no mpiexec)";
  mpi::Pool pool({.processes = 2});
  EXPECT_FALSE(pool.distributed());
  EXPECT_EQ(pool.processes(), 2U);
  EXPECT_EQ(pool.map(square, range(0, 10)).back(), 81);
  EXPECT_THROW(pool.apply(fail_on_three, 3), std::invalid_argument);
  pool.close();
  pool.join();
}

}  // namespace

int main(int argc, char** argv) {
  if (const int listed = concur_mpi_test::list_tests_without_mpi(argc, argv); listed >= 0) return listed;
  concur::mpi::init(argc, argv);  // ranks >= 1 serve tasks from here and never return
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
