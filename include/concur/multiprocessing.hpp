// SPDX-License-Identifier: MIT
// concur/multiprocessing.hpp — Python's multiprocessing module: everything in one include.
//
//   process.hpp        Process, current_process, parent_process, active_children, cpu_count,
//                      process_cpu_count
//   context.hpp        start methods (fork, forkserver), get_context, the fork server
//   pool.hpp           Pool
//   pool_results.hpp   AsyncResult, MapResult, IMapIterator, Callbacks (included by pool.hpp)
//   remote_exceptions.hpp  register_exception: exceptions that come back from a worker
//   connection.hpp     Pipe, Connection
//   connection_wait.hpp  connection::wait (Connections, process sentinels, descriptors)
//   serialize.hpp      what crosses a process boundary, and how
//   shared_memory.hpp  SharedMemory, Value, Array
//   synchronize.hpp    process-shared Lock, RLock, Semaphore, BoundedSemaphore, Event,
//                      Condition, Barrier
//   queues.hpp         Queue, SimpleQueue, JoinableQueue
//
// The ProcessPoolExecutor of concurrent.futures is in concur/futures/process.hpp (it links
// concur_multiprocessing). docs/multiprocessing.md explains what runs in a child process —
// the C++ counterpart of Python's `if __name__ == "__main__":` guard.
#pragma once

#include <concur/multiprocessing/connection.hpp>
#include <concur/multiprocessing/connection_wait.hpp>
#include <concur/multiprocessing/context.hpp>
#include <concur/multiprocessing/pool.hpp>
#include <concur/multiprocessing/process.hpp>
#include <concur/multiprocessing/queues.hpp>
#include <concur/multiprocessing/serialize.hpp>
#include <concur/multiprocessing/shared_memory.hpp>
#include <concur/multiprocessing/synchronize.hpp>
