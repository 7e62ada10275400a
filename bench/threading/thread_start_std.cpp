// SPDX-License-Identifier: MIT
// Thread start + join — the peer: a raw std::thread running an empty function.
#include <benchmark/benchmark.h>

#include <thread>

namespace {

void thread_start_join_std_thread(benchmark::State& state) {
  for (auto _ : state) {
    std::thread thread([] {});
    thread.join();
  }
}
BENCHMARK(thread_start_join_std_thread)->UseRealTime();

}  // namespace
