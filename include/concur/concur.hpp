// SPDX-License-Identifier: MIT
// concur/concur.hpp — all of concur in one include: Python's threading, queue,
// concurrent.futures (thread and process pools), multiprocessing and asyncio.
//
//   #include <concur/concur.hpp>            // link concur::concur
//   namespace th = concur::threading;
//   namespace mp = concur::multiprocessing;
//   namespace asyncio = concur::asyncio;
//   namespace futures = concur::futures;
//
// Where things are, as in Python:
//   concur/threading.hpp        threading           (component concur_threading)
//   concur/queue.hpp            queue               (concur_threading)
//   concur/futures.hpp          concurrent.futures: Future, ThreadPoolExecutor, wait,
//                               as_completed        (concur_threading)
//   concur/futures/process.hpp  concurrent.futures.ProcessPoolExecutor (concur_multiprocessing)
//   concur/multiprocessing.hpp  multiprocessing     (concur_multiprocessing)
//   concur/asyncio.hpp          asyncio             (concur_asyncio)
//   concur/errors.hpp           the exceptions of every module
//
// Why ProcessPoolExecutor is not in concur/futures.hpp: that header is the thread-based part,
// for programs that link only concur_threading (no cereal, no process machinery). A program
// that links concur::concur can include this header and find everything where Python has it.
#pragma once

#include "concur/asyncio.hpp"
#include "concur/errors.hpp"
#include "concur/futures.hpp"
#include "concur/futures/process.hpp"
#include "concur/multiprocessing.hpp"
#include "concur/queue.hpp"
#include "concur/threading.hpp"
