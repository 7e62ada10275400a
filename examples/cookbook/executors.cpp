// SPDX-License-Identifier: MIT
// examples/cookbook/executors.cpp — blocking and CPU-bound calls from asyncio without blocking
// the loop: asyncio::to_thread, asyncio::run_in_executor on a thread pool and on a process
// pool, all in one asyncio::TaskGroup; then a group in which one call fails and cancels the
// rest. docs/cookbook/executors.md shows it beside the Python original.
//
//   cookbook_executors
//
// The program checks each result (the prime count, the checksum, that the blocked thread saw
// the loop's heartbeats) and that the failing group raised an ExceptionGroup holding the
// worker's ValueError and cancelled its sibling; it exits with 1 otherwise.
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include <concur/asyncio.hpp>
#include <concur/futures.hpp>
#include <concur/futures/process.hpp>  // ProcessPoolExecutor (it needs the multiprocessing library)
#include <concur/multiprocessing/context.hpp>
#include <concur/threading.hpp>

namespace asyncio = concur::asyncio;
namespace futures = concur::futures;
namespace th = concur::threading;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

/// Blocking: waits until the loop's heartbeat task has ticked three times. Called directly on
/// the loop's thread, it could never return true (the loop would be stuck in it).
bool wait_for_heartbeats(th::Event& beats) { return beats.wait(10s); }

/// CPU-bound, and a plain function: it can run in a worker process.
int count_primes(int limit) {
  if (limit < 2) throw concur::ValueError("count_primes needs a limit of at least 2, got " + std::to_string(limit));
  int count = 0;
  for (int n = 2; n < limit; ++n) {
    bool prime = true;
    for (int d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    count += prime ? 1 : 0;
  }
  return count;
}

/// CPU-bound on data the program already has: a thread avoids copying it to another process.
std::uint64_t checksum(const std::vector<std::uint8_t>& data) {
  std::uint64_t sum = 14695981039346656037ull;  // FNV-1a
  for (const std::uint8_t byte : data) sum = (sum ^ byte) * 1099511628211ull;
  return sum;
}

/// Ticks three times, then lets the blocked thread go.
Task<int> heartbeat(th::Event& beats) {
  int ticks = 0;
  while (ticks < 3) {
    co_await asyncio::sleep(5ms);
    ++ticks;
  }
  beats.set();
  co_return ticks;
}

/// Sleeps 30 s unless cancelled; notes the cancellation (and lets it go on: never swallow one).
Task<void> sleep_long(bool& cancelled) {
  try {
    co_await asyncio::sleep(30s);
  } catch (const concur::CancelledError&) {
    cancelled = true;
    throw;
  }
}

Task<int> main_task() {
  // The process pool's workers are started by the fork server (see main): the loop's default
  // executor and the thread pool below run threads, and forking a process that runs threads is
  // unsafe.
  futures::ProcessPoolExecutor processes({.max_workers = 2, .start_method = "forkserver"});
  futures::ThreadPoolExecutor threads({.max_workers = 4});
  const std::vector<std::uint8_t> data(1 << 20, 7);
  th::Event beats;

  auto [ticks, heard, primes, sum] = co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> Task<std::tuple<
      Task<int>, Task<bool>, Task<int>, Task<std::uint64_t>>> {
    co_return std::tuple(tg.create_task(heartbeat(beats)),
                         tg.create_task(asyncio::to_thread(wait_for_heartbeats, std::ref(beats))),
                         tg.create_task(asyncio::run_in_executor(processes, count_primes, 100'000)),
                         tg.create_task(asyncio::run_in_executor(threads, checksum, std::cref(data))));
  });  // every task of the group is done here
  fmt::print("to_thread: the blocked thread saw the loop's {} heartbeats: {}\n", ticks.result(), heard.result());
  fmt::print("run_in_executor(processes, count_primes, 100000) = {}\n", primes.result());
  fmt::print("run_in_executor(threads, checksum, 1 MiB) = {:#x}\n", sum.result());
  bool ok = heard.result() && primes.result() == 9592 && sum.result() == checksum(data);

  // A failure in a group cancels its other tasks; the group raises an ExceptionGroup.
  bool sibling_cancelled = false;
  try {
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> Task<void> {
      (void)tg.create_task(asyncio::run_in_executor(processes, count_primes, -1));  // ValueError, in a worker
      (void)tg.create_task(sleep_long(sibling_cancelled));
      co_return;
    });
    ok = false;  // not reached: the group raises
  } catch (const concur::ExceptionGroup& group) {
    fmt::print("TaskGroup raised \"{}\":\n", group.what());
    for (const std::exception_ptr& e : group.exceptions()) {
      fmt::print("  {}: {}\n", concur::exception_type_name(e), concur::exception_message(e));
    }
    ok = ok && group.exceptions().size() == 1 &&
         concur::exception_type_name(group.exceptions().front()) == "concur::ValueError";
  }
  fmt::print("the task sleeping 30 s was cancelled: {}\n", sibling_cancelled ? "yes" : "NO");
  ok = ok && sibling_cancelled;
  if (!ok) fmt::print("UNEXPECTED outcome\n");
  co_return ok ? 0 : 1;
}

}  // namespace

int main() {
  try {
    // The fork server first, before any thread exists (the loop's default executor starts
    // threads): it is then a copy of a single-threaded program, and every worker is forked
    // from it.
    concur::multiprocessing::forkserver::ensure_running();
    return asyncio::run(main_task());
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_executors: {}\n", e.what());
    return 1;
  }
}
