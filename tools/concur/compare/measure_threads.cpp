// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_threads.cpp — the threading column: threading::Thread, Event, Lock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <concur/threading.hpp>

#include "measure.hpp"

namespace th = concur::threading;

namespace concur::tool::compare::detail {

namespace {

/// No wait of a measurement lasts longer than this: a unit that does not answer in time is a
/// failure, never a hang.
constexpr Timeout kPatience{10.0};

// Keeps the CPU-bound results observable (relaxed: nothing is ordered by it).
std::atomic<std::uint64_t> g_thread_sink{0};

/// Joins every started thread of `threads` when it goes out of scope, after setting `release`
/// (which they may be waiting for): a measurement that throws leaves no thread behind.
class JoinAll {
 public:
  JoinAll(std::vector<th::Thread>& threads, th::Event* release) : m_threads(threads), m_release(release) {}
  JoinAll(const JoinAll&) = delete;
  JoinAll& operator=(const JoinAll&) = delete;
  ~JoinAll() {
    if (m_release != nullptr) m_release->set();
    for (th::Thread& t : m_threads) {
      if (t.ident().has_value()) t.join();
    }
  }

 private:
  std::vector<th::Thread>& m_threads;
  th::Event* m_release;
};

void wait_or_throw(th::Event& event, const char* what) {
  if (!event.wait(kPatience)) throw std::runtime_error(std::string("timed out waiting for ") + what);
}

}  // namespace

double thread_startup(const Context& c) {
  const int count = c.settings.quick ? 100 : 300;
  return median_of(c.settings.repetitions, c.stop, [&] {
    const double start = now();
    for (int i = 0; i < count; ++i) {
      th::Thread t([] {});
      t.start();
      t.join();
    }
    return (now() - start) / count;
  });
}

double thread_memory(const Context& c) {
  // A thread's memory is its stack (with its TLS block, which glibc puts at the top of the
  // stack mapping) plus the bookkeeping its creation allocates. Each blocked thread counts the
  // resident pages of its own stack mapping (mincore); the heap part is the growth of the
  // bytes malloc hands out while the threads are created. Counting pages rather than the
  // process's resident-memory growth matters: glibc keeps the stacks of finished threads for
  // reuse, already resident, so a growth measurement would miss them after the first run.
  const std::size_t count = 200;
  return median_of(c.settings.repetitions, c.stop, [&] {
    th::Event release, all_started;
    std::atomic<std::size_t> started{0};
    std::vector<std::uint64_t> stacks(count, 0);
    std::atomic<bool> failed{false};
    std::vector<th::Thread> threads;
    threads.reserve(count);
    JoinAll join(threads, &release);
    const std::uint64_t heap_before = heap_in_use();
    for (std::size_t i = 0; i < count; ++i) {
      threads.emplace_back([&, i] {
        try {
          stacks[i] = own_stack_resident_bytes();
        } catch (const std::exception&) {
          failed = true;
        }
        if (started.fetch_add(1) + 1 == count) all_started.set();
        (void)release.wait(kPatience);
      });
      threads.back().start();
    }
    wait_or_throw(all_started, "the threads to start");
    const std::uint64_t heap_after = heap_in_use();
    if (failed) throw std::runtime_error("a thread could not read its stack's resident pages");
    std::vector<double> sizes(stacks.begin(), stacks.end());
    const double heap = heap_after > heap_before ? static_cast<double>(heap_after - heap_before) / count : 0.0;
    return median(std::move(sizes)) + heap;
  });
}

double thread_handoff(const Context& c) {
  const int rounds = c.settings.quick ? 2000 : 10000;
  return median_of(c.settings.repetitions, c.stop, [&] {
    th::Event ping, pong;
    std::atomic<bool> failed{false};
    std::vector<th::Thread> threads;
    threads.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        if (!ping.wait(kPatience)) {
          failed = true;
          return;
        }
        ping.clear();
        pong.set();
      }
    });
    JoinAll join(threads, nullptr);
    threads.back().start();
    const double start = now();
    for (int i = 0; i < rounds; ++i) {
      ping.set();
      wait_or_throw(pong, "the partner thread");
      pong.clear();
    }
    const double took = now() - start;
    if (failed) throw std::runtime_error("the partner thread timed out");
    return took / (2.0 * rounds);
  });
}

IoPoint thread_io(const Context& c, std::size_t units) {
  const Timeout wait{c.settings.io_wait};
  const auto run = [&](std::size_t n) {
    th::Event never;  // each unit's "I/O": a timed wait for an event nobody sets
    std::vector<th::Thread> threads;
    threads.reserve(n);
    JoinAll join(threads, nullptr);
    const double start = now();
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] { (void)never.wait(wait); });
      threads.back().start();
    }
    for (th::Thread& t : threads) t.join();
    threads.clear();
    return now() - start;
  };
  return io_point(c, units, run);
}

double thread_cpu(const Context& c) {
  const std::size_t workers = c.cpus;
  return median_of(c.settings.repetitions, c.stop, [&] {
    std::vector<th::Thread> threads;
    threads.reserve(workers);
    JoinAll join(threads, nullptr);
    const double start = now();
    for (std::size_t i = 0; i < workers; ++i) {
      threads.emplace_back([&, i] {
        g_thread_sink.fetch_xor(cpu_work(i + 1, c.cpu_iterations / workers), std::memory_order_relaxed);
      });
      threads.back().start();
    }
    for (th::Thread& t : threads) t.join();
    threads.clear();
    return now() - start;
  });
}

double thread_lock(const Context& c) {
  return uncontended_lock<th::Lock>(c);
}

double thread_counter(const Context& c, std::size_t units) {
  const std::int64_t per_unit = c.settings.quick ? 50000 : 200000;
  return median_of(c.settings.repetitions, c.stop, [&] {
    th::Lock lock;
    th::Event go;
    std::int64_t counter = 0;  // guarded by lock
    std::vector<th::Thread> threads;
    threads.reserve(units);
    JoinAll join(threads, &go);
    for (std::size_t i = 0; i < units; ++i) {
      threads.emplace_back([&] {
        (void)go.wait(kPatience);
        for (std::int64_t k = 0; k < per_unit; ++k) {
          std::scoped_lock hold(lock);
          ++counter;
        }
      });
      threads.back().start();
    }
    const double start = now();
    go.set();
    for (th::Thread& t : threads) t.join();
    threads.clear();
    const double took = now() - start;
    if (counter != per_unit * static_cast<std::int64_t>(units)) throw std::runtime_error("the counter lost increments");
    return took / static_cast<double>(per_unit * static_cast<std::int64_t>(units));
  });
}

}  // namespace concur::tool::compare::detail
