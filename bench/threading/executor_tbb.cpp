// SPDX-License-Identifier: MIT
// ThreadPoolExecutor workload (executor_workload.hpp) — the peer: oneTBB's task_group. TBB has
// no future per task; each task writes its result into its own slot and task_group::wait()
// is the collective result(), which is the cheapest way TBB offers to "submit and get back".
#include <benchmark/benchmark.h>
#include <tbb/task_group.h>

#include <stdexcept>
#include <vector>

#include "executor_workload.hpp"

namespace {

void executor_1M_tbb_task_group(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<int> results(bench::kTasks);
    tbb::task_group group;
    for (int i = 0; i < bench::kTasks; ++i) {
      group.run([&results, i] { results[static_cast<std::size_t>(i)] = bench::trivial_task(i); });
    }
    group.wait();
    std::int64_t sum = 0;
    for (const int r : results) sum += r;
    if (sum != bench::kExpectedSum) throw std::logic_error("tbb task_group lost a result");
  }
  state.SetItemsProcessed(state.iterations() * bench::kTasks);
}
BENCHMARK(executor_1M_tbb_task_group)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
