// SPDX-License-Identifier: MIT
// connection_pool — the classic guide's Semaphore: "a locker room with N lockers".
//
// 50 workers need a database connection each, but the pool has only 10. A BoundedSemaphore
// initialised to 10 guards the pool: acquire() takes a slot (waiting while all 10 are in use),
// release() gives it back. A BoundedSemaphore rather than a plain Semaphore, as Python's
// documentation advises for resource pools: releasing more often than acquiring would be a bug,
// and it raises ValueError instead of silently growing the pool to 11.
//
// The connections themselves are a free list guarded by a Lock; the program counts how many
// are in use at once, prints the peak, and exits with status 1 if it ever exceeded 10 (or if
// a connection was not returned). `--speed N` divides every delay by N.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <concur/threading.hpp>

#include "common/speed.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr int kConnections = 10;
constexpr int kWorkers = 50;

class ConnectionPool {
 public:
  ConnectionPool() {
    for (int id = kConnections; id >= 1; --id) m_free.push_back(id);
  }

  /// Waits for a free slot, then takes a connection. Returns its id.
  int get() {
    m_slots.acquire();
    std::scoped_lock hold(m_lock);
    if (m_free.empty()) {  // cannot happen while the semaphore does its job
      fmt::print(stderr, "a worker passed the semaphore but found no free connection\n");
      std::exit(EXIT_FAILURE);
    }
    const int id = m_free.back();
    m_free.pop_back();
    ++m_in_use;
    m_peak = std::max(m_peak, m_in_use);
    return id;
  }

  /// Gives the connection back and frees its slot.
  void put(int id) {
    {
      std::scoped_lock hold(m_lock);
      m_free.push_back(id);
      --m_in_use;
    }
    m_slots.release();
  }

  [[nodiscard]] int in_use() {
    std::scoped_lock hold(m_lock);
    return m_in_use;
  }
  [[nodiscard]] int peak() {
    std::scoped_lock hold(m_lock);
    return m_peak;
  }
  [[nodiscard]] std::size_t free_count() {
    std::scoped_lock hold(m_lock);
    return m_free.size();
  }

 private:
  th::BoundedSemaphore m_slots{kConnections};
  th::Lock m_lock;
  std::vector<int> m_free;  // ids of the idle connections; guarded by m_lock
  int m_in_use = 0;         // connections handed out; guarded by m_lock
  int m_peak = 0;           // the most ever handed out at once; guarded by m_lock
};

void worker(ConnectionPool& pool, int number, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  const int connection = pool.get();
  fmt::print("{}: got connection {:2} ({:2} in use): {}\n", name, connection, pool.in_use(), examples::ctime_now());
  // The query: 0.2 to 0.6 s, varied so that connections come back in a changing order.
  speed.sleep(Seconds(0.2s) + (number % 5) * Seconds(0.1s));
  pool.put(connection);
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  ConnectionPool pool;

  std::vector<th::Thread> workers;
  workers.reserve(kWorkers);
  for (int n = 1; n <= kWorkers; ++n) {
    workers.emplace_back(th::ThreadOptions{.name = fmt::format("Worker-{:02}", n)}, worker, std::ref(pool), n, speed);
  }
  const auto started = std::chrono::steady_clock::now();
  for (th::Thread& w : workers) w.start();
  for (th::Thread& w : workers) w.join();
  const Seconds elapsed = std::chrono::steady_clock::now() - started;

  fmt::print("{} workers shared {} connections in {:.2f} s; peak in use: {} (limit {})\n", kWorkers, kConnections,
             elapsed.count(), pool.peak(), kConnections);
  if (pool.peak() > kConnections) {
    fmt::print(stderr, "error: {} connections were in use at once, more than the {} the pool has\n", pool.peak(),
               kConnections);
    return EXIT_FAILURE;
  }
  if (pool.free_count() != kConnections) {
    fmt::print(stderr, "error: {} of {} connections came back\n", pool.free_count(), kConnections);
    return EXIT_FAILURE;
  }
  fmt::print("Exiting Main Thread\n");
  return EXIT_SUCCESS;
}
