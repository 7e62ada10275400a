// SPDX-License-Identifier: MIT
// producer_consumer — the classic guide's Condition pattern: "a waiting area with a call button".
//
// Two producers put numbered items into a bounded buffer (5 places); two consumers take them
// out. Producers are faster than consumers, so the buffer fills up and producers have to wait.
// Two Conditions share one Lock, as Python's queue.Queue does:
//   - not_full:  producers wait on it while the buffer is full; a consumer notifies it;
//   - not_empty: consumers wait on it while the buffer is empty; a producer notifies it.
// wait_for(predicate) re-checks the predicate after every wake-up, so spurious or stolen
// wake-ups are harmless. When both producers are done, the consumers drain the buffer and stop.
//
// The program checks its own result: every item must be consumed exactly once, or it exits
// with status 1. `--speed N` divides every delay by N.
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <deque>
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

constexpr std::size_t kCapacity = 5;
constexpr int kProducers = 2;
constexpr int kConsumers = 2;
constexpr int kItemsPerProducer = 8;
constexpr Seconds kProduceTime = 0.2s;  // per item, outside the lock
constexpr Seconds kConsumeTime = 0.5s;  // per item, outside the lock

struct Item {
  int producer;
  int number;
};

/// The shared state. Every field is guarded by `lock`, which both Conditions use.
struct Shared {
  th::Lock lock;
  th::Condition not_full{lock};
  th::Condition not_empty{lock};
  std::deque<Item> buffer;           // at most kCapacity items
  int producers_running = kProducers;
  std::vector<int> times_consumed = std::vector<int>(kProducers * kItemsPerProducer, 0);
};

void producer(Shared& shared, int id, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  for (int n = 1; n <= kItemsPerProducer; ++n) {
    speed.sleep(kProduceTime);  // make the item
    std::scoped_lock hold(shared.lock);
    if (shared.buffer.size() >= kCapacity) {
      fmt::print("{}: buffer full, waiting: {}\n", name, examples::ctime_now());
    }
    shared.not_full.wait_for([&] { return shared.buffer.size() < kCapacity; });
    shared.buffer.push_back({id, n});
    fmt::print("{}: put item {}-{} (buffer {}/{}): {}\n", name, id, n, shared.buffer.size(), kCapacity,
               examples::ctime_now());
    shared.not_empty.notify();
  }
  std::scoped_lock hold(shared.lock);
  --shared.producers_running;
  fmt::print("{}: done\n", name);
  shared.not_empty.notify_all();  // consumers waiting on an empty buffer must learn it is the end
}

void consumer(Shared& shared, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  for (;;) {
    Item item{};
    {
      std::scoped_lock hold(shared.lock);
      shared.not_empty.wait_for([&] { return !shared.buffer.empty() || shared.producers_running == 0; });
      if (shared.buffer.empty()) break;  // no producer left and nothing to take
      item = shared.buffer.front();
      shared.buffer.pop_front();
      ++shared.times_consumed[static_cast<std::size_t>((item.producer - 1) * kItemsPerProducer + item.number - 1)];
      fmt::print("{}: got item {}-{} (buffer {}/{}): {}\n", name, item.producer, item.number, shared.buffer.size(),
                 kCapacity, examples::ctime_now());
      shared.not_full.notify();
    }
    speed.sleep(kConsumeTime);  // use the item, without holding the lock
  }
  fmt::print("{}: no more items, exiting\n", name);
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  Shared shared;

  std::vector<th::Thread> threads;
  for (int id = 1; id <= kProducers; ++id) {
    threads.emplace_back(th::ThreadOptions{.name = fmt::format("Producer-{}", id)}, producer, std::ref(shared), id,
                         speed);
  }
  for (int id = 1; id <= kConsumers; ++id) {
    threads.emplace_back(th::ThreadOptions{.name = fmt::format("Consumer-{}", id)}, consumer, std::ref(shared), speed);
  }
  for (th::Thread& t : threads) t.start();
  for (th::Thread& t : threads) t.join();

  int wrong = 0;
  for (std::size_t i = 0; i < shared.times_consumed.size(); ++i) {
    if (shared.times_consumed[i] != 1) {
      fmt::print(stderr, "item {}-{} was consumed {} times\n", i / kItemsPerProducer + 1, i % kItemsPerProducer + 1,
                 shared.times_consumed[i]);
      ++wrong;
    }
  }
  if (wrong != 0) return EXIT_FAILURE;
  fmt::print("All {} items were produced and consumed exactly once.\n", shared.times_consumed.size());
  fmt::print("Exiting Main Thread\n");
  return EXIT_SUCCESS;
}
