// SPDX-License-Identifier: MIT
// crash_recovery — a task that crashes its worker; the pool carries on.
//
// Python's Pool hangs forever when a worker dies in the middle of a task (cpython issue
// 96062): the task's result never arrives. concur's Pool knows which task each worker held:
// the crashed task fails with ProcessError naming the worker's pid, the signal and the task,
// the worker is replaced, and every other task completes.
//
//   $ crash_recovery
//   task 0: 0
//   ...
//   task 5: ProcessError: worker process 4244 was killed by signal 11 (SIGSEGV) while running task 6 (apply #6)
//   ...
//   afterwards the pool still works: [0, 1, 4, 9, 16]
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <concur/multiprocessing.hpp>

#include <csignal>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "common/speed.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

namespace {

/// Task 5 dereferences a null pointer (a real segfault), task 8 aborts, task 11 is
/// SIGKILLed; the others return x * x.
int risky(int x) {
  if (x == 5) {
    volatile int* nowhere = nullptr;
    return *nowhere;
  }
  if (x == 8) std::abort();
  if (x == 11) std::raise(SIGKILL);
  return x * x;
}
int square(int x) { return x * x; }

/// 0, 1, ..., last - 1 as a vector (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<int> numbers(int first, int last) {
  std::vector<int> v(static_cast<std::size_t>(last - first));
  std::iota(v.begin(), v.end(), first);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  (void)examples::parse_speed(argc, argv);  // nothing here waits; accepted for uniformity
  mp::Pool pool({.processes = 2});
  std::vector<mp::AsyncResult<int>> results;
  for (int i = 0; i < 14; ++i) results.push_back(pool.apply_async(risky, i));
  int failed = 0;
  for (int i = 0; i < 14; ++i) {
    try {
      fmt::print("task {}: {}\n", i, results[i].get(30s));
    } catch (const concur::ProcessError& e) {
      fmt::print("task {}: ProcessError: {}\n", i, e.what());
      ++failed;
    }
  }
  const auto after = pool.map(square, numbers(0, 5));
  fmt::print("afterwards the pool still works: {}\n", after);
  return failed == 3 ? 0 : 1;
}
