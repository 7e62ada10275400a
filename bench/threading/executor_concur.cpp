// SPDX-License-Identifier: MIT
// ThreadPoolExecutor workload (executor_workload.hpp) — concur::futures::ThreadPoolExecutor,
// one Future per task. Peers: executor_tbb.cpp, executor_python.py.
#include <benchmark/benchmark.h>

#include <concur/futures/thread.hpp>

#include <stdexcept>
#include <vector>

#include "executor_workload.hpp"

namespace {

void executor_1M_concur(benchmark::State& state) {
  namespace futures = concur::futures;
  for (auto _ : state) {
    std::int64_t sum = 0;
    {
      futures::ThreadPoolExecutor executor;
      std::vector<futures::Future<int>> results;
      results.reserve(bench::kTasks);
      for (int i = 0; i < bench::kTasks; ++i) results.push_back(executor.submit(bench::trivial_task, i));
      for (const futures::Future<int>& f : results) sum += f.result();
    }  // shutdown(wait = true), as Python's `with` block
    if (sum != bench::kExpectedSum) throw std::logic_error("concur ThreadPoolExecutor lost a result");
  }
  state.SetItemsProcessed(state.iterations() * bench::kTasks);
}
BENCHMARK(executor_1M_concur)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
