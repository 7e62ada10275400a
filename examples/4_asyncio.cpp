// SPDX-License-Identifier: MIT
// 4_asyncio — the classic guide's fourth program (4_asyncio.py): coroutines run concurrently by gather.
//
// Three tasks share one thread and one event loop: Task-A sleeps 1.0 s five times, Task-B
// 2.0 s five times, Task-C 1.5 s four times, each printing its name and a timestamp after every
// sleep. While one task sleeps the loop runs the others, so the whole program takes about 10 s
// (the longest task) instead of 21 s (the sum). `--speed N` divides every delay by N.
//
//   $ 4_asyncio
//   Task-A: Tue Nov 24 02:09:03.001 2026
//   Task-C: Tue Nov 24 02:09:03.501 2026
//   Task-B: Tue Nov 24 02:09:04.001 2026
//   ...
//   Total time: 10.00 seconds (the longest task: 10.00 s; one after another: 21.00 s)
#include <fmt/core.h>

#include <chrono>
#include <string>

#include <concur/asyncio.hpp>

#include "common/speed.hpp"

namespace asyncio = concur::asyncio;
using Seconds = std::chrono::duration<double>;

namespace {

/// Prints `name` and the time `count` times, sleeping `delay` (divided by the speed) before each.
asyncio::Task<void> print_time(std::string name, Seconds delay, int count, examples::Speed speed) {
  for (int i = 0; i < count; ++i) {
    co_await asyncio::sleep(speed(delay));
    fmt::print("{}: {}\n", name, examples::ctime_now());
    std::fflush(stdout);
  }
}

asyncio::Task<void> main_task(examples::Speed speed) {
  auto& loop = asyncio::get_running_loop();
  const double start = loop.time();
  co_await asyncio::gather(print_time("Task-A", Seconds(1.0), 5, speed),   //  5 s
                           print_time("Task-B", Seconds(2.0), 5, speed),   // 10 s
                           print_time("Task-C", Seconds(1.5), 4, speed));  //  6 s
  fmt::print("Total time: {:.2f} seconds (the longest task: {:.2f} s; one after another: {:.2f} s)\n",
             loop.time() - start, speed(Seconds(10.0)).count(), speed(Seconds(21.0)).count());
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  asyncio::run(main_task(speed));
  return 0;
}
