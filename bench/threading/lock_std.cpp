// SPDX-License-Identifier: MIT
// Lock acquire + release, uncontended — the peer: std::mutex (pthread_mutex_t on glibc).
#include <benchmark/benchmark.h>

#include <mutex>

#include "multithreaded.hpp"

namespace {

void lock_std_mutex(benchmark::State& state) {
  const bench::KeepMultiThreaded other_thread;  // see multithreaded.hpp
  std::mutex mutex;
  for (auto _ : state) {
    mutex.lock();
    mutex.unlock();
  }
}
BENCHMARK(lock_std_mutex);

}  // namespace
