// SPDX-License-Identifier: MIT
// Must not compile: a Lock (like a Queue, an Event or a Value) reaches a child process as the
// child's own handle of the same lock, which the target must take by reference — and the error
// says so in one line.
#include <concur/multiprocessing.hpp>

namespace mp = concur::multiprocessing;

void worker(mp::Lock lock) { lock.acquire(); }

int main() {
  mp::Lock lock;
  mp::Process p(worker, lock);
  p.start();
  p.join();
  return 0;
}
