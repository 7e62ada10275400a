// SPDX-License-Identifier: MIT
// async_timeout — giving up on slow work: wait_for and a timeout() block.
//
// A "query" that answers in 0.3 s is awaited with a 1 s limit: it answers. One that takes 5 s
// is awaited with wait_for and a 1 s limit: it is cancelled (it sees CancelledError and cleans
// up) and awaited before TimeoutError reaches the caller. Then a block of two steps runs under
// one 1 s deadline with asyncio::timeout(): the second step does not finish in time.
// `--speed N` divides every delay by N.
//
//   $ async_timeout
//   fast query answered: 42
//   slow query: cancelled after 1.00 s, cleaning up
//   slow query timed out (TimeoutError)
//   block: step 1 done
//   block: timed out during step 2 (expired: yes)
#include <fmt/core.h>

#include <chrono>
#include <string>

#include <concur/asyncio.hpp>

#include "common/speed.hpp"

namespace asyncio = concur::asyncio;
using Seconds = std::chrono::duration<double>;

namespace {

asyncio::Task<int> query(std::string name, Seconds delay, examples::Speed speed) {
  auto& loop = asyncio::get_running_loop();
  const double start = loop.time();
  try {
    co_await asyncio::sleep(speed(delay));
  } catch (const concur::CancelledError&) {
    fmt::print("{}: cancelled after {:.2f} s, cleaning up\n", name, (loop.time() - start) * speed.factor());
    throw;
  }
  co_return 42;
}

asyncio::Task<void> main_task(examples::Speed speed) {
  int v = co_await asyncio::wait_for(query("fast query", Seconds(0.3), speed), speed(Seconds(1.0)));
  fmt::print("fast query answered: {}\n", v);

  try {
    co_await asyncio::wait_for(query("slow query", Seconds(5.0), speed), speed(Seconds(1.0)));
  } catch (const concur::TimeoutError&) {
    fmt::print("slow query timed out (TimeoutError)\n");
  }

  int step = 0;
  bool expired = false;
  try {
    co_await asyncio::timeout(speed(Seconds(1.0)), [&](asyncio::TimeoutScope& cm) -> asyncio::Task<void> {
      step = 1;
      co_await asyncio::sleep(speed(Seconds(0.6)));
      fmt::print("block: step 1 done\n");
      step = 2;
      try {
        co_await asyncio::sleep(speed(Seconds(0.6)));
      } catch (const concur::CancelledError&) {
        expired = cm.expired();
        throw;
      }
      fmt::print("block: step 2 done\n");
    });
  } catch (const concur::TimeoutError&) {
    fmt::print("block: timed out during step {} (expired: {})\n", step, expired ? "yes" : "no");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  asyncio::run(main_task(speed));
  return 0;
}
