// SPDX-License-Identifier: MIT
// concur/mpi/futures.hpp — MPIPoolExecutor: mpi4py.futures.MPIPoolExecutor, a
// concurrent.futures executor over the ranks of an MPI job.
//
//     concur::mpi::init(argc, argv);                      // at the top of main (runtime.hpp)
//     futures::MPIPoolExecutor ex;                        // one worker per rank >= 1
//     futures::Future<int> f = ex.submit(square, 7);      // f.result() == 49
//     for (int v : ex.map(add, xs, ys)) { ... }           // in input order
//
// ProcessPoolExecutor's contract (futures/process.hpp) with mpi::Pool underneath (mpi/pool.hpp
// says where tasks run, how a crash or a lost rank is reported, and what happens without
// mpirun): futures work with futures::wait, as_completed, add_done_callback and
// asyncio::wrap_future as any other. map takes several ranges, then a timeout and a chunksize.
// shutdown(wait = true) waits for every submitted task; with cancel_futures it first cancels
// what has not been sent to a rank. The destructor is shutdown(wait = true); submit() after
// shutdown throws RuntimeError. max_workers: how many worker ranks to use (nullopt: all).
//
// Thread safety: every member may be called from any thread, on rank 0.
#pragma once

#include <concur/export.hpp>
#include <concur/futures/process.hpp>
#include <concur/mpi/pool.hpp>

#include <optional>

namespace concur::futures {

/// Keyword arguments of MPIPoolExecutor.
struct MPIPoolOptions {
  std::optional<int> max_workers = std::nullopt;  ///< worker ranks to use; nullopt: all. ValueError if <= 0
};

/// mpi4py.futures.MPIPoolExecutor: ProcessPoolExecutor's interface (submit, map and shutdown,
/// from BasicProcessPoolExecutor) over the worker ranks of an MPI job (see the top of this
/// file). Every member may be called from any thread, on rank 0.
class CONCUR_API MPIPoolExecutor : public BasicProcessPoolExecutor<mpi::Pool> {
 public:
  /// Takes the worker ranks. ValueError if max_workers <= 0 or is more than the worker ranks,
  /// or when another pool owns them; RuntimeError before mpi::init() or off rank 0.
  explicit MPIPoolExecutor(MPIPoolOptions options = {});
};

}  // namespace concur::futures
