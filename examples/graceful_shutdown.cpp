// SPDX-License-Identifier: MIT
// graceful_shutdown — the classic guide's Event: "a flag signal" that tells every worker to stop.
//
// Three workers process jobs in a loop. Between jobs they do not sleep: they wait on the stop
// Event with a timeout, so the moment the Event is set every worker wakes up, finishes, and
// returns; main() joins them and reports how long the shutdown took (milliseconds, not the
// length of a pause between jobs).
//
// Ctrl-C (SIGINT) or SIGTERM sets the Event. A signal handler may not touch a lock, a condition
// variable or an Event (none of them is async-signal-safe), so the program does it the safe
// way: it blocks both signals in every thread (the mask is inherited by threads started after
// it is set) and main() waits for them with sigwait(), as ordinary code, then sets the Event.
//
// `--run-for SECONDS` makes the program end by itself, for the tour and the smoke test: a
// Timer sends SIGINT to the process after SECONDS (divided by --speed, like every delay), so
// the shutdown takes exactly the path a real Ctrl-C takes. Without it, the program runs until
// Ctrl-C. `--speed N` divides every delay by N.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <concur/threading.hpp>

#include "common/speed.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr int kWorkers = 3;

void worker(th::Event& stop, Seconds pause, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  int jobs = 0;
  // Python: while not stop.is_set(): ...; stop.wait(pause)
  while (!stop.is_set()) {
    ++jobs;
    fmt::print("{}: processed job {}: {}\n", name, jobs, examples::ctime_now());
    stop.wait(speed(pause));  // returns at once when the Event is set
  }
  fmt::print("{}: stop event seen after {} job{}; cleaning up and exiting: {}\n", name, jobs, jobs == 1 ? "" : "s",
             examples::ctime_now());
}

}  // namespace

int main(int argc, char** argv) {
  double run_for = -1.0;  // seconds until the self-sent SIGINT; negative: wait for a real one
  const examples::Speed speed = examples::parse_speed(
      argc, argv,
      {{"--run-for", "SECONDS", "send ourselves SIGINT after SECONDS (divided by --speed); default: wait for Ctrl-C",
        &run_for}});

  // Before any thread starts, so that every thread inherits the mask and the signals stay
  // pending until main() takes them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (const int err = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); err != 0) {
    fmt::print(stderr, "pthread_sigmask failed: error {}\n", err);
    return EXIT_FAILURE;
  }

  th::Event stop;
  std::vector<th::Thread> workers;
  for (int n = 1; n <= kWorkers; ++n) {
    const Seconds pause = Seconds(0.5s) * n;  // 0.5 s, 1 s, 1.5 s between jobs
    workers.emplace_back(th::ThreadOptions{.name = fmt::format("Worker-{}", n)}, worker, std::ref(stop), pause, speed);
  }
  std::optional<th::Timer> alarm;
  if (run_for >= 0.0) {
    alarm.emplace(speed(Seconds(run_for)), [] { ::kill(::getpid(), SIGINT); });
    fmt::print("MainThread: running for {:.2f} s, then sending ourselves SIGINT (as Ctrl-C would)\n",
               speed(Seconds(run_for)).count());
  } else {
    fmt::print("MainThread: running; press Ctrl-C to stop\n");
  }
  for (th::Thread& w : workers) w.start();
  if (alarm) alarm->start();

  int signal_number = 0;
  const int wait_error = sigwait(&stop_signals, &signal_number);
  const auto asked = std::chrono::steady_clock::now();
  if (wait_error != 0) {
    fmt::print(stderr, "sigwait failed (error {}); stopping the workers anyway\n", wait_error);
  } else {
    fmt::print("MainThread: received {}; setting the stop event: {}\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
               examples::ctime_now());
  }
  stop.set();
  for (th::Thread& w : workers) w.join();
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - asked;
  if (alarm) {
    alarm->cancel();  // a real Ctrl-C may have come first
    alarm->join();
  }
  if (wait_error != 0) return EXIT_FAILURE;
  fmt::print("MainThread: all {} workers stopped {:.1f} ms after the signal\n", kWorkers, took.count());
  fmt::print("Exiting Main Thread\n");
  return EXIT_SUCCESS;
}
