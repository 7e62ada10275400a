// SPDX-License-Identifier: MIT
// futures::MPIPoolExecutor under `mpiexec -n 3`: submit, map over several ranges, shutdown,
// and its futures with futures::wait, as_completed and asyncio.
#include <concur/asyncio.hpp>
#include <concur/futures/wait.hpp>
#include <concur/mpi.hpp>

#include <gtest/gtest.h>

#include "mpi_test_support.hpp"

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace futures = concur::futures;
namespace asyncio = concur::asyncio;
namespace mpi = concur::mpi;
using namespace concur_mpi_test;
using namespace std::chrono_literals;

namespace {

#define REQUIRE_WORKER_RANKS() \
  if (mpi::workers() == 0) GTEST_SKIP() << "needs worker ranks (mpiexec -n 3)"

TEST(MPIPoolExecutor, SubmitAndMapOverSeveralRanges) {
  REQUIRE_WORKER_RANKS();
  futures::MPIPoolExecutor ex;
  futures::Future<int> f = ex.submit(square, 7);
  EXPECT_EQ(f.result(30s), 49);
  std::vector<int> xs{1, 2, 3, 4, 5};
  std::vector<long> ys{10, 20, 30};
  std::vector<long> sums;
  for (long v : ex.map(add, xs, ys)) sums.push_back(v);
  EXPECT_EQ(sums, (std::vector<long>{11, 22, 33}));
  std::vector<int> squares;
  for (int v : ex.map(square, xs, 30s, 2)) squares.push_back(v);
  EXPECT_EQ(squares, (std::vector<int>{1, 4, 9, 16, 25}));
  auto bad = ex.submit(fail_on_three, 3);
  EXPECT_THROW(bad.result(30s), std::invalid_argument);
  ex.shutdown();
  EXPECT_THROW(ex.submit(square, 1), concur::RuntimeError);
}

TEST(MPIPoolExecutor, FuturesWorkWithWaitAndAsCompleted) {
  REQUIRE_WORKER_RANKS();
  futures::MPIPoolExecutor ex;
  std::vector<futures::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(square, i));
  auto [done, not_done] = futures::wait(fs, 60s);
  EXPECT_EQ(done.size(), 20U);
  EXPECT_TRUE(not_done.empty());
  std::set<int> seen;
  for (const auto& f : futures::as_completed(fs, 60s)) seen.insert(f.result());
  EXPECT_EQ(seen.size(), 20U);
  EXPECT_TRUE(seen.count(19 * 19));
}

TEST(MPIPoolExecutor, ASegfaultFailsOnlyItsFuture) {
  REQUIRE_WORKER_RANKS();
  futures::MPIPoolExecutor ex;
  auto crash = ex.submit(segfault, 1);
  auto fine = ex.submit(square, 5);
  EXPECT_THROW(crash.result(60s), concur::ProcessError);
  EXPECT_EQ(fine.result(60s), 25);
  EXPECT_EQ(ex.submit(square, 6).result(60s), 36);
}

TEST(MPIPoolExecutor, ShutdownWithCancelFuturesCancelsWhatWasNotSent) {
  REQUIRE_WORKER_RANKS();
  futures::MPIPoolExecutor ex({.max_workers = 1});
  std::vector<futures::Future<int>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(ex.submit(sleep_ms, 20));
  ex.shutdown(true, true);
  std::size_t cancelled = 0;
  for (auto& f : fs) {
    EXPECT_TRUE(f.done());
    if (f.cancelled()) {
      ++cancelled;
    } else {
      EXPECT_EQ(f.result(), 20);
    }
  }
  EXPECT_GT(cancelled, 0U);  // a rank is sent about 2 ms of work ahead, not 4 s of it
  EXPECT_THROW(futures::MPIPoolExecutor({.max_workers = 0}), concur::ValueError);
}

asyncio::Task<int> await_on_loop(futures::MPIPoolExecutor& ex) {
  const int a = co_await asyncio::wrap_future(ex.submit(square, 8));
  const int b = co_await asyncio::run_in_executor(ex, square, 3);
  co_return a + b;
}

TEST(MPIPoolExecutor, FuturesAreAwaitableFromAsyncio) {
  REQUIRE_WORKER_RANKS();
  futures::MPIPoolExecutor ex;
  EXPECT_EQ(asyncio::run(await_on_loop(ex)), 73);
}

}  // namespace

int main(int argc, char** argv) {
  if (const int listed = concur_mpi_test::list_tests_without_mpi(argc, argv); listed >= 0) return listed;
  concur::mpi::init(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
