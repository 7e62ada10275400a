// SPDX-License-Identifier: MIT
// Thread start + join — concur::threading::Thread running an empty function (it registers
// with threading::enumerate(), gets a name, and reports exceptions to excepthook; that
// bookkeeping is what the ratio against thread_start_std.cpp prices).
#include <benchmark/benchmark.h>

#include <concur/threading/thread.hpp>

namespace {

void thread_start_join_concur(benchmark::State& state) {
  for (auto _ : state) {
    concur::threading::Thread thread([] {});
    thread.start();
    thread.join();
  }
}
BENCHMARK(thread_start_join_concur)->UseRealTime();

}  // namespace
