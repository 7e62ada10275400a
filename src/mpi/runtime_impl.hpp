// SPDX-License-Identifier: MIT
// The process-wide state of concur's MPI runtime (internal): the identity of functions across
// ranks, the lock that keeps one thread at a time in MPI, the pools' epochs.
#pragma once

#include "protocol.hpp"

#include <cstdint>
#include <mutex>

namespace concur::mpi::detail {

/// Where a function (or a task entry) is, in terms every rank running the same build agrees
/// on. 0 maps to {0, 0}. ValueError for an address in no loaded object.
FunctionRef function_ref(std::uintptr_t address);
/// The address of `ref` in this process. ValueError when no loaded object has that identity
/// (another build of a shared library on this rank).
std::uintptr_t function_address(FunctionRef ref);

/// Held around every MPI call after init(): on rank 0 the pool's thread and the exit handler
/// take turns (MPI_THREAD_SERIALIZED). Recursive: none; never held while user code runs.
std::mutex& mpi_mutex();
/// Whether rank 0's exit handler finalized MPI (read with mpi_mutex held).
bool finalized() noexcept;

/// A number no earlier pool of this run had.
std::uint64_t next_epoch() noexcept;

/// The worker ranks' loop (rank_server.cpp): serves tasks until rank 0 says exit, then
/// finalizes MPI and exits the process.
[[noreturn]] void serve();

}  // namespace concur::mpi::detail
