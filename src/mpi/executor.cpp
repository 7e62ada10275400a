// SPDX-License-Identifier: MIT
// concur::futures::MPIPoolExecutor (see concur/mpi/futures.hpp): an mpi::Pool underneath.
#include <concur/mpi/futures.hpp>

namespace concur::futures {

namespace {

mpi::PoolOptions pool_options(const MPIPoolOptions& options) {
  if (options.max_workers && *options.max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  return mpi::PoolOptions{.processes = options.max_workers};
}

}  // namespace

MPIPoolExecutor::MPIPoolExecutor(MPIPoolOptions options) : m_pool(pool_options(options)) {}

MPIPoolExecutor::~MPIPoolExecutor() { shutdown(true); }

void MPIPoolExecutor::check_open() const {
  if (m_shutdown.load(std::memory_order_acquire)) throw RuntimeError("cannot schedule new futures after shutdown");
}

void MPIPoolExecutor::submit_tasks(std::vector<multiprocessing::detail::PoolTask> tasks) {
  try {
    mpi::detail::PoolAccess::submit(m_pool, std::move(tasks), "submit");
  } catch (const ValueError&) {  // the pool closed between check_open() and here
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
}

void MPIPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  m_shutdown.store(true, std::memory_order_release);
  if (cancel_futures) mpi::detail::PoolAccess::cancel_pending(m_pool);
  m_pool.close();
  if (wait) {
    std::scoped_lock lock(m_shutdown_mutex);
    if (!m_joined) {
      m_pool.join();
      m_joined = true;
    }
  }
}

}  // namespace concur::futures
