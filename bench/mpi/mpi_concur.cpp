// SPDX-License-Identifier: MIT
// bench/mpi/mpi_concur.cpp — concur's side of bench/mpi, run as `mpiexec -n 3 bench_mpi`.
//
// Prints `name value` lines (medians over repetitions inside this run):
//   startup_ms              from BENCH_T0 (seconds since the epoch, set by run.sh just before
//                           it started mpiexec) to the first result of a trivial task on rank 0
//   chunk1_tasks_per_s      map(square, 20,000 ints, chunksize 1)
//   chunkbig_tasks_per_s    map(square, 1,000,000 ints, chunksize 10,000)
//   payload_mib_per_s       map over 64 vectors of 1 MiB (bytes), chunksize 1: MiB of
//                           arguments per second (each task touches two bytes and the size)
//   payload_view_mib_per_s  the same with a function that takes a std::span (a view of the
//                           bytes where they arrived) instead of a std::vector (a copy)
// then the same three throughputs with concur's local multiprocessing::Pool of as many
// processes as there are worker ranks (local_*), the ceiling on one machine.
#include <concur/mpi.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ranges>
#include <span>
#include <vector>

namespace mp = concur::multiprocessing;
using Clock = std::chrono::steady_clock;

namespace {

long square(long x) { return x * x; }
std::uint64_t touch(const std::vector<std::uint8_t>& v) { return v.front() + v.back() + v.size(); }
std::uint64_t touch_view(std::span<const std::uint8_t> v) { return v.front() + v.back() + v.size(); }

/// 0, ..., n - 1 (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<long> numbers(long n) {
  std::vector<long> v(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Pool>
void measure(Pool& pool, const char* prefix, int reps) {
  std::vector<double> c1, cb, mib, view;
  const std::vector<std::vector<std::uint8_t>> payloads(64, std::vector<std::uint8_t>(1 << 20, 7));
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    auto a = pool.map(square, numbers(20000), 1);
    c1.push_back(20000 / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    auto b = pool.map(square, numbers(1000000), 10000);
    cb.push_back(1e6 / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    auto c = pool.map(touch, payloads, 1);
    mib.push_back(64 / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    auto d = pool.map(touch_view, payloads, 1);
    view.push_back(64 / std::chrono::duration<double>(Clock::now() - t0).count());
    if (a.back() != 19999L * 19999L || b.back() != 999999L * 999999L || c.front() != 14 + (1 << 20) || d != c) std::abort();
  }
  fmt::print("{}chunk1_tasks_per_s {:.1f}\n{}chunkbig_tasks_per_s {:.1f}\n{}payload_mib_per_s {:.1f}\n{}payload_view_mib_per_s {:.1f}\n",
             prefix, median(c1), prefix, median(cb), prefix, median(mib), prefix, median(view));
}

}  // namespace

int main(int argc, char** argv) {
  concur::mpi::init(argc, argv);
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  {
    concur::mpi::Pool pool;
    (void)pool.apply(square, 3L);
    const char* t0 = std::getenv("BENCH_T0");
    if (t0 != nullptr) {
      const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      fmt::print("startup_ms {:.1f}\n", (now - std::atof(t0)) * 1e3);
    }
    measure(pool, "", reps);
    pool.close();
    pool.join();
  }
  // Forked by the fork server mpi::init() started, not by this process (which is in MPI now).
  mp::Pool local({.processes = std::max(1, concur::mpi::workers()), .start_method = "forkserver"});
  measure(local, "local_", reps);
  return 0;
}
