// SPDX-License-Identifier: MIT
// A small MPI program that check_job.py starts under mpiexec to test what a test inside one
// job cannot: a rank killed from outside, ranks running different builds, a clean exit that
// leaves no process behind. Built twice, the second time with CONCUR_MPI_TEST_OTHER_BUILD
// (another build of the same program: its build fingerprint differs).
//
//   mpi_job ok     map on every rank, print the sum, exit 0
//   mpi_job slow   print "ready" once the ranks run tasks, then run long tasks (about 60 s
//                  in all; the test kills a rank long before)
#include <concur/mpi.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <ranges>
#include <thread>
#include <vector>

namespace {

#ifdef CONCUR_MPI_TEST_OTHER_BUILD
const char* const build_name = "other build";
#else
const char* const build_name = "main build";
#endif

long square(int x) { return static_cast<long>(x) * x; }
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  concur::mpi::init(argc, argv);
  const char* mode = argc > 1 ? argv[1] : "ok";
  concur::mpi::Pool pool;
  if (std::strcmp(mode, "slow") == 0) {
    pool.apply(nap, 1);
    std::printf("ready (%s)\n", build_name);
    std::fflush(stdout);
    auto naps = pool.map(nap, std::vector<int>(600, 200), 1);
    std::printf("done: %d\n", std::accumulate(naps.begin(), naps.end(), 0));
    return 0;
  }
  std::vector<int> inputs(1000);
  std::iota(inputs.begin(), inputs.end(), 0);  // not std::views::iota: clang 14 cannot compile it
  const auto squares = pool.map(square, inputs);
  std::printf("sum %ld (%s)\n", std::accumulate(squares.begin(), squares.end(), 0L), build_name);
  return 0;
}
