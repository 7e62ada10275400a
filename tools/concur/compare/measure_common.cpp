// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_common.cpp — medians, memory readings and the CPU-bound work.
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "measure.hpp"

namespace concur::tool::compare {

std::string_view model_key(Model model) noexcept {
  switch (model) {
    case Model::threads: return "threads";
    case Model::processes: return "processes";
    case Model::asyncio: return "asyncio";
  }
  return "?";
}

Settings Settings::make(bool quick) {
  Settings s;
  s.quick = quick;
  if (quick) {
    s.repetitions = 3;
    s.io_wait = 0.02;
    s.io_counts_threads = {10, 100, 1000};
    s.io_counts_processes = {10, 100};
    s.io_counts_asyncio = {10, 100, 1000, 10000};
    s.socket_counts_threads = {10, 100};
    s.socket_counts_processes = {10};
    s.socket_counts_asyncio = {10, 100, 1000};
    s.cpu_serial_seconds = 0.3;
    s.alloc_serial_seconds = 0.15;
  } else {
    s.repetitions = 5;
    s.io_wait = 0.05;
    s.io_counts_threads = {10, 100, 1000, 10000};
    s.io_counts_processes = {10, 100, 300};
    s.io_counts_asyncio = {10, 100, 1000, 10000};
    s.socket_counts_threads = {10, 100, 1000};
    s.socket_counts_processes = {10, 100};
    s.socket_counts_asyncio = {10, 100, 1000, 10000};
    s.cpu_serial_seconds = 0.6;
    s.alloc_serial_seconds = 0.25;
  }
  return s;
}

namespace detail {

double median(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("median of no values");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double median_of(int repetitions, const std::atomic<bool>& stop, const std::function<double()>& once) {
  std::vector<double> values;
  for (int i = 0; i < std::max(repetitions, 1); ++i) {
    if (i > 0 && stop.load()) break;
    values.push_back(once());
  }
  return median(std::move(values));
}

IoPoint io_point(const Context& c, std::size_t units, const std::function<double(std::size_t)>& run) {
  IoPoint p;
  p.units = units;
  p.serial_sum = static_cast<double>(units) * median_of(c.settings.repetitions, c.stop, [&] { return run(1); });
  p.wall = median_of(c.settings.repetitions, c.stop, [&] { return run(units); });
  return p;
}

namespace {

/// The sum of the `fields` lines ("Name:   123 kB") of /proc/PID/smaps_rollup, in bytes. That
/// file is computed from the page tables when read, so it is exact, unlike /proc/PID/statm,
/// whose counters the kernel updates lazily (per CPU, in batches).
std::uint64_t smaps_rollup_sum(const std::string& pid, std::initializer_list<std::string_view> fields) {
  const std::string path = "/proc/" + pid + "/smaps_rollup";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::uint64_t total = 0;
  std::size_t found = 0;
  std::string line;
  while (std::getline(in, line)) {
    for (std::string_view field : fields) {
      if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':') {
        std::istringstream value(line.substr(field.size() + 1));
        std::uint64_t kib = 0;
        value >> kib;
        total += kib * 1024;
        ++found;
      }
    }
  }
  if (found != fields.size()) throw std::runtime_error("unexpected contents in " + path);
  return total;
}

}  // namespace

std::uint64_t resident_bytes() { return smaps_rollup_sum("self", {"Rss"}); }

std::uint64_t private_bytes(int pid) {
  if (pid <= 0) throw std::runtime_error("no process " + std::to_string(pid));
  return smaps_rollup_sum(std::to_string(pid), {"Private_Clean", "Private_Dirty"});
}

std::uint64_t own_stack_resident_bytes() {
  pthread_attr_t attr;
  if (::pthread_getattr_np(::pthread_self(), &attr) != 0) throw std::runtime_error("pthread_getattr_np failed");
  void* addr = nullptr;
  std::size_t size = 0;
  const int rc = ::pthread_attr_getstack(&attr, &addr, &size);
  ::pthread_attr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("pthread_attr_getstack failed");
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  if (::mincore(addr, size, resident.data()) != 0) throw std::runtime_error("mincore failed on the thread's stack");
  std::uint64_t pages = 0;
  for (unsigned char r : resident) pages += r & 1u;
  return pages * page;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONCUR_COMPARE_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONCUR_COMPARE_SANITIZER_HEAP 1
#endif
#endif
#if CONCUR_COMPARE_SANITIZER_HEAP
// The sanitizers' allocator statistics (sanitizer/allocator_interface.h, not installed here).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

std::uint64_t heap_in_use() noexcept {
#if CONCUR_COMPARE_SANITIZER_HEAP
  // A sanitizer's allocator replaces malloc, whose statistics then stay still; it keeps its own.
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

void release_free_memory() noexcept { (void)::malloc_trim(0); }

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one_minute = 0;
  if (!(in >> one_minute)) return -1;
  return one_minute;
}

std::uint64_t cpu_work(std::uint64_t seed, std::uint64_t iterations) noexcept {
  // splitmix64 rounds: cheap, branch-free and impossible to fold into a closed form.
  std::uint64_t x = seed;
  std::uint64_t acc = 0;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    acc ^= z ^ (z >> 31);
  }
  return acc;
}

namespace {
// Keeps cpu_work's results observable so that no run of it is optimized away. Relaxed
// everywhere: nothing is ever ordered by it, only its side effect matters.
std::atomic<std::uint64_t> g_sink{0};
}  // namespace

std::uint64_t calibrate_cpu_work(double seconds) {
  std::uint64_t iterations = 1 << 16;
  for (;;) {
    const double start = now();
    g_sink.fetch_xor(cpu_work(1, iterations), std::memory_order_relaxed);
    const double took = now() - start;
    if (took >= 0.05 || iterations >= (1ull << 40)) {
      const double per_iteration = took / static_cast<double>(iterations);
      return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(seconds / per_iteration));
    }
    iterations *= 4;
  }
}

double serial_cpu(const Context& c) {
  return median_of(c.settings.repetitions, c.stop, [&] {
    const double start = now();
    g_sink.fetch_xor(cpu_work(1, c.cpu_iterations), std::memory_order_relaxed);
    return now() - start;
  });
}

}  // namespace detail
}  // namespace concur::tool::compare
