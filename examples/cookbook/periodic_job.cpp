// SPDX-License-Identifier: MIT
// examples/cookbook/periodic_job.cpp — a job that runs every N milliseconds until it is told
// to stop, twice: in a thread (threading::Event::wait(timeout) as the sleep that a stop request
// interrupts) and in an asyncio task (asyncio::sleep, stopped with Task::cancel()). Both keep
// to a fixed schedule (start + k * interval), so a slow run does not push the next ones back.
// docs/cookbook/periodic-job.md shows it beside the Python original.
//
//   cookbook_periodic_job [--interval-ms MS] [--runs N]
//
// Each version is stopped after its job ran N times; the program checks that each ran at least
// N times and then stopped (the thread was joined, the task ended cancelled); it exits with 1
// otherwise.
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <string_view>

#include <concur/asyncio.hpp>
#include <concur/threading.hpp>

#include "common/args.hpp"

namespace asyncio = concur::asyncio;
namespace th = concur::threading;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// ---- in a thread ------------------------------------------------------------------------------

struct Job {
  explicit Job(int wanted_runs) : wanted(wanted_runs) {}

  int wanted;
  std::atomic<int> runs{0};
  th::Event enough;  // set when the job has run `wanted` times

  void operator()() {
    if (++runs == wanted) enough.set();
  }
};

/// Runs job() every `interval` until `stop` is set. stop.wait(timeout) is the sleep: it returns
/// true at once when stop() is called, false when the time is up.
void every(std::chrono::milliseconds interval, Job& job, th::Event& stop) {
  auto next = Clock::now() + interval;
  while (!stop.wait(next - Clock::now())) {  // a negative timeout (a late run) does not wait
    job();
    next += interval;
  }
}

bool in_a_thread(std::chrono::milliseconds interval, int runs) {
  Job job(runs);
  th::Event stop;
  th::Thread worker({.name = "periodic"}, every, interval, std::ref(job), std::ref(stop));
  worker.start();
  const bool enough = job.enough.wait(30s);
  stop.set();      // the worker's wait returns true at once
  worker.join();
  fmt::print("thread: the job ran {} times, then the thread stopped ({})\n", job.runs.load(),
             worker.is_alive() ? "STILL ALIVE" : "joined");
  return enough && job.runs >= runs && !worker.is_alive();
}

// ---- in an asyncio task -----------------------------------------------------------------------

asyncio::Task<void> every_async(std::chrono::milliseconds interval, int& runs, int wanted, asyncio::Event& enough) {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  const double period = std::chrono::duration<double>(interval).count();
  double next = loop.time() + period;
  for (;;) {
    co_await asyncio::sleep(std::chrono::duration<double>(next - loop.time()));  // <= 0: just yields
    if (++runs == wanted) enough.set();
    next += period;
  }
}

/// Event::wait() returns an awaiter, not a coroutine; wait_for() takes a coroutine (or a task).
asyncio::Task<void> wait_event(asyncio::Event& event) { co_await event.wait(); }

asyncio::Task<bool> in_a_task(std::chrono::milliseconds interval, int wanted) {
  int runs = 0;
  asyncio::Event enough;
  asyncio::Task<void> job = asyncio::create_task(every_async(interval, runs, wanted, enough));
  co_await asyncio::wait_for(wait_event(enough), 30s);
  job.cancel();
  bool cancelled = false;
  try {
    co_await job;
  } catch (const concur::CancelledError&) {
    cancelled = true;  // the task ended at its sleep, as asked
  }
  fmt::print("task: the job ran {} times, then the task was cancelled ({})\n", runs, cancelled ? "yes" : "NO");
  co_return cancelled && runs >= wanted;
}

}  // namespace

int main(int argc, char** argv) {
  int interval_ms = 20;
  int runs = 5;
  for (int i = 1; i < argc; i += 2) {  // option, value
    const std::string_view arg = argv[i];
    // The option's value, or 0 when it is missing or not a number from 1 to 100000.
    const int value = i + 1 < argc ? examples::parse_integer<int>(argv[i + 1], 1, 100000).value_or(0) : 0;
    if (arg == "--interval-ms" && value > 0) {
      interval_ms = value;
    } else if (arg == "--runs" && value > 0) {
      runs = value;
    } else {
      fmt::print(stderr, "usage: cookbook_periodic_job [--interval-ms MS] [--runs N]\n");
      return 2;
    }
  }
  try {
    const auto interval = std::chrono::milliseconds(interval_ms);
    const bool threaded = in_a_thread(interval, runs);
    const bool tasked = asyncio::run(in_a_task(interval, runs));
    if (!threaded || !tasked) fmt::print("UNEXPECTED outcome\n");
    return threaded && tasked ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_periodic_job: {}\n", e.what());
    return 1;
  }
}
