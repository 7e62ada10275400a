// SPDX-License-Identifier: MIT
// concur/futures.hpp — Python's concurrent.futures (the thread-based parts).
//
//   concur/futures/future.hpp   Future<T>
//   concur/futures/thread.hpp   ThreadPoolExecutor (submit, map, shutdown)
//   concur/futures/wait.hpp     wait (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED), as_completed
//
// ProcessPoolExecutor is in concur/futures/process.hpp: it belongs to the multiprocessing
// component (it needs cereal and concur_multiprocessing at link time), and this header serves
// programs that link only concur_threading. Include <concur/futures/process.hpp>, or
// <concur/concur.hpp> for everything; ProcessPoolExecutor is declared below so that using it
// without its header fails with a message that names the header.
// Errors (concur/errors.hpp): CancelledError, TimeoutError, InvalidStateError,
// BrokenExecutor / BrokenThreadPool, RuntimeError.
#pragma once

#include "concur/futures/future.hpp"
#include "concur/futures/thread.hpp"
#include "concur/futures/wait.hpp"

namespace concur::futures {
class ProcessPoolExecutor;  // incomplete here: #include <concur/futures/process.hpp> (or <concur/concur.hpp>) to use it
}  // namespace concur::futures
