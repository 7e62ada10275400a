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
    : m_pool(multiprocessing::PoolOptions{.processes = checked_max_workers(options.max_workers),
                                          .initializer = std::move(options.initializer),
                                          .maxtasksperchild = options.max_tasks_per_child,
                                          .start_method = std::move(options.start_method)}) {}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(true); }

void ProcessPoolExecutor::check_open() const {
  if (m_shutdown.load(std::memory_order_acquire)) throw RuntimeError("cannot schedule new futures after shutdown");
}

void ProcessPoolExecutor::submit_tasks(std::vector<multiprocessing::detail::PoolTask> tasks) {
  try {
    m_pool.submit(std::move(tasks), "submit");
  } catch (const ValueError&) {  // the pool closed between check_open() and here
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
}

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  m_shutdown.store(true, std::memory_order_release);
  if (cancel_futures) m_pool.cancel_pending();
  m_pool.close();
  if (wait) m_pool.join();
}

}  // namespace concur::futures
