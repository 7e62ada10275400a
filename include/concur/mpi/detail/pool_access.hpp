// SPDX-License-Identifier: MIT
// concur/mpi/detail/pool_access.hpp — the MPI component's way into a multiprocessing::Pool
// (internal): a worker rank hands its local pool chunks it received already encoded, and
// MPIPoolExecutor submits to and streams from the pool underneath it, as ProcessPoolExecutor
// does with its own.
#pragma once

#include <concur/multiprocessing/pool.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace concur::mpi::detail {

struct PoolAccess {
  static void submit(multiprocessing::Pool& pool, std::vector<multiprocessing::detail::PoolTask> tasks, const char* job) {
    pool.submit(std::move(tasks), job);
  }
  static void cancel_pending(multiprocessing::Pool& pool) { pool.cancel_pending(); }
  template <class F, class ArgTuple, class Range>
  static auto stream(multiprocessing::Pool& pool, F fn, Range&& items, std::size_t chunksize, bool ordered, const char* job) {
    return pool.stream<F, ArgTuple>(fn, std::forward<Range>(items), chunksize, ordered, job);
  }
};

}  // namespace concur::mpi::detail
