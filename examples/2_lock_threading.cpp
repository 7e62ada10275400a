// SPDX-License-Identifier: MIT
// 2_lock_threading — the classic guide's second program (2_lock_threading.py): a Lock.
//
// Three tasks print timestamps; the Lock is "the public restroom with a single lock on the
// door". Two strategies are shown side by side:
//   - Payment holds the lock for its whole run: nobody else gets past `with lock` meanwhile
//     (serialized access);
//   - Mail and Page take the lock only briefly (to synchronize with whatever holds it), then
//     release it and do their work independently, concurrently with each other.
// So Mail and Page wait until Payment is done, then run side by side.
//
// Python's `with lock:` is `std::scoped_lock hold(lock);` (Lock is Lockable); Python's
// lock.acquire()/lock.release() are there too. `--speed N` divides every delay by N.
#include <fmt/core.h>

#include <chrono>
#include <mutex>
#include <string>

#include <concur/threading.hpp>

#include "common/speed.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

namespace {

th::Lock lock;
// Set by Payment once it holds the lock, so that Mail and Page always find it taken and the
// output is the same on every run (in Python's version that order is left to chance).
th::Event payment_holds_lock;

void print_time(const std::string& name, int counter, Seconds delay, const examples::Speed& speed) {
  for (; counter > 0; --counter) {
    speed.sleep(delay);
    fmt::print("{}: {}\n", name, examples::ctime_now());
  }
}

/// Holds the lock for its whole run: serialized access.
void payment(int counter, Seconds delay, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  lock.acquire();
  fmt::print("{}: acquired the lock; holding it for the whole run\n", name);
  payment_holds_lock.set();
  print_time(name, counter, delay, speed);
  fmt::print("{}: releasing the lock\n", name);
  lock.release();
}

/// Takes the lock only to synchronize, then works independently.
void brief_sync(int counter, Seconds delay, const examples::Speed& speed) {
  const std::string name = th::current_thread().name();
  const auto asked = std::chrono::steady_clock::now();
  fmt::print("{}: waiting for the lock\n", name);
  {
    std::scoped_lock hold(lock);  // Python: with lock:
    const Seconds waited = std::chrono::steady_clock::now() - asked;
    fmt::print("{}: synchronized after {:.2f} s; releasing the lock at once\n", name, waited.count());
  }
  print_time(name, counter, delay, speed);
  fmt::print("{}: done\n", name);
}

}  // namespace

int main(int argc, char** argv) {
  const examples::Speed speed = examples::parse_speed(argc, argv);

  th::Thread payment_thread({.name = "Payment"}, payment, 3, Seconds(1s), speed);
  th::Thread mail_thread({.name = "Mail"}, brief_sync, 3, Seconds(1s), speed);
  th::Thread page_thread({.name = "Page"}, brief_sync, 3, Seconds(1.5s), speed);

  payment_thread.start();
  payment_holds_lock.wait();
  mail_thread.start();
  page_thread.start();

  payment_thread.join();
  mail_thread.join();
  page_thread.join();
  fmt::print("Exiting Main Thread\n");
  return 0;
}
