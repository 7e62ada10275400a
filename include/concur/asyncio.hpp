// SPDX-License-Identifier: MIT
// concur/asyncio.hpp — Python's asyncio for C++20 coroutines, on libuv.
//
//   #include <concur/asyncio.hpp>
//   namespace asyncio = concur::asyncio;
//   asyncio::Task<int> main_task() { co_await asyncio::sleep(1s); co_return 0; }
//   int main() { return asyncio::run(main_task()); }
//
// One header per concept, after Python's modules:
//   asyncio/events.hpp      the event loop (call_soon, call_later, call_soon_threadsafe, time)
//   asyncio/task.hpp        Task<T>, create_task, current_task, all_tasks; cancellation
//   asyncio/tasks.hpp       sleep, gather, wait, as_completed, shield
//   asyncio/timeouts.hpp    timeout, timeout_at, wait_for
//   asyncio/taskgroups.hpp  TaskGroup
//   asyncio/cleanup.hpp     try_finally, closing: awaited clean-up on every path (try/finally)
//   asyncio/locks.hpp       Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier
//   asyncio/queues.hpp      Queue, PriorityQueue, LifoQueue
//   asyncio/runners.hpp     run, Runner
//   asyncio/threads.hpp     to_thread, run_in_executor, run_coroutine_threadsafe
//   asyncio/streams.hpp     open_connection, start_server, StreamReader, StreamWriter, Server
//   asyncio/transports.hpp  Address, and how a task waits for I/O (shared by the networking headers)
//   asyncio/subprocess.hpp  create_subprocess_exec, create_subprocess_shell, Process, PIPE, DEVNULL
//   asyncio/datagram.hpp    create_datagram_endpoint, DatagramEndpoint
//   asyncio/signals.hpp     add_signal_handler, remove_signal_handler
// Errors (CancelledError, TimeoutError, QueueEmpty, ...) are in concur/errors.hpp. Remember that
// CancelledError is not a std::exception (see task.hpp).
#pragma once

#include "concur/asyncio/cleanup.hpp"
#include "concur/asyncio/datagram.hpp"
#include "concur/asyncio/events.hpp"
#include "concur/asyncio/locks.hpp"
#include "concur/asyncio/queues.hpp"
#include "concur/asyncio/runners.hpp"
#include "concur/asyncio/signals.hpp"
#include "concur/asyncio/streams.hpp"
#include "concur/asyncio/subprocess.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/asyncio/taskgroups.hpp"
#include "concur/asyncio/tasks.hpp"
#include "concur/asyncio/threads.hpp"
#include "concur/asyncio/timeouts.hpp"
#include "concur/asyncio/transports.hpp"
