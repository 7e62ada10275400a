// SPDX-License-Identifier: MIT
// 1_basic_threading — the classic guide's first program (1_basic_threading.py): a Thread subclass.
//
// Two threads run concurrently, each printing its name and a timestamp after every delay:
// Thread-1 every 1 s, Thread-2 every 2 s, five times each. While one thread sleeps the other
// runs, so the whole program takes about 10 s (the longer thread), not 15 s (the sum).
//
// As in Python, the thread class derives from Thread and overrides run(); start() runs it on a
// new OS thread and join() waits for it. `--speed N` divides every delay by N.
//
//   $ 1_basic_threading
//   Starting Thread-1
//   Starting Thread-2
//   Thread-1: Tue Nov 24 02:09:03.001 2026
//   Thread-2: Tue Nov 24 02:09:04.001 2026
//   Thread-1: Tue Nov 24 02:09:04.002 2026
//   ...
//   Exiting Thread-1
//   ...
//   Exiting Thread-2
//   Exiting Main Thread
#include <fmt/core.h>

#include <chrono>
#include <string>
#include <utility>

#include <concur/threading.hpp>

#include "common/speed.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

/// Prints `thread_name` and the time, `counter` times, sleeping `delay` before each.
void print_time(const std::string& thread_name, int counter, std::chrono::duration<double> delay,
                const examples::Speed& speed) {
  while (counter > 0) {
    speed.sleep(delay);
    fmt::print("{}: {}\n", thread_name, examples::ctime_now());
    --counter;
  }
}

/// Python's `class myThread(threading.Thread)`: the work is in run().
class MyThread : public th::Thread {
 public:
  MyThread(int thread_id, std::string name, std::chrono::duration<double> delay, examples::Speed speed)
      : th::Thread({.name = std::move(name)}), m_thread_id(thread_id), m_delay(delay), m_speed(speed) {}

  [[nodiscard]] int thread_id() const { return m_thread_id; }

 protected:
  void run() override {
    fmt::print("Starting {}\n", name());
    print_time(name(), 5, m_delay, m_speed);
    fmt::print("Exiting {}\n", name());
  }

 private:
  int m_thread_id;
  std::chrono::duration<double> m_delay;
  examples::Speed m_speed;
};

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);

  MyThread thread1(1, "Thread-1", 1s, speed);
  MyThread thread2(2, "Thread-2", 2s, speed);

  thread1.start();
  thread2.start();
  thread1.join();
  thread2.join();
  fmt::print("Exiting Main Thread\n");
  return 0;
}
