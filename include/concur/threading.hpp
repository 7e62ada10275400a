// SPDX-License-Identifier: MIT
// concur/threading.hpp — Python's `threading` module for C++: everything in one include.
//
//   Thread, current_thread, main_thread, get_ident, get_native_id,     concur/threading/thread.hpp
//   active_count, enumerate, excepthook (set_excepthook)
//   Lock, RLock                                                        concur/threading/lock.hpp
//   Semaphore, BoundedSemaphore                                        concur/threading/semaphore.hpp
//   Condition                                                          concur/threading/condition.hpp
//   Event                                                              concur/threading/event.hpp
//   Barrier (BrokenBarrierError is in concur/errors.hpp)               concur/threading/barrier.hpp
//   Timer                                                              concur/threading/timer.hpp
//   local<T>                                                           concur/threading/local.hpp
//
// The names and semantics are Python's (see each header's contract block for where they differ
// and why); errors are the Python-named types of concur/errors.hpp. Usual spelling:
//
//   namespace th = concur::threading;
//   th::Lock lock;
//   th::Thread t([&] { std::scoped_lock hold(lock); /* ... */ }, {.name = "Payment"});
//   t.start();
//   t.join();
#pragma once

#include "concur/errors.hpp"
#include "concur/threading/barrier.hpp"
#include "concur/threading/condition.hpp"
#include "concur/threading/event.hpp"
#include "concur/threading/local.hpp"
#include "concur/threading/lock.hpp"
#include "concur/threading/semaphore.hpp"
#include "concur/threading/thread.hpp"
#include "concur/threading/timer.hpp"
#include "concur/timeout.hpp"
