// SPDX-License-Identifier: MIT
// examples/cookbook/processes_queue_pipe.cpp — worker processes fed through a Pipe each,
// answering through one shared Queue, one of which crashes: the parent notices the dead worker
// (end-of-file on its Pipe), collects every result of the others, and reports the crash.
// docs/cookbook/processes-queue-pipe.md shows it beside the Python original.
//
//   cookbook_processes_queue_pipe [--start-method fork|forkserver]
//
// The IPC objects are passed to each Process as arguments, as Python does (no global): the
// target takes them by reference and the child gets its own handle of the same object. Each
// worker's Pipe end is handed over with std::move, so the parent keeps no copy of it and its
// recv() fails as soon as the worker is gone: EOFError, or ConnectionResetError when the worker
// died with messages unread in its pipe (as in Python). The program checks every result, that worker 1
// died by SIGABRT and that the others reported their counts; it exits with 1 otherwise.
#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <concur/multiprocessing.hpp>

namespace mp = concur::multiprocessing;
namespace connection = concur::multiprocessing::connection;
using namespace std::chrono_literals;

namespace {

constexpr int kWorkers = 3;
constexpr int kTasks = 5;     // per worker
constexpr int kCrashing = 1;  // this worker aborts on its first task

using Result = std::tuple<int, int, int>;  // worker, task, task * task

/// Runs in a child: takes tasks from `tasks` until -1, puts each result on `results`, then
/// sends back how many it did.
void worker(int id, mp::Connection& tasks, mp::Queue<Result>& results) {
  int done = 0;
  for (;;) {
    const int task = tasks.recv<int>();
    if (task < 0) break;
    if (id == kCrashing) std::abort();  // a crash: no result, no count, no goodbye
    results.put({id, task, task * task});
    ++done;
  }
  tasks.send(done);
}

}  // namespace

int main(int argc, char** argv) {
  std::string start_method = "fork";
  if (argc == 3 && std::string_view(argv[1]) == "--start-method") {
    start_method = argv[2];
  } else if (argc != 1) {
    fmt::print(stderr, "usage: cookbook_processes_queue_pipe [--start-method fork|forkserver]\n");
    return 2;
  }
  try {
    const mp::Context context = mp::get_context(start_method);
    mp::Queue<Result> results;
    std::vector<mp::Process> workers;
    std::vector<mp::Connection> pipes;  // the parent's end of each worker's Pipe
    for (int id = 0; id < kWorkers; ++id) {
      auto [mine, theirs] = mp::Pipe();
      for (int task = 0; task < kTasks; ++task) mine.send(task);  // queued in the pipe until read
      mine.send(-1);
      workers.push_back(context.Process(worker, id, std::move(theirs), results));
      pipes.push_back(std::move(mine));
    }
    for (mp::Process& p : workers) p.start();

    // Each worker either reports its count or dies; its Pipe becomes readable either way.
    int expected_results = 0;
    std::vector<bool> reported(kWorkers, false);
    for (int id = 0; id < kWorkers; ++id) {
      if (connection::wait({pipes[static_cast<std::size_t>(id)]}, 30s).empty()) {
        fmt::print("worker {} neither answered nor died within 30 s\n", id);
        return 1;
      }
      try {
        const int done = pipes[static_cast<std::size_t>(id)].recv<int>();
        fmt::print("worker {}: did {} tasks\n", id, done);
        expected_results += done;
        reported[static_cast<std::size_t>(id)] = true;
      } catch (const concur::EOFError&) {  // its end closed without a word: it died
        fmt::print("worker {}: gone without reporting (end of file on its pipe)\n", id);
      } catch (const concur::ConnectionResetError&) {  // ... leaving tasks unread in its pipe
        fmt::print("worker {}: gone without reporting (its pipe was reset)\n", id);
      }
    }
    for (mp::Process& p : workers) p.join();
    for (int id = 0; id < kWorkers; ++id) {
      fmt::print("worker {}: exit code {}\n", id, workers[static_cast<std::size_t>(id)].exitcode().value_or(999));
    }

    std::vector<Result> got;
    for (int i = 0; i < expected_results; ++i) got.push_back(results.get({.timeout = 10s}));
    bool right = got.size() == static_cast<std::size_t>((kWorkers - 1) * kTasks);
    for (const auto& [id, task, square] : got) right = right && id != kCrashing && square == task * task;
    fmt::print("{} results collected from the surviving workers, all correct: {}\n", got.size(), right ? "yes" : "NO");

    const bool ok = right && !reported[kCrashing] && workers[kCrashing].exitcode() == -SIGABRT &&
                    reported[0] && reported[2] && workers[0].exitcode() == 0 && workers[2].exitcode() == 0;
    if (!ok) fmt::print("UNEXPECTED outcome\n");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_processes_queue_pipe: {}\n", e.what());
    return 1;
  }
}
