// SPDX-License-Identifier: MIT
// tools/concur/compare/measure.hpp — what the measure_*.cpp files share: the clock, medians,
// resident memory, the CPU-bound work, and one function per model that run.cpp calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "compare.hpp"

namespace concur::tool::compare::detail {

/// Seconds since an arbitrary start, on the monotonic clock.
inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// The median of `values` (the mean of the middle two for an even count). Throws
/// std::invalid_argument when empty.
double median(std::vector<double> values);

/// Runs `once` `repetitions` times (fewer if `stop` becomes set after the first) and returns
/// the median of what it returned.
double median_of(int repetitions, const std::atomic<bool>& stop, const std::function<double()>& once);

/// This process's resident memory in bytes (Rss of /proc/self/smaps_rollup).
std::uint64_t resident_bytes();

/// The unshared memory of process `pid` in bytes: Private_Clean + Private_Dirty of
/// /proc/PID/smaps_rollup. Throws std::runtime_error when it cannot be read.
std::uint64_t private_bytes(int pid);

/// The resident bytes of the calling thread's stack mapping (mincore over the range that
/// pthread_getattr_np reports). Throws std::runtime_error when the OS refuses.
std::uint64_t own_stack_resident_bytes();

/// Bytes malloc has handed out and not taken back (mallinfo2's uordblks + hblkhd).
std::uint64_t heap_in_use() noexcept;

/// Gives the heap's free memory back to the kernel (malloc_trim), so that a baseline of
/// resident_bytes() is not inflated by memory that later allocations would reuse unseen.
void release_free_memory() noexcept;

/// The one-minute load average (/proc/loadavg), or -1 when unknown.
double load_average();

/// The CPU-bound unit of work: `iterations` rounds of an integer mix that the compiler cannot
/// fold away. Returns a value that depends on every round.
std::uint64_t cpu_work(std::uint64_t seed, std::uint64_t iterations) noexcept;

/// How many cpu_work iterations take about `seconds` on this machine in one thread.
std::uint64_t calibrate_cpu_work(double seconds);

/// What each model's measuring functions need.
struct Context {
  const Settings& settings;
  const std::atomic<bool>& stop;
  std::size_t cpus = 1;
  std::uint64_t cpu_iterations = 0;  ///< total CPU-bound work (set by the serial run)
};

/// The I/O-bound point for `units`: `run(n)` starts n units that each wait settings.io_wait and
/// returns the wall time until all finished. The serial sum is `units` times the median of
/// run(1); the wall time the median of run(units).
IoPoint io_point(const Context& c, std::size_t units, const std::function<double(std::size_t)>& run);

/// The uncontended acquire + release of a `LockType` (threading::Lock, multiprocessing::Lock),
/// in seconds: the median over the repetitions of a loop of them.
template <class LockType>
double uncontended_lock(const Context& c) {
  const int count = c.settings.quick ? 200000 : 1000000;
  return median_of(c.settings.repetitions, c.stop, [&] {
    LockType lock;
    const double start = now();
    for (int i = 0; i < count; ++i) {
      lock.acquire();
      lock.release();
    }
    return (now() - start) / count;
  });
}

// One function per figure and model; each returns seconds (or bytes) and throws on failure.
// Threads.
double thread_startup(const Context& c);
double thread_memory(const Context& c);
double thread_handoff(const Context& c);
IoPoint thread_io(const Context& c, std::size_t units);
double thread_cpu(const Context& c);
double thread_lock(const Context& c);
double thread_counter(const Context& c, std::size_t units);
// Processes.
double process_startup(const Context& c);
double process_memory(const Context& c);
double process_handoff(const Context& c);
IoPoint process_io(const Context& c, std::size_t units);
double process_cpu(const Context& c);
double process_lock(const Context& c);
double process_counter(const Context& c, std::size_t units);
// Asyncio tasks.
double task_startup(const Context& c);
double task_memory(const Context& c);
double task_handoff(const Context& c);
IoPoint task_io(const Context& c, std::size_t units);
double task_cpu(const Context& c);
double task_lock(const Context& c);
double task_counter(const Context& c, std::size_t units);
/// The same CPU-bound work in the calling thread (the serial reference).
double serial_cpu(const Context& c);

}  // namespace concur::tool::compare::detail
