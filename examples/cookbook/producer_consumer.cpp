// SPDX-License-Identifier: MIT
// examples/cookbook/producer_consumer.cpp — producers and consumers on a bounded queue::Queue,
// stopped with Queue::shutdown() (Python 3.13's queue.Queue.shutdown) instead of a sentinel
// value per consumer. docs/cookbook/producer-consumer.md shows it beside the Python original.
//
//   cookbook_producer_consumer [--items N]
//
// Three producers put N numbered items each into a queue of 10 places; four consumers take
// them out until get() raises queue::ShutDown. Once the producers are joined, shutdown() lets
// the consumers drain what is left and then stop. The program checks that every item was
// consumed exactly once and exits with 1 otherwise.
#include <fmt/core.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <numeric>
#include <string_view>
#include <vector>

#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include "common/args.hpp"

namespace th = concur::threading;
namespace queue = concur::queue;

namespace {

void produce(queue::Queue<int>& q, int first, int count) {
  for (int item = first; item < first + count; ++item) q.put(item);  // blocks while the queue is full
}

struct Consumed {
  th::Lock lock;
  std::vector<int> items;  // guarded by lock
};

void consume(queue::Queue<int>& q, Consumed& consumed) {
  for (;;) {
    int item = 0;
    try {
      item = q.get();
    } catch (const queue::ShutDown&) {
      return;  // shut down and empty: no more items will come
    }
    {
      std::scoped_lock hold(consumed.lock);  // Python: with lock:
      consumed.items.push_back(item);
    }
    q.task_done();
  }
}

int run(int items_per_producer) {
  queue::Queue<int> q(10);
  Consumed consumed;

  std::vector<th::Thread> producers;
  std::vector<th::Thread> consumers;
  for (int p = 0; p < 3; ++p) {
    // The target takes a reference: pass std::ref(q), as for std::thread (a copy would not compile).
    producers.emplace_back(produce, std::ref(q), p * items_per_producer, items_per_producer);
  }
  for (int c = 0; c < 4; ++c) consumers.emplace_back(consume, std::ref(q), std::ref(consumed));
  for (th::Thread& t : producers) t.start();
  for (th::Thread& t : consumers) t.start();

  for (th::Thread& t : producers) t.join();
  q.shutdown();  // consumers get what is left, then ShutDown
  for (th::Thread& t : consumers) t.join();

  std::vector<int> expected(static_cast<std::size_t>(3 * items_per_producer));
  std::iota(expected.begin(), expected.end(), 0);
  std::sort(consumed.items.begin(), consumed.items.end());
  const bool exactly_once = consumed.items == expected;
  fmt::print("{} items produced by 3 threads, {} consumed by 4 threads; each exactly once: {}\n",
             expected.size(), consumed.items.size(), exactly_once ? "yes" : "NO");
  return exactly_once ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int items = 1000;
  if (argc == 3 && std::string_view(argv[1]) == "--items" && examples::parse_integer<int>(argv[2], 1, 10'000'000)) {
    items = *examples::parse_integer<int>(argv[2], 1, 10'000'000);
  } else if (argc != 1) {
    fmt::print(stderr, "usage: cookbook_producer_consumer [--items N]\n");
    return 2;
  }
  return run(items);
}
