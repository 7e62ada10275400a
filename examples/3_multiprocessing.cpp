// SPDX-License-Identifier: MIT
// 3_multiprocessing — the classic guide's third program (3_multiprocessing.py): two processes.
//
// Two processes run at the same time, each printing its name and a timestamp after every
// delay: Process-1 every 1 s, Process-2 every 2 s, five times each. They are separate
// processes, so they can run on two cores at once — and they have separate memory: each
// child increments the global `counter`, and neither sees the other's increments, nor does
// the parent see either.
//
// The C++ counterpart of Python's `if __name__ == "__main__":` guard (see
// docs/multiprocessing.md): a child runs only the target function — concur forks, it does
// not re-run main — so no guard is needed; what must hold is that the target is a plain
// function and its arguments are values that can be serialized.
//
//   $ 3_multiprocessing
//   Starting Process-1 (pid 4242)
//   Starting Process-2 (pid 4243)
//   Process-1: Tue Nov 24 02:09:03.001 2026 (counter = 1)
//   Process-2: Tue Nov 24 02:09:04.001 2026 (counter = 1)
//   ...
//   Main process: counter = 0 (each child changed only its own copy)
//   Exiting Main Process
#include <fmt/core.h>

#include <concur/multiprocessing.hpp>

#include <chrono>
#include <string>

#include "common/speed.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

namespace {

int counter = 0;  // every process has its own copy

/// Runs in a child: prints its name and the time `count` times, `delay_s` seconds apart.
void print_time(std::string process_name, double delay_s, int count, double speed) {
  const examples::Speed pace(speed);
  while (count > 0) {
    pace.sleep(std::chrono::duration<double>(delay_s));
    ++counter;
    fmt::print("{}: {} (counter = {})\n", process_name, examples::ctime_now(), counter);
    std::fflush(stdout);
    --count;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);

  mp::Process p1({.name = "Process-1"}, print_time, "Process-1", 1.0, 5, speed.factor());
  mp::Process p2({.name = "Process-2"}, print_time, "Process-2", 2.0, 5, speed.factor());
  p1.start();
  fmt::print("Starting {} (pid {})\n", p1.name(), p1.pid().value_or(-1));
  p2.start();
  fmt::print("Starting {} (pid {})\n", p2.name(), p2.pid().value_or(-1));
  std::fflush(stdout);
  p1.join();
  p2.join();

  fmt::print("Main process: counter = {} (each child changed only its own copy)\n", counter);
  fmt::print("Exit codes: {} {}\n", p1.exitcode().value_or(-1), p2.exitcode().value_or(-1));
  fmt::print("Exiting Main Process\n");
  return p1.exitcode() == 0 && p2.exitcode() == 0 && counter == 0 ? 0 : 1;
}
