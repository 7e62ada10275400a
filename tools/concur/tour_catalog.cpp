// SPDX-License-Identifier: MIT
// The tour's stops. To add an example to the tour, add one row here:
//   - keep the classic guide's four programs first, in their numbered order (1_basic_threading,
//     2_lock_threading, 3_multiprocessing, 4_asyncio), then the "when to use" scenarios,
//     grouped by module;
//   - `shows` is one line saying what the example demonstrates (the tour prints it first);
//   - `args` are arguments the example always needs under the tour: an example that would
//     otherwise wait for the user (graceful_shutdown waits for Ctrl-C) must end by itself;
//   - `takes_speed`: the example accepts `--speed N` (examples/common/speed.hpp), which
//     `concur tour --fast` passes; an example without it must keep its tour run short by its
//     `args`.
// The test `concur.tour.list_names_every_example` fails when an example program is built but
// has no row here.
#include "tour_catalog.hpp"

namespace concur::tool {

std::span<const TourStop> tour_stops() {
  static const std::vector<TourStop> stops{
      // The classic guide's four programs.
      {"1_basic_threading", "threading",
       "a Thread subclass overriding run(): Thread-1 and Thread-2 print timestamps every 1 s and 2 s, "
       "concurrently",
       {}, true},
      {"2_lock_threading", "threading",
       "a Lock: Payment holds it for its whole run; Mail and Page take it briefly, then work independently",
       {}, true},
      {"3_multiprocessing", "multiprocessing",
       "two Processes print timestamps every 1 s and 2 s, in parallel and with separate memory",
       {}, true},
      {"4_asyncio", "asyncio",
       "three coroutines under gather() on one thread: about 10 s in all (the longest), not 21 s (the sum)",
       {}, true},
      // threading scenarios
      {"producer_consumer", "threading",
       "a Condition: producers wait while the buffer is full, consumers while it is empty",
       {}, true},
      {"connection_pool", "threading",
       "a BoundedSemaphore lets 50 workers share 10 connections; the peak in use never exceeds 10",
       {}, true},
      {"graceful_shutdown", "threading",
       "an Event stops every worker promptly on Ctrl-C (here the example sends itself SIGINT after 3 s)",
       {"--run-for", "3"}, true},
      // multiprocessing scenarios
      {"pool_map", "multiprocessing",
       "the Pool pattern: map, imap_unordered and apply_async over worker processes",
       {}, true},
      {"image_pool", "multiprocessing",
       "1,000 images processed serially, on a process Pool and on a thread pool: no GIL, so threads scale too",
       {}, true},
      {"crash_recovery", "multiprocessing",
       "a task crashes its worker process: that task fails with ProcessError, the Pool replaces the worker "
       "and carries on",
       {}, true},
#ifdef CONCUR_TOUR_MPI
      {"distributed_pool", "mpi",
       "the Pool across the machines of an MPI job: start it with `mpirun -n 3 distributed_pool` (run here on "
       "one rank, its pool falls back to local worker processes)",
       {"--images", "200", "--size", "64"}, false},
#endif
      // asyncio scenarios
      {"async_producer_consumer", "asyncio",
       "producers and consumers over a bounded asyncio Queue in one thread, finished with queue.join()",
       {}, true},
      {"async_timeout", "asyncio",
       "giving up on slow work: wait_for() and a timeout() block cancel it and raise TimeoutError",
       {}, true},
      {"taskgroup_failure", "asyncio",
       "structured concurrency: one failing task in a TaskGroup cancels its siblings; an ExceptionGroup "
       "reports it",
       {}, true},
      // asyncio networking scenarios (their --smoke mode serves in-process clients, then stops)
      {"scraper", "asyncio",
       "20 URLs fetched from a local server concurrently (at most 5 at a time, an asyncio Semaphore), "
       "then one by one",
       {"--urls", "20", "--limit", "5"}, false},
      {"http_server", "asyncio",
       "an HTTP/1.1 server on asyncio streams answers real clients (keep-alive, pipelining), then stops",
       {"--smoke"}, false},
      // The same two over TLS (concur::ssl on OpenSSL), with a throwaway certificate.
      {"scraper", "ssl",
       "the scraper over HTTPS: TLS handshakes, certificate checks and encrypted streams, same code otherwise",
       {"--urls", "20", "--limit", "5", "--tls"}, false},
      {"http_server", "ssl",
       "the HTTP server over HTTPS (--tls-cert/--tls-key; here a throwaway certificate) answers real clients",
       {"--smoke", "--tls"}, false},
      {"echo_server", "asyncio", "a TCP echo server: 50 clients echo through it at once, then it stops",
       {"--smoke"}, false},
      {"chat_server", "asyncio",
       "a chat server: every line a client sends reaches every other client; three clients chat",
       {"--smoke"}, false},
  };
  return stops;
}

}  // namespace concur::tool
