// SPDX-License-Identifier: MIT
// The MPI pool's way into a local multiprocessing::Pool (internal): it hands the local pool
// chunks it already encoded (on a worker rank: chunks received from rank 0; on a single rank:
// the chunks of an mpi::Pool that falls back to local processes).
#pragma once

#include <concur/multiprocessing/pool.hpp>

#include <utility>
#include <vector>

namespace concur::mpi::detail {

struct LocalPoolAccess {
  static void submit(multiprocessing::Pool& pool, std::vector<multiprocessing::detail::PoolTask> tasks, const char* job) {
    pool.submit(std::move(tasks), job);
  }
  static void cancel_pending(multiprocessing::Pool& pool) { pool.cancel_pending(); }
};

}  // namespace concur::mpi::detail
