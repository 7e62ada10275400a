// SPDX-License-Identifier: MIT
// concur/mpi/runtime.hpp — how a concur program runs as an MPI job (Open MPI): init, rank, size.
//
//     int main(int argc, char** argv) {
//       concur::mpi::init(argc, argv);        // worker ranks serve tasks here and never return
//       concur::mpi::Pool pool;               // rank 0: one worker per other rank
//       auto squares = pool.map(square, std::views::iota(0, 1000));
//     }
//
//     mpirun -n 4 ./app                       // rank 0 runs main, ranks 1..3 run the tasks
//
// The launch protocol of mpi4py.futures (`mpiexec -n N python -m mpi4py.futures app.py`):
// every rank runs the same program; init() returns on rank 0, which runs the rest of main and
// owns the pools; on every other rank it serves tasks and ends the process (exit status 0) when
// rank 0's program exits. Workers are not spawned (MPI_Comm_spawn is fragile in Open MPI 4 and
// 5 and unavailable under many batch systems).
//
// What init() does, in order, on every rank:
//   1. starts the fork server (multiprocessing::forkserver::ensure_running) — before MPI is
//      initialised, so that tasks run in processes forked from a process that never touched
//      MPI (forking after MPI_Init is unsafe with InfiniBand and warned about by Open MPI). A
//      task that segfaults or aborts fails only itself (see pool.hpp);
//   2. MPI_Init_thread (MPI_THREAD_SERIALIZED: one thread at a time makes MPI calls), with
//      MPI_ERRORS_RETURN on MPI_COMM_WORLD: an MPI error prints the rank and the error and
//      aborts the whole job (MPI_Abort) instead of hanging;
//   3. checks the build fingerprint: every rank gathers every rank's fingerprint of its
//      executable (its GNU build-id, or a hash of its bytes when it has none). A rank that runs
//      another build (an old binary left on one node, a different program in an MPMD launch)
//      makes every rank print which ranks differ and exit with status 1: functions cross ranks
//      as offsets into the executable, and another build would call the wrong code.
//
// Without mpirun (a single rank) init() returns and the program runs as usual: an mpi::Pool
// then has no worker ranks and runs its tasks in local worker processes instead (an ordinary
// multiprocessing::Pool), so the same program works on a laptop and on a cluster.
//
// At the exit of rank 0's program (std::exit, or returning from main) the worker ranks are
// told to stop, acknowledge, and every rank calls MPI_Finalize. A Pool must not outlive main.
//
// Thread safety: call init() once, at the top of main, before any thread exists. rank(), size()
// and workers() may be called from any thread after it.
#pragma once

#include <concur/export.hpp>

#include <cstdint>

namespace concur::mpi {

/// Joins the MPI job (see the file comment). Returns on rank 0 (and on a single rank); on the
/// other ranks serves tasks until rank 0's program exits, then exits the process. A second
/// call does nothing. Exits with status 1 (after printing why on stderr) when the ranks run
/// different builds; RuntimeError when MPI cannot be initialised.
CONCUR_API void init(int& argc, char**& argv);
/// init() without the command line (MPI does not need it).
CONCUR_API void init();
/// Whether init() was called.
[[nodiscard]] CONCUR_API bool initialized() noexcept;
/// This process's rank in MPI_COMM_WORLD (0 before init()).
[[nodiscard]] CONCUR_API int rank() noexcept;
/// Ranks in MPI_COMM_WORLD (1 before init()).
[[nodiscard]] CONCUR_API int size() noexcept;
/// Ranks that serve tasks: size() - 1.
[[nodiscard]] CONCUR_API int workers() noexcept;
/// The fingerprint of this rank's build that init() compared across ranks.
[[nodiscard]] CONCUR_API std::uint64_t build_fingerprint();

}  // namespace concur::mpi
