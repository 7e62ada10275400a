// SPDX-License-Identifier: MIT
// bench/multiprocessing/mp_concur.cpp — concur's side (and the raw fork + waitpid floor).
//
// Prints one `name value` line per figure (medians over repetitions inside this run):
//   raw_fork_ms              fork() + _exit(0) in the child + waitpid(), per process
//   process_fork_ms          Process(fn).start() + join() with the "fork" start method
//   process_forkserver_ms    the same with "forkserver"
//   map_default_tasks_per_s  Pool(2).map(square, 100,000 ints), default chunksize
//   map_chunk1_tasks_per_s   the same with chunksize 1
//   payload_mib_per_s        Pool(2).map(checksum, 200 x 1 MiB), MiB sent per second
//   cpu_speedup              serial time / Pool(2).map time of 8 CPU-bound tasks
//   raw_cpu_speedup          serial time / time of two fork()ed children running 4 of them each:
//                            what the machine's two CPUs give at best right now (the ceiling)
#include <fmt/core.h>

#include <concur/multiprocessing.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <numeric>
#include <vector>

#include "workload.hpp"

namespace mp = concur::multiprocessing;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double seconds(const std::function<void()>& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void nothing() {}

/// 0, 1, ..., last - 1 as a vector (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<int> numbers(int first, int last) {
  std::vector<int> v(static_cast<std::size_t>(last - first));
  std::iota(v.begin(), v.end(), first);
  return v;
}
std::uint64_t checksum(std::vector<unsigned char> data) { return bench::payload_checksum(data); }

}  // namespace

int main(int argc, char** argv) {
  const int starts = argc > 1 ? std::atoi(argv[1]) : 200;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  mp::forkserver::ensure_running();  // at the top of main, as recommended

  std::vector<double> raw;
  std::vector<double> pfork;
  std::vector<double> pserver;
  for (int i = 0; i < starts; ++i) {
    raw.push_back(seconds([] {
      const pid_t pid = ::fork();
      if (pid == 0) ::_exit(0);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }));
    pfork.push_back(seconds([] {
      mp::Process p(mp::ProcessOptions{.start_method = "fork"}, nothing);
      p.start();
      p.join();
    }));
    pserver.push_back(seconds([] {
      mp::Process p(mp::ProcessOptions{.start_method = "forkserver"}, nothing);
      p.start();
      p.join();
    }));
  }
  fmt::print("raw_fork_ms {:.4f}\n", median(raw) * 1e3);
  fmt::print("process_fork_ms {:.4f}\n", median(pfork) * 1e3);
  fmt::print("process_forkserver_ms {:.4f}\n", median(pserver) * 1e3);

  mp::Pool pool({.processes = 2});
  const auto ints = numbers(0, 100'000);
  (void)pool.map(bench::square, ints);  // warm-up
  std::vector<double> t_default;
  std::vector<double> t_chunk1;
  for (int r = 0; r < reps; ++r) {
    t_default.push_back(seconds([&] { (void)pool.map(bench::square, ints); }));
    t_chunk1.push_back(seconds([&] { (void)pool.map(bench::square, ints, 1); }));
  }
  fmt::print("map_default_tasks_per_s {:.0f}\n", 100'000 / median(t_default));
  fmt::print("map_chunk1_tasks_per_s {:.0f}\n", 100'000 / median(t_chunk1));

  std::vector<std::vector<unsigned char>> payloads(200, std::vector<unsigned char>(1 << 20));
  for (std::size_t i = 0; i < payloads.size(); ++i) std::fill(payloads[i].begin(), payloads[i].end(), static_cast<unsigned char>(i));
  std::vector<double> t_payload;
  for (int r = 0; r < reps; ++r) t_payload.push_back(seconds([&] { (void)pool.map(checksum, payloads); }));
  fmt::print("payload_mib_per_s {:.1f}\n", 200 / median(t_payload));

  const std::uint64_t n = 20'000'000;
  std::vector<std::uint64_t> work(8, n);
  std::vector<double> t_serial;
  std::vector<double> t_parallel;
  std::vector<double> t_raw;
  for (int r = 0; r < std::max(1, reps / 2); ++r) {
    t_serial.push_back(seconds([&] {
      volatile std::uint64_t sink = 0;
      for (auto w : work) sink = sink + bench::cpu_task(w);
    }));
    t_parallel.push_back(seconds([&] { (void)pool.map(bench::cpu_task, work, 1); }));
    t_raw.push_back(seconds([&] {
      pid_t children[2];
      for (auto& child : children) {
        child = ::fork();
        if (child < 0) std::abort();
        if (child == 0) {
          volatile std::uint64_t sink = 0;
          for (std::size_t i = 0; i < work.size() / 2; ++i) sink = sink + bench::cpu_task(work[i]);
          ::_exit(0);
        }
      }
      for (auto child : children) ::waitpid(child, nullptr, 0);
    }));
  }
  fmt::print("cpu_speedup {:.3f}\n", median(t_serial) / median(t_parallel));
  fmt::print("raw_cpu_speedup {:.3f}\n", median(t_serial) / median(t_raw));
  return 0;
}
