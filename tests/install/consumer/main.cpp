// SPDX-License-Identifier: MIT
// A program that uses concur as an installed package would: through <concur/...> headers and
// the concur::concur target (or `pkg-config --cflags --libs concur`).
#include <concur/futures.hpp>
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <cstdio>
#include <mutex>

namespace th = concur::threading;

int main() {
  concur::queue::Queue<int> q;
  th::Lock lock;
  int total = 0;
  th::Thread producer([&] {
    for (int i = 1; i <= 10; ++i) q.put(i);
  });
  producer.start();
  for (int i = 0; i < 10; ++i) {
    std::scoped_lock hold(lock);
    total += q.get();
  }
  producer.join();

  concur::futures::ThreadPoolExecutor pool({.max_workers = 2});
  auto doubled = pool.submit([](int x) { return 2 * x; }, total);
  if (doubled.result() != 110) return 1;
  std::puts("consumer ok");
  return 0;
}
