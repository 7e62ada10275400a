// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_alloc.cpp — the allocation-heavy CPU-bound row: each task
// allocates kAllocBuffers buffers of kAllocBuffer bytes, fills them, reads them and frees them.
//
// Such work spends its time in malloc and the kernel, not in arithmetic: with glibc's default
// thresholds every task gives the freed buffers back to the kernel and faults them in again (see
// concur/malloc.hpp). The row is measured both ways, with glibc's defaults and after
// concur::tune_malloc(), for threads and for processes. Every run happens in a fresh child
// process (forked; its threads run there), so that the tuning, which cannot be undone, never
// reaches the tool's own heap, and each run starts from a heap in the same state.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include <concur/asyncio.hpp>
#include <concur/malloc.hpp>
#include <concur/multiprocessing.hpp>
#include <concur/threading.hpp>

#include "measure.hpp"

namespace asyncio = concur::asyncio;
namespace mp = concur::multiprocessing;
namespace th = concur::threading;

namespace concur::tool::compare::detail {

namespace {

constexpr Timeout kPatience{10.0};
const mp::ProcessOptions kFork{.start_method = "fork"};

/// Keeps `p` and what it points to observable, so that no allocation or store is optimized away
/// (the compiler may otherwise drop a new/delete pair whose memory is never read).
inline void escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Keeps the work's results observable (relaxed: nothing is ordered by it).
std::atomic<std::uint64_t> g_alloc_sink{0};

enum class Units : int { threads, processes };

void alloc_child(mp::Connection conn, std::uint64_t tasks) { conn.send(alloc_work(tasks)); }

/// Runs the work split over `workers` units (threads in this process, or processes forked
/// from it) and returns the wall time. `workers` 0 runs it here, in the calling thread: the
/// serial reference, in the process's main thread as a serial program does (glibc serves the
/// main thread from its main arena, other threads from arenas of their own, which return
/// memory to the kernel differently: with the defaults the same work is several times slower
/// in a second thread, which the threads row shows).
double split_run(Units units, std::size_t workers, std::uint64_t tasks) {
  const std::uint64_t share = std::max<std::uint64_t>(1, tasks / std::max<std::size_t>(1, workers));
  const double start = now();
  if (workers == 0) {
    g_alloc_sink.fetch_xor(alloc_work(share), std::memory_order_relaxed);
  } else if (units == Units::threads) {
    std::vector<th::Thread> threads;
    for (std::size_t i = 0; i < workers; ++i) {
      threads.emplace_back([&] { g_alloc_sink.fetch_xor(alloc_work(share), std::memory_order_relaxed); });
      threads.back().start();
    }
    for (th::Thread& t : threads) t.join();
  } else {
    std::vector<mp::Process> procs;
    std::vector<mp::Connection> mine;
    for (std::size_t i = 0; i < workers; ++i) {
      auto [parent_end, child_end] = mp::Pipe();
      procs.emplace_back(kFork, alloc_child, std::move(child_end), share);
      procs.back().start();
      mine.push_back(std::move(parent_end));
    }
    for (mp::Connection& conn : mine) {
      if (!conn.poll(Timeout{kPatience.count() * 6})) throw std::runtime_error("an allocating child did not finish in time");
      (void)conn.recv<std::uint64_t>();
    }
    for (mp::Process& p : procs) p.join();
  }
  return now() - start;
}

/// In a fresh child: optionally tune malloc, then run the work `repetitions` times and send
/// back the median wall time.
void measuring_child(mp::Connection conn, int units, bool tuned, std::size_t workers, std::uint64_t tasks, int repetitions) {
  if (tuned) (void)tune_malloc();
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) times.push_back(split_run(static_cast<Units>(units), workers, tasks));
  conn.send(median(std::move(times)));
}

/// In a fresh child: how many alloc_work tasks take about `seconds` in its main thread, with
/// malloc's defaults (sent back).
void calibrating_child(mp::Connection conn, double seconds) {
  std::uint64_t tasks = 4;
  for (;;) {
    const double start = now();
    g_alloc_sink.fetch_xor(alloc_work(tasks), std::memory_order_relaxed);
    const double took = now() - start;
    if (took >= 0.05 || tasks >= (1ull << 32)) {
      conn.send(std::max<std::uint64_t>(1, static_cast<std::uint64_t>(seconds / (took / static_cast<double>(tasks)))));
      return;
    }
    tasks *= 4;
  }
}

asyncio::Task<void> alloc_task(std::uint64_t share) {
  g_alloc_sink.fetch_xor(alloc_work(share), std::memory_order_relaxed);
  co_return;
}

asyncio::Task<double> alloc_tasks_run(std::size_t workers, std::uint64_t tasks) {
  const double start = now();
  std::vector<asyncio::Task<void>> units;
  for (std::size_t i = 0; i < workers; ++i) units.push_back(asyncio::create_task(alloc_task(tasks / workers)));
  co_await asyncio::gather(std::move(units));
  co_return now() - start;
}

double measure_in_child(const Context& c, Units units, bool tuned, std::size_t workers) {
  auto [mine, theirs] = mp::Pipe();
  mp::Process child(kFork, measuring_child, std::move(theirs), static_cast<int>(units), tuned, workers, c.alloc_tasks,
                    c.settings.repetitions);
  child.start();
  // Untuned runs of a machine that trims slowly can take many times the serial target.
  const Timeout limit{kPatience.count() + 20.0 * c.settings.cpu_serial_seconds * c.settings.repetitions};
  if (!mine.poll(limit)) {
    child.kill();
    child.join();
    throw std::runtime_error("the allocation-heavy run did not finish in time");
  }
  const double took = mine.recv<double>();
  child.join(kPatience);
  if (child.is_alive()) {
    child.kill();
    child.join();
  }
  return took;
}

}  // namespace

std::uint64_t alloc_work(std::uint64_t tasks) noexcept {
  std::uint64_t acc = 0;
  for (std::uint64_t t = 0; t < tasks; ++t) {
    std::unique_ptr<unsigned char[]> buffers[kAllocBuffers];
    for (auto& b : buffers) {
      b.reset(new unsigned char[kAllocBuffer]);
      escape(b.get());
      std::memset(b.get(), 0, kAllocBuffer);
      b[t % kAllocBuffer] = 1;
    }
    for (auto& b : buffers) {
      acc += b[t % kAllocBuffer];
      escape(b.get());
    }
  }
  return acc;
}

std::uint64_t calibrate_alloc_work(double seconds) {
  // Calibrated with the tuning off, in the main thread of a fresh child, like the serial
  // reference it sizes: this process's heap is in whatever state the earlier rows left it.
  auto [mine, theirs] = mp::Pipe();
  mp::Process child(kFork, calibrating_child, std::move(theirs), seconds);
  child.start();
  if (!mine.poll(Timeout{kPatience.count() * 6})) {
    child.kill();
    child.join();
    throw std::runtime_error("the allocation-heavy calibration did not finish in time");
  }
  const auto tasks = mine.recv<std::uint64_t>();
  child.join(kPatience);
  if (child.is_alive()) {
    child.kill();
    child.join();
  }
  return tasks;
}

double serial_alloc(const Context& c, bool tuned) {
  return measure_in_child(c, Units::threads, tuned, 0);
}

double thread_alloc(const Context& c, bool tuned) {
  return measure_in_child(c, Units::threads, tuned, c.cpus);
}

double process_alloc(const Context& c, bool tuned) {
  return measure_in_child(c, Units::processes, tuned, c.cpus);
}

double task_alloc(const Context& c) {
  // One loop thread: the tasks run one after the other, as in the CPU-bound row.
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(alloc_tasks_run(c.cpus, c.alloc_tasks)); });
}

}  // namespace concur::tool::compare::detail
