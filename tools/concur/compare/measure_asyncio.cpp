// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_asyncio.cpp — the asyncio column: asyncio::run, create_task,
// gather, sleep, Event, Queue and Lock. Every figure is timed inside the running loop, so the
// loop's own creation is not counted against a task.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <concur/asyncio.hpp>

#include "measure.hpp"

namespace asyncio = concur::asyncio;

namespace concur::tool::compare::detail {

namespace {

/// No wait of a measurement lasts longer than this (see measure_threads.cpp).
constexpr Timeout kPatience{10.0};

std::uint64_t g_task_sink = 0;  // only touched by the loop's thread

asyncio::Task<void> noop_task() { co_return; }

asyncio::Task<void> wait_for_event(asyncio::Event& event) { (void)co_await event.wait(); }

asyncio::Task<void> sleep_task(double seconds) { co_await asyncio::sleep(Timeout{seconds}); }

asyncio::Task<void> cpu_task(std::uint64_t seed, std::uint64_t iterations) {
  g_task_sink ^= cpu_work(seed, iterations);
  co_return;
}

asyncio::Task<double> startup_run(int count) {
  const double start = now();
  for (int i = 0; i < count; ++i) co_await asyncio::create_task(noop_task());
  co_return (now() - start) / count;
}

/// A task's memory is its coroutine frame (which holds the task state) plus what its waiting
/// allocates: the growth of the bytes malloc hands out while `count` tasks block on an Event.
/// Under an allocator that malloc's statistics do not see (a sanitizer's), the growth of the
/// process's resident memory is used instead.
asyncio::Task<double> memory_run(std::size_t count) {
  asyncio::Event release;
  std::vector<asyncio::Task<void>> tasks;
  tasks.reserve(count);
  release_free_memory();
  const std::uint64_t heap_before = heap_in_use();
  const std::uint64_t rss_before = resident_bytes();
  for (std::size_t i = 0; i < count; ++i) tasks.push_back(asyncio::create_task(wait_for_event(release)));
  co_await asyncio::sleep(Timeout{0});  // every task runs up to its wait
  const std::uint64_t heap_after = heap_in_use();
  const std::uint64_t rss_after = resident_bytes();
  release.set();
  co_await asyncio::wait_for(asyncio::gather(std::move(tasks)), kPatience);
  std::uint64_t grown = heap_after > heap_before ? heap_after - heap_before : 0;
  if (grown == 0 && rss_after > rss_before) grown = rss_after - rss_before;
  if (grown == 0) throw std::runtime_error("memory did not grow with blocked tasks");
  co_return static_cast<double>(grown) / static_cast<double>(count);
}

asyncio::Task<void> echo_task(asyncio::Queue<int>& in, asyncio::Queue<int>& out, int rounds) {
  for (int i = 0; i < rounds; ++i) co_await out.put(co_await in.get());
}

asyncio::Task<double> handoff_run(int rounds) {
  asyncio::Queue<int> ping, pong;
  asyncio::Task<void> partner = asyncio::create_task(echo_task(ping, pong, rounds));
  const double start = now();
  for (int i = 0; i < rounds; ++i) {
    co_await ping.put(i);
    if (co_await pong.get() != i) throw std::runtime_error("the partner task answered out of order");
  }
  const double took = now() - start;
  co_await asyncio::wait_for(std::move(partner), kPatience);
  co_return took / (2.0 * rounds);
}

asyncio::Task<double> io_run(std::size_t units, double seconds) {
  const double start = now();
  std::vector<asyncio::Task<void>> tasks;
  tasks.reserve(units);
  for (std::size_t i = 0; i < units; ++i) tasks.push_back(asyncio::create_task(sleep_task(seconds)));
  co_await asyncio::wait_for(asyncio::gather(std::move(tasks)), Timeout{kPatience.count() + seconds});
  co_return now() - start;
}

asyncio::Task<double> cpu_run(std::size_t workers, std::uint64_t iterations) {
  const double start = now();
  std::vector<asyncio::Task<void>> tasks;
  for (std::size_t i = 0; i < workers; ++i) tasks.push_back(asyncio::create_task(cpu_task(i + 1, iterations / workers)));
  co_await asyncio::gather(std::move(tasks));
  co_return now() - start;
}

asyncio::Task<double> lock_run(int count) {
  asyncio::Lock lock;
  const double start = now();
  for (int i = 0; i < count; ++i) {
    (void)co_await lock.acquire();
    lock.release();
  }
  co_return (now() - start) / count;
}

/// One competitor for the counter: it yields to the loop while it holds the lock, so the
/// others queue on the lock (without that yield, tasks never contend: one runs at a time).
asyncio::Task<void> counter_task(asyncio::Lock& lock, std::int64_t& counter, std::int64_t increments) {
  for (std::int64_t k = 0; k < increments; ++k) {
    (void)co_await lock.acquire();
    ++counter;
    co_await asyncio::sleep(Timeout{0});
    lock.release();
  }
}

asyncio::Task<double> counter_run(std::size_t units, std::int64_t per_unit) {
  asyncio::Lock lock;
  std::int64_t counter = 0;
  std::vector<asyncio::Task<void>> tasks;
  const double start = now();
  for (std::size_t i = 0; i < units; ++i) tasks.push_back(asyncio::create_task(counter_task(lock, counter, per_unit)));
  co_await asyncio::wait_for(asyncio::gather(std::move(tasks)), kPatience);
  const double took = now() - start;
  const std::int64_t expected = per_unit * static_cast<std::int64_t>(units);
  if (counter != expected) throw std::runtime_error("the counter lost increments");
  co_return took / static_cast<double>(expected);
}

}  // namespace

double task_startup(const Context& c) {
  const int count = c.settings.quick ? 10000 : 50000;
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(startup_run(count)); });
}

double task_memory(const Context& c) {
  const std::size_t count = 10000;
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(memory_run(count)); });
}

double task_handoff(const Context& c) {
  const int rounds = c.settings.quick ? 10000 : 50000;
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(handoff_run(rounds)); });
}

IoPoint task_io(const Context& c, std::size_t units) {
  return io_point(c, units, [&](std::size_t n) { return asyncio::run(io_run(n, c.settings.io_wait)); });
}

double task_cpu(const Context& c) {
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(cpu_run(c.cpus, c.cpu_iterations)); });
}

double task_lock(const Context& c) {
  const int count = c.settings.quick ? 200000 : 1000000;
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(lock_run(count)); });
}

double task_counter(const Context& c, std::size_t units) {
  const std::int64_t per_unit = c.settings.quick ? 5000 : 20000;
  return median_of(c.settings.repetitions, c.stop, [&] { return asyncio::run(counter_run(units, per_unit)); });
}

}  // namespace concur::tool::compare::detail
