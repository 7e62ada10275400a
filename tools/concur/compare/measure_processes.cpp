// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_processes.cpp — the multiprocessing column: multiprocessing::Process,
// Pipe/Connection, Lock and Value.
//
// Children are started with the "fork" start method, the way Python starts them on Linux: the
// figures are those of fork, copy-on-write included. No other thread of ours runs while these
// measurements fork (run.cpp runs the steps one after the other, and each threading step joins
// its threads before it returns).
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <concur/multiprocessing.hpp>
#include <concur/threading/event.hpp>

#include "measure.hpp"

namespace mp = concur::multiprocessing;

namespace concur::tool::compare::detail {

namespace {

/// No wait of a measurement lasts longer than this (see measure_threads.cpp).
constexpr Timeout kPatience{10.0};

const mp::ProcessOptions kFork{.start_method = "fork"};

// What runs in the children. Each is a plain function: its arguments cross the process boundary.

void noop_child() {}

/// Says it is ready, then stays alive until told to go (or the parent is gone).
void hold_child(mp::Connection conn) {
  try {
    conn.send(1);
    (void)conn.recv<int>();
  } catch (const concur::EOFError&) {
  }
}

/// Sends back every number it receives, `rounds` times.
void echo_child(mp::Connection conn, int rounds) {
  try {
    for (int i = 0; i < rounds; ++i) conn.send(conn.recv<int>());
  } catch (const concur::EOFError&) {
    // The parent gave up (its measurement failed or was interrupted).
  }
}

/// One I/O-bound unit: a timed wait that nobody ends early.
void wait_child(double seconds) {
  threading::Event never;
  (void)never.wait(Timeout{seconds});
}

/// One share of the CPU-bound work; its result goes back so that it is really computed.
void cpu_child(mp::Connection conn, std::uint64_t seed, std::uint64_t iterations) {
  conn.send(cpu_work(seed, iterations));
}

/// What the counter children share: each child gets its own handles of these objects, passed
/// as arguments (as Python's counter_child(counter, ready, go, n)).
struct CounterShared {
  mp::Value<std::int64_t> counter{0};
  mp::Semaphore ready{0};
  mp::Event go;
};

void counter_child(mp::Value<std::int64_t>& counter, mp::Semaphore& ready, mp::Event& go, std::int64_t increments) {
  ready.release();
  if (!go.wait(kPatience)) return;
  for (std::int64_t k = 0; k < increments; ++k) {
    std::scoped_lock hold(counter.get_lock());
    ++counter.get_obj();
  }
}

/// Joins every started process of `procs` when it goes out of scope; a process still running
/// after `kPatience` is killed. A measurement that throws leaves no child behind.
class JoinAll {
 public:
  explicit JoinAll(std::vector<mp::Process>& procs) : m_procs(procs) {}
  JoinAll(const JoinAll&) = delete;
  JoinAll& operator=(const JoinAll&) = delete;
  ~JoinAll() {
    for (mp::Process& p : m_procs) {
      if (!p.pid().has_value()) continue;
      try {
        p.join(kPatience);
        if (p.is_alive()) {
          p.kill();
          p.join();
        }
      } catch (const std::exception&) {
        // Joining only fails for a process that was never started; nothing to clean up then.
      }
    }
  }

 private:
  std::vector<mp::Process>& m_procs;
};

/// Joins `p` and checks that it ended well.
void join_ok(mp::Process& p) {
  p.join(kPatience);
  if (p.is_alive()) throw std::runtime_error("a child process did not finish in time");
  if (p.exitcode() != 0) throw std::runtime_error("a child process failed (exit code " + std::to_string(p.exitcode().value_or(-1)) + ")");
}

template <class T>
T recv_in_time(mp::Connection& conn) {
  if (!conn.poll(kPatience)) throw std::runtime_error("a child process did not answer in time");
  return conn.recv<T>();
}

}  // namespace

double process_startup(const Context& c) {
  const int count = c.settings.quick ? 20 : 50;
  return median_of(c.settings.repetitions, c.stop, [&] {
    const double start = now();
    for (int i = 0; i < count; ++i) {
      mp::Process p(kFork, noop_child);
      p.start();
      join_ok(p);
    }
    return (now() - start) / count;
  });
}

double process_memory(const Context& c) {
  const std::size_t count = 8;
  return median_of(c.settings.repetitions, c.stop, [&] {
    std::vector<mp::Process> procs;
    JoinAll join(procs);
    std::vector<mp::Connection> mine;  // closed before the join: a child waiting on it sees EOF
    std::vector<double> sizes;
    for (std::size_t i = 0; i < count; ++i) {
      auto [parent_end, child_end] = mp::Pipe();
      procs.emplace_back(kFork, hold_child, std::move(child_end));
      procs.back().start();
      mine.push_back(std::move(parent_end));
    }
    for (std::size_t i = 0; i < count; ++i) {
      (void)recv_in_time<int>(mine[i]);
      sizes.push_back(static_cast<double>(private_bytes(procs[i].pid().value())));
    }
    for (mp::Connection& conn : mine) conn.send(0);
    for (mp::Process& p : procs) join_ok(p);
    return median(std::move(sizes));
  });
}

double process_handoff(const Context& c) {
  const int rounds = c.settings.quick ? 1000 : 5000;
  return median_of(c.settings.repetitions, c.stop, [&] {
    std::vector<mp::Process> procs;
    JoinAll join(procs);
    auto [conn, child_end] = mp::Pipe();  // closed before the join: the child waiting on it sees EOF
    procs.emplace_back(kFork, echo_child, std::move(child_end), rounds);
    procs.back().start();
    const double start = now();
    for (int i = 0; i < rounds; ++i) {
      conn.send(i);
      if (recv_in_time<int>(conn) != i) throw std::runtime_error("the echo child answered out of order");
    }
    const double took = now() - start;
    join_ok(procs.back());
    return took / (2.0 * rounds);
  });
}

IoPoint process_io(const Context& c, std::size_t units) {
  const auto run = [&](std::size_t n) {
    std::vector<mp::Process> procs;
    procs.reserve(n);
    JoinAll join(procs);
    const double start = now();
    for (std::size_t i = 0; i < n; ++i) {
      procs.emplace_back(kFork, wait_child, c.settings.io_wait);
      procs.back().start();
    }
    for (mp::Process& p : procs) join_ok(p);
    return now() - start;
  };
  return io_point(c, units, run);
}

double process_cpu(const Context& c) {
  const std::size_t workers = c.cpus;
  return median_of(c.settings.repetitions, c.stop, [&] {
    std::vector<mp::Process> procs;
    JoinAll join(procs);
    std::vector<mp::Connection> mine;  // closed before the join: a child waiting on it sees EOF
    const double start = now();
    for (std::size_t i = 0; i < workers; ++i) {
      auto [parent_end, child_end] = mp::Pipe();
      procs.emplace_back(kFork, cpu_child, std::move(child_end), std::uint64_t{i + 1}, c.cpu_iterations / workers);
      procs.back().start();
      mine.push_back(std::move(parent_end));
    }
    std::uint64_t combined = 0;
    for (mp::Connection& conn : mine) {
      // Each share takes about cpu_serial_seconds / workers; allow far more before giving up.
      if (!conn.poll(Timeout{kPatience.count() + 10 * c.settings.cpu_serial_seconds})) {
        throw std::runtime_error("a CPU-bound child did not finish in time");
      }
      combined ^= conn.recv<std::uint64_t>();
    }
    for (mp::Process& p : procs) join_ok(p);
    const double took = now() - start;
    (void)combined;
    return took;
  });
}

double process_lock(const Context& c) {
  return uncontended_lock<mp::Lock>(c);
}

double process_counter(const Context& c, std::size_t units) {
  const std::int64_t per_unit = c.settings.quick ? 20000 : 100000;
  return median_of(c.settings.repetitions, c.stop, [&] {
    auto shared = std::make_unique<CounterShared>();
    std::vector<mp::Process> procs;
    {
      JoinAll join(procs);
      for (std::size_t i = 0; i < units; ++i) {
        procs.emplace_back(kFork, counter_child, shared->counter, shared->ready, shared->go, per_unit);
        procs.back().start();
      }
      for (std::size_t i = 0; i < units; ++i) {
        if (!shared->ready.acquire(true, kPatience)) {
          shared->go.set();  // let the ones that are ready finish
          throw std::runtime_error("the counter children did not start in time");
        }
      }
      const double start = now();
      shared->go.set();
      for (mp::Process& p : procs) join_ok(p);
      const double took = now() - start;
      const std::int64_t expected = per_unit * static_cast<std::int64_t>(units);
      if (shared->counter.value() != expected) throw std::runtime_error("the shared counter lost increments");
      return took / static_cast<double>(expected);
    }
  });
}

}  // namespace concur::tool::compare::detail
