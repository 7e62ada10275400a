// SPDX-License-Identifier: MIT
// taskgroup_failure — structured concurrency: one failing task cancels its siblings.
//
// Three downloads run in a TaskGroup. "mirror-2" fails after 0.5 s; the group then cancels the
// two others (each notices the CancelledError at its current co_await and cleans up), waits for
// them, and raises an ExceptionGroup holding the failure. Nothing is left running.
// `--speed N` divides every delay by N.
//
//   $ taskgroup_failure
//   mirror-1: downloading (2.0 s)
//   mirror-2: downloading (0.5 s)
//   mirror-3: downloading (3.0 s)
//   mirror-2: failed
//   mirror-1: cancelled, cleaning up
//   mirror-3: cancelled, cleaning up
//   TaskGroup failed with 1 error(s): std::runtime_error: mirror-2: connection reset
#include <fmt/core.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include <concur/asyncio.hpp>

#include "common/speed.hpp"

namespace asyncio = concur::asyncio;
using Seconds = std::chrono::duration<double>;

namespace {

asyncio::Task<std::string> download(std::string name, Seconds delay, bool fails, examples::Speed speed) {
  fmt::print("{}: downloading ({:.1f} s)\n", name, delay.count());
  try {
    co_await asyncio::sleep(speed(delay));
  } catch (const concur::CancelledError&) {  // not a std::exception: catch it by name
    fmt::print("{}: cancelled, cleaning up\n", name);
    throw;  // let the cancellation go on
  }
  if (fails) {
    fmt::print("{}: failed\n", name);
    throw std::runtime_error(name + ": connection reset");
  }
  fmt::print("{}: done\n", name);
  co_return name;
}

asyncio::Task<int> main_task(examples::Speed speed) {
  try {
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
      (void)tg.create_task(download("mirror-1", Seconds(2.0), false, speed));
      (void)tg.create_task(download("mirror-2", Seconds(0.5), true, speed));
      (void)tg.create_task(download("mirror-3", Seconds(3.0), false, speed));
      co_return;
    });
  } catch (const concur::ExceptionGroup& group) {
    fmt::print("TaskGroup failed with {} error(s):", group.exceptions().size());
    for (const auto& e : group.exceptions()) {
      fmt::print(" {}: {}", concur::exception_type_name(e), concur::exception_message(e));
    }
    fmt::print("\n");
    co_return 0;
  }
  fmt::print("unexpected: the group did not fail\n");
  co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  return asyncio::run(main_task(speed));
}
