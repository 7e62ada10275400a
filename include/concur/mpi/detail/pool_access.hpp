// SPDX-License-Identifier: MIT
// concur/mpi/detail/pool_access.hpp — the MPI component's way into a multiprocessing::Pool
// (internal): a worker rank hands its local pool chunks it received already encoded.
#pragma once

#include <concur/multiprocessing/pool.hpp>

#include <utility>
#include <vector>

namespace concur::mpi::detail {

struct PoolAccess {
  static void submit(multiprocessing::Pool& pool, std::vector<multiprocessing::detail::PoolTask> tasks, const char* job) {
    pool.submit(std::move(tasks), job);
  }
};

}  // namespace concur::mpi::detail
