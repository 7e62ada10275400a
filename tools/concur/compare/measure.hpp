// SPDX-License-Identifier: MIT
// tools/concur/compare/measure.hpp — what the measure_*.cpp files share: the clock, medians,
// resident memory, the CPU-bound work, and one function per model that run.cpp calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compare.hpp"

namespace concur::multiprocessing {
class Process;
}

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

/// The allocation-heavy unit of work, the same in Python: `tasks` times, kAllocBuffers buffers
/// of kAllocBuffer bytes are allocated and filled, then read and freed.
inline constexpr std::size_t kAllocBuffer = 512 * 1024;
inline constexpr int kAllocBuffers = 4;
std::uint64_t alloc_work(std::uint64_t tasks) noexcept;

/// How many alloc_work tasks take about `seconds` in one thread, with malloc's defaults.
std::uint64_t calibrate_alloc_work(double seconds);

/// Request/response round trips each unit of the socket row makes (64 bytes each way).
inline constexpr int kExchanges = 4;

/// Raises this process's soft limit on open descriptors to its hard limit (the socket row
/// holds thousands of connections).
void raise_fd_limit() noexcept;
/// How many socket units the descriptor limit allows at once (0 when it is too low).
std::size_t max_socket_units() noexcept;

/// The echo peer of the socket row: a child process serving on 127.0.0.1 (port()) until
/// destroyed, answering each request `delay` seconds after it arrives. Throws
/// std::runtime_error when it does not start.
class EchoPeer {
 public:
  explicit EchoPeer(double delay);
  EchoPeer(const EchoPeer&) = delete;
  EchoPeer& operator=(const EchoPeer&) = delete;
  ~EchoPeer();
  [[nodiscard]] int port() const noexcept { return m_port; }

 private:
  std::unique_ptr<multiprocessing::Process> m_process;
  int m_port = 0;
};

/// What each model's measuring functions need.
struct Context {
  const Settings& settings;
  const std::atomic<bool>& stop;
  std::size_t cpus = 1;
  std::uint64_t cpu_iterations = 0;  ///< total CPU-bound work (set by the serial run)
  std::uint64_t alloc_tasks = 0;     ///< total allocation-heavy work (set by its calibration)
  int echo_port = 0;                 ///< the echo peer's port (set when it starts)
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
// The socket row.
IoPoint thread_sockets(const Context& c, std::size_t units);
IoPoint process_sockets(const Context& c, std::size_t units);
IoPoint task_sockets(const Context& c, std::size_t units);
// The allocation-heavy row; `tuned`: after concur::tune_malloc(). Each run is in a fresh child.
double serial_alloc(const Context& c, bool tuned);
double thread_alloc(const Context& c, bool tuned);
double process_alloc(const Context& c, bool tuned);
double task_alloc(const Context& c);

/// Runs the Python side's script for one figure (see python/compare_python.py).
class PythonSide {
 public:
  /// Checks that `executable` runs the script (a Python 3.8 or newer); throws
  /// std::runtime_error saying why not.
  explicit PythonSide(std::string executable);
  [[nodiscard]] const PythonInfo& info() const noexcept { return m_info; }
  /// Runs `step` with `args` ("--units", "100", ...) and returns what it printed (one JSON
  /// value). Throws std::runtime_error with the script's message when it fails or takes
  /// longer than `limit` seconds (it is then killed).
  [[nodiscard]] std::string run(const std::string& step, const std::vector<std::string>& args, double limit) const;
  /// A number it printed; an object's field `key` when given.
  static double number(const std::string& json, const std::string& key = {});

 private:
  std::string m_script;
  PythonInfo m_info;
};

/// The script the tool ships: $CONCUR_COMPARE_PYTHON_SCRIPT when set, else beside the
/// executable in ../share/concur/ (installed and build trees alike). Empty when it is not there.
std::string python_script_path();

}  // namespace concur::tool::compare::detail
