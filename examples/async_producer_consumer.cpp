// SPDX-License-Identifier: MIT
// async_producer_consumer — producers and consumers over an asyncio::Queue, in one thread.
//
// Two producers put 5 jobs each into a bounded queue (maxsize 3: a producer waits while it is
// full); three consumers take jobs, "process" them (a sleep), and mark them done. The main
// task waits with queue.join() until every job is processed, then cancels the consumers, which
// wait forever on an empty queue otherwise. `--speed N` divides every delay by N.
//
//   $ async_producer_consumer
//   producer-1 put job 1-1 (queue size 1)
//   consumer-1 processing job 1-1
//   ...
//   all 10 jobs processed in 1.40 s; consumers cancelled
#include <fmt/core.h>

#include <chrono>
#include <string>
#include <vector>

#include <concur/asyncio.hpp>

#include "common/speed.hpp"

namespace asyncio = concur::asyncio;
using Seconds = std::chrono::duration<double>;

namespace {

asyncio::Task<void> producer(int id, asyncio::Queue<std::string>& queue, examples::Speed speed) {
  for (int i = 1; i <= 5; ++i) {
    std::string job = fmt::format("{}-{}", id, i);
    co_await queue.put(job);  // waits while the queue is full
    fmt::print("producer-{} put job {} (queue size {})\n", id, job, queue.qsize());
    co_await asyncio::sleep(speed(Seconds(0.1)));
  }
}

asyncio::Task<void> consumer(int id, asyncio::Queue<std::string>& queue, int& processed, examples::Speed speed) {
  for (;;) {
    std::string job = co_await queue.get();  // CancelledError here ends the consumer
    fmt::print("consumer-{} processing job {}\n", id, job);
    co_await asyncio::sleep(speed(Seconds(0.4)));
    ++processed;
    queue.task_done();
  }
}

asyncio::Task<void> main_task(examples::Speed speed) {
  auto& loop = asyncio::get_running_loop();
  const double start = loop.time();
  asyncio::Queue<std::string> queue(3);
  int processed = 0;
  std::vector<asyncio::Task<void>> consumers;
  for (int id = 1; id <= 3; ++id) consumers.push_back(asyncio::create_task(consumer(id, queue, processed, speed)));
  co_await asyncio::gather(producer(1, queue, speed), producer(2, queue, speed));
  co_await queue.join();  // every job put was marked task_done()
  for (auto& c : consumers) c.cancel();
  co_await asyncio::gather(asyncio::return_exceptions, consumers);  // wait for them to finish
  fmt::print("all {} jobs processed in {:.2f} s; consumers cancelled\n", processed, loop.time() - start);
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);
  asyncio::run(main_task(speed));
  return 0;
}
