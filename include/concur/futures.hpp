// SPDX-License-Identifier: MIT
// concur/futures.hpp — Python's concurrent.futures (the thread-based parts).
//
//   concur/futures/future.hpp   Future<T>
//   concur/futures/thread.hpp   ThreadPoolExecutor (submit, map, shutdown)
//   concur/futures/wait.hpp     wait (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED), as_completed
//
// The process pool (ProcessPoolExecutor) is concur/futures/process.hpp, part of the
// multiprocessing component. Errors (concur/errors.hpp): CancelledError, TimeoutError,
// InvalidStateError, BrokenExecutor / BrokenThreadPool, RuntimeError.
#pragma once

#include "concur/futures/future.hpp"
#include "concur/futures/thread.hpp"
#include "concur/futures/wait.hpp"
