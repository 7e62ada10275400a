// SPDX-License-Identifier: MIT
// pool_map — the classic guide's Pool pattern: "Pool.map" over a process pool.
//
// Python:
//     with Pool(4) as pool:
//         print(pool.map(square, range(10)))
//         for r in pool.imap_unordered(slow_square, range(8)): ...
//         print(pool.apply_async(square, (7,)).get(timeout=1))
//
// C++: the same calls on concur::multiprocessing::Pool. The function is a plain function;
// its arguments and results cross the process boundary as serialized values.
//
//   $ pool_map
//   map:            [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
//   starmap:        [3, 7, 11]
//   imap_unordered: 4 (pid 4243) ... in the order workers finish
//   apply_async:    49
//   worker pids:    2 distinct
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <concur/multiprocessing.hpp>

#include <chrono>
#include <set>
#include <utility>
#include <numeric>
#include <vector>

#include "common/speed.hpp"

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
int worker_pid(int) { return static_cast<int>(::getpid()); }

/// Sleeps longer for smaller x, so results arrive out of order.
std::pair<int, int> slow_square(int x, double speed) {
  examples::Speed(speed).sleep(std::chrono::duration<double>(0.1 * (8 - x)));
  return {x * x, static_cast<int>(::getpid())};
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  mp::Pool pool({.processes = 4});

  fmt::print("map:            {}\n", pool.map(square, numbers(0, 10)));
  fmt::print("starmap:        {}\n", pool.starmap(add, std::vector<std::pair<int, int>>{{1, 2}, {3, 4}, {5, 6}}));

  std::vector<std::tuple<int, double>> items;
  for (int i = 0; i < 8; ++i) items.emplace_back(i, speed.factor());
  fmt::print("imap_unordered:");
  for (auto [value, pid] : pool.imap_unordered([](std::tuple<int, double> t) { return slow_square(std::get<0>(t), std::get<1>(t)); }, items)) {
    fmt::print(" {} (pid {})", value, pid);
  }
  fmt::print("\n");

  auto result = pool.apply_async(square, 7);
  fmt::print("apply_async:    {}\n", result.get(10s));

  const auto pids = pool.map(worker_pid, numbers(0, 100), 1);
  fmt::print("worker pids:    {} distinct\n", std::set<int>(pids.begin(), pids.end()).size());
  pool.close();
  pool.join();
  return 0;
}
