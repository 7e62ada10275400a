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

MPIPoolExecutor::MPIPoolExecutor(MPIPoolOptions options) : BasicProcessPoolExecutor(pool_options(options)) {}

}  // namespace concur::futures
