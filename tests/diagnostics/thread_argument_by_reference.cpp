// SPDX-License-Identifier: MIT
// Must not compile: Thread copies its arguments (as std::thread does), so a target that takes
// an argument by reference needs std::ref — and the error says so in one line.
#include <concur/threading/thread.hpp>

void add_one(int& counter) { ++counter; }

int main() {
  int counter = 0;
  concur::threading::Thread t(add_one, counter);
  t.start();
  t.join();
  return counter;
}
