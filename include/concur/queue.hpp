// SPDX-License-Identifier: MIT
// concur/queue.hpp — Python's queue module: thread-safe queues for threads.
//
//   concur/queue/queue.hpp          Queue, LifoQueue, PriorityQueue (bounded, task_done/join,
//                                   shutdown), PutOptions/GetOptions
//   concur/queue/simple_queue.hpp   SimpleQueue (unbounded, no task tracking)
//
// Errors (concur/errors.hpp): queue::Empty, queue::Full, queue::ShutDown; ValueError for a
// negative timeout or task_done() called too often.
#pragma once

#include "concur/queue/queue.hpp"
#include "concur/queue/simple_queue.hpp"
