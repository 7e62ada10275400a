// SPDX-License-Identifier: MIT
// concur/mpi.hpp — the MPI component (concur::concur_mpi): the multiprocessing Pool and a
// concurrent.futures executor across the ranks of an MPI job (Open MPI, mpirun).
#pragma once

#include <concur/mpi/futures.hpp>
#include <concur/mpi/pool.hpp>
#include <concur/mpi/runtime.hpp>
