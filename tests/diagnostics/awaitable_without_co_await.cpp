// SPDX-License-Identifier: MIT
// Must not compile under -Werror: each awaitable below is dropped without co_await, so it
// would do nothing (Python only notices at run time: "coroutine ... was never awaited").
#include <concur/asyncio.hpp>

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;

asyncio::Task<int> work() { co_return 1; }

asyncio::Task<void> forgetful(asyncio::Lock& lock, asyncio::Event& event, asyncio::Queue<int>& queue,
                              asyncio::Semaphore& semaphore, asyncio::Condition& condition,
                              asyncio::StreamReader& reader, asyncio::StreamWriter& writer) {
  asyncio::sleep(100ms);
  work();
  lock.acquire();
  event.wait();
  queue.get();
  queue.put(1);
  semaphore.acquire();
  condition.wait();
  reader.readline();
  writer.drain();
  writer.wait_closed();
  asyncio::gather(work(), work());
  asyncio::wait_for(work(), 1s);
  asyncio::to_thread([] { return 1; });
  asyncio::shield(work());
  co_return;
}
