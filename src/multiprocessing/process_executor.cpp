// SPDX-License-Identifier: MIT
// concur::futures::ProcessPoolExecutor (see concur/futures/process.hpp): a Pool underneath.
#include <concur/futures/process.hpp>

namespace concur::futures {

namespace {

std::optional<int> checked_max_workers(std::optional<int> max_workers) {
  if (max_workers && *max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  return max_workers;
}

}  // namespace

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions options)
    : BasicProcessPoolExecutor(multiprocessing::PoolOptions{.processes = checked_max_workers(options.max_workers),
                                                            .initializer = std::move(options.initializer),
                                                            .maxtasksperchild = options.max_tasks_per_child,
                                                            .start_method = std::move(options.start_method)}) {}

}  // namespace concur::futures
