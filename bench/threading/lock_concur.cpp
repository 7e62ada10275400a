// SPDX-License-Identifier: MIT
// Lock acquire + release, uncontended — concur::threading::Lock. Peer: lock_std.cpp.
#include <benchmark/benchmark.h>

#include <concur/threading/lock.hpp>

#include "multithreaded.hpp"

namespace {

void lock_concur(benchmark::State& state) {
  const bench::KeepMultiThreaded other_thread;  // see multithreaded.hpp
  concur::threading::Lock lock;
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
}
BENCHMARK(lock_concur);

}  // namespace
