// SPDX-License-Identifier: MIT
// concur/mpi/pool.hpp — Pool: multiprocessing.Pool's methods and semantics across the ranks of
// an MPI job (mpirun; see runtime.hpp for the launch).
//
//     int main(int argc, char** argv) {
//       concur::mpi::init(argc, argv);                  // ranks >= 1 serve tasks from here
//       concur::mpi::Pool pool;                         // one worker per rank >= 1
//       std::vector<int> squares = pool.map(square, std::views::iota(0, 1000));
//       for (int v : pool.imap_unordered(square, inputs)) { ... }
//     }
//
// It is a multiprocessing::Pool whose workers are the worker ranks: the same manager schedules
// chunks onto them (each rank is a WorkerChannel, see multiprocessing/detail/pool_channel.hpp),
// so everything multiprocessing::Pool's contract says (pool.hpp) about functions, arguments,
// chunks, results, exceptions (registered types come back as themselves, others as
// RemoteError), callbacks, close/join/terminate and thread safety holds here; the results are
// the same AsyncResult, MapResult and IMapIterator types. What differs, and why:
//
//  * Where tasks run. Each worker rank runs its chunks one at a time (several are kept in
//    flight to it so that it never waits for rank 0) in a worker process of its own, forked
//    from the fork server that init() started before MPI existed. A task that segfaults,
//    aborts or is killed fails only itself, with ProcessError naming the rank, the pid, the
//    signal and the task ("rank 2: worker process 4242 was killed by signal 11 (SIGSEGV)
//    while running map item 7"); the rank starts a new worker process and goes on.
//  * How functions travel: as their offset from the start of the executable (or shared
//    library) that holds them, which is the same on every rank even though ASLR loads the
//    binary at a different address on each (init() checked that every rank runs the same
//    build). Arguments and results travel as MPI messages; large contiguous blocks (a
//    std::string, a vector of numbers of 64 KiB or more) are sent straight from the shared
//    memory serialization wrote them into and received straight into the memory the worker
//    decodes them from: no copy is added on their way.
//  * A rank that dies (killed, its node lost): Open MPI 4 ends the whole job, every rank
//    included, and mpirun exits non-zero naming the rank; the pool cannot replace a rank (see
//    docs/distributed.md). It never hangs.
//  * One Pool (or MPIPoolExecutor) at a time owns the worker ranks: constructing a second
//    while one is running is a ValueError. After join() (or terminate() + join()) the ranks
//    serve the next pool.
//  * Without worker ranks (the program started without mpirun, or with -n 1) the pool runs
//    its tasks in local worker processes, a multiprocessing::Pool of `processes` workers.
//  * No initializer and no maxtasksperchild (a rank's worker process is replaced only when it
//    dies).
//
// Idle ranks do not burn CPU: a rank waiting in a blocking MPI receive spins a core under Open
// MPI, so the one thread of each rank that makes MPI calls polls (MPI_Iprobe/MPI_Test) and
// sleeps between polls, from 1 µs growing to 1 ms while nothing arrives (as mpi4py does).
//
// Thread safety: every member may be called from any thread, on rank 0.
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/pool.hpp>

#include <optional>

namespace concur::mpi {

/// Keyword arguments of mpi::Pool.
struct PoolOptions {
  /// Under mpirun: how many worker ranks to use (the first ones); nullopt: all of them.
  /// ValueError if < 1 or more than workers(). Without worker ranks: the local worker
  /// processes (nullopt: process_cpu_count()).
  std::optional<int> processes = std::nullopt;
};

/// Python's multiprocessing.Pool across MPI ranks (see the file comment).
class CONCUR_API Pool : public multiprocessing::Pool {
 public:
  /// Takes the worker ranks (or starts local workers when there are none). RuntimeError
  /// before init() or on a rank other than 0; ValueError when another pool owns the ranks or
  /// for a bad `processes`.
  explicit Pool(PoolOptions options = {});
  /// Whether the tasks run on worker ranks (false: in local processes, see the file comment).
  [[nodiscard]] bool distributed() const noexcept { return m_distributed; }

 private:
  bool m_distributed = false;
};

}  // namespace concur::mpi
