// SPDX-License-Identifier: MIT
// bench_asyncio — concur::asyncio's side of bench/asyncio: one scenario per run, one JSON line
// on stdout. The Python peer (peer.py) runs the same scenarios with asyncio and uvloop;
// run.sh runs everything side by side and compare.py prints the table of ratios.
//
//   bench_asyncio create_gather N     create N trivial tasks, gather them          -> tasks/s
//   bench_asyncio sleep N SECONDS     N tasks sleep SECONDS concurrently            -> total s, bytes/task
//   bench_asyncio queue N             N items through Queue(maxsize=1), 2 tasks     -> items/s
//   bench_asyncio threadsafe N        call_soon_threadsafe wake-up latency, N times -> median µs
//   bench_asyncio lateness N          N sleeps of 1-20 ms, one after another         -> lateness ms
//   bench_asyncio periodic N MS       a job sleeping MS ms N times                   -> drift ms
//   bench_asyncio idle_cpu SECONDS    an idle loop with one 50 ms periodic timer     -> CPU % of a core
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <semaphore>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <concur/asyncio.hpp>

namespace asyncio = concur::asyncio;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Resident memory of this process in bytes (VmRSS).
long long rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long long kib = 0;
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

asyncio::Task<int> trivial(int i) { co_return i; }

asyncio::Task<double> create_gather(int n) {
  const auto t0 = Clock::now();
  std::vector<asyncio::Task<int>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(trivial(i)));
  std::vector<int> values = co_await asyncio::gather(std::move(tasks));
  const double took = seconds_since(t0);
  if (values.size() != static_cast<std::size_t>(n) || values.back() != n - 1) std::abort();
  co_return n / took;
}

struct SleepShared {
  int remaining = 0;
  asyncio::Event all_done;
};

asyncio::Task<void> sleeper(SleepShared& shared, std::chrono::duration<double> d) {
  co_await asyncio::sleep(d);
  if (--shared.remaining == 0) shared.all_done.set();
}

asyncio::Task<void> sleep_many(int n, double secs, double& total, double& bytes_per_task) {
  SleepShared shared;
  shared.remaining = n;
  const long long before = rss_bytes();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) (void)asyncio::create_task(sleeper(shared, std::chrono::duration<double>(secs)));
  co_await asyncio::sleep(std::chrono::seconds(0));  // every task has started and sleeps now
  bytes_per_task = static_cast<double>(rss_bytes() - before) / n;
  co_await shared.all_done.wait();
  total = seconds_since(t0);
}

asyncio::Task<void> producer(asyncio::Queue<int>& q, int n) {
  for (int i = 0; i < n; ++i) co_await q.put(i);
}
asyncio::Task<long long> consumer(asyncio::Queue<int>& q, int n) {
  long long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await q.get();
  co_return sum;
}

asyncio::Task<double> queue_pingpong(int n) {
  asyncio::Queue<int> q(1);
  const auto t0 = Clock::now();
  auto [done, sum] = co_await asyncio::gather(producer(q, n), consumer(q, n));
  (void)done;
  const double took = seconds_since(t0);
  if (sum != static_cast<long long>(n) * (n - 1) / 2) std::abort();
  co_return n / took;
}

double threadsafe_latency(int n) {
  asyncio::EventLoop loop;
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(n));
  std::binary_semaphore acked(0);  // as the Python peer's threading.Semaphore
  std::thread poster([&] {
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      loop.call_soon_threadsafe([&, t0] {
        latencies.push_back(seconds_since(t0) * 1e6);
        acked.release();
      });
      acked.acquire();  // one at a time: the loop is idle when posted
    }
    loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  loop.run_forever();
  poster.join();
  loop.close();
  std::sort(latencies.begin(), latencies.end());
  return latencies[latencies.size() / 2];
}

/// The duration of the i-th sleep of the lateness scenario: 1.0 to 20.0 ms in steps of 0.1 ms,
/// spread over the range (peer.py uses the same formula).
double lateness_sleep_ms(int i) { return 1.0 + static_cast<double>((i * 37) % 191) / 10.0; }

/// Lateness of each sleep: steady_clock after the wake-up minus (steady_clock before the sleep +
/// the requested duration). steady_clock is CLOCK_MONOTONIC, the clock of Python's loop.time()
/// and time.monotonic(), so all three implementations are measured alike; a negative value is a
/// sleep that ended early.
asyncio::Task<std::vector<double>> lateness(int n) {
  std::vector<double> late_ms;
  late_ms.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double d = lateness_sleep_ms(i);
    const auto t0 = Clock::now();
    co_await asyncio::sleep(std::chrono::duration<double, std::milli>(d));
    late_ms.push_back(seconds_since(t0) * 1e3 - d);
  }
  co_return late_ms;
}

/// A periodic job that sleeps `period_ms` `n` times: how far behind n × period it ends.
asyncio::Task<double> periodic(int n, double period_ms) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) co_await asyncio::sleep(std::chrono::duration<double, std::milli>(period_ms));
  co_return seconds_since(t0) * 1e3 - n * period_ms;
}

/// CPU time of this process (user + system), in seconds.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// An idle loop whose only work is a callback every 50 ms (call_later rescheduling itself) for
/// `secs` seconds: the CPU it uses, in percent of one core.
double idle_cpu(double secs) {
  asyncio::EventLoop loop;
  const double start = loop.time();
  double cpu0 = 0;
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    if (loop.time() - start >= secs) {
      loop.stop();
    } else {
      loop.call_later(std::chrono::milliseconds(50), tick);
    }
  };
  loop.call_soon([&] {
    cpu0 = cpu_seconds();
    loop.call_later(std::chrono::milliseconds(50), tick);
  });
  const auto t0 = Clock::now();
  loop.run_forever();
  const double cpu = cpu_seconds() - cpu0;
  const double wall = seconds_since(t0);
  loop.close();
  if (ticks < 2) std::abort();
  return cpu / wall * 100.0;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(k, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: {} create_gather|sleep|queue|threadsafe|lateness|periodic|idle_cpu N [SECONDS|MS]\n",
               argv[0]);
    return 2;
  }
  const std::string_view scenario = argv[1];
  const int n = std::atoi(argv[2]);
  if (scenario == "create_gather") {
    fmt::print("{{\"scenario\": \"create_gather\", \"n\": {}, \"tasks_per_s\": {:.0f}}}\n", n,
               asyncio::run(create_gather(n)));
  } else if (scenario == "sleep") {
    const double secs = argc > 3 ? std::atof(argv[3]) : 1.0;
    double total = 0, per_task = 0;
    asyncio::run(sleep_many(n, secs, total, per_task));
    fmt::print("{{\"scenario\": \"sleep\", \"n\": {}, \"sleep_s\": {}, \"total_s\": {:.3f}, \"bytes_per_task\": {:.0f}}}\n",
               n, secs, total, per_task);
  } else if (scenario == "queue") {
    fmt::print("{{\"scenario\": \"queue\", \"n\": {}, \"items_per_s\": {:.0f}}}\n", n, asyncio::run(queue_pingpong(n)));
  } else if (scenario == "threadsafe") {
    fmt::print("{{\"scenario\": \"threadsafe\", \"n\": {}, \"median_us\": {:.2f}}}\n", n, threadsafe_latency(n));
  } else if (scenario == "lateness") {
    const std::vector<double> late = asyncio::run(lateness(n));
    double early = 0;
    for (double x : late) early = std::max(early, -x);
    fmt::print("{{\"scenario\": \"lateness\", \"n\": {}, \"median_ms\": {:.4f}, \"p99_ms\": {:.4f}, \"max_ms\": {:.4f}, "
               "\"max_early_ms\": {:.4f}}}\n",
               n, percentile(late, 0.5), percentile(late, 0.99), percentile(late, 1.0), early);
  } else if (scenario == "periodic") {
    const double period = argc > 3 ? std::atof(argv[3]) : 50.0;
    fmt::print("{{\"scenario\": \"periodic\", \"n\": {}, \"period_ms\": {}, \"drift_ms\": {:.3f}}}\n", n, period,
               asyncio::run(periodic(n, period)));
  } else if (scenario == "idle_cpu") {
    fmt::print("{{\"scenario\": \"idle_cpu\", \"seconds\": {}, \"cpu_percent\": {:.3f}}}\n", n, idle_cpu(n));
  } else {
    fmt::print(stderr, "unknown scenario {}\n", scenario);
    return 2;
  }
  return 0;
}
