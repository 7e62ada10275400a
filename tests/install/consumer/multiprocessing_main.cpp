// SPDX-License-Identifier: MIT
// A consumer of the multiprocessing component alone (concur::concur_multiprocessing, or
// `pkg-config --cflags --libs concur-multiprocessing`): a process pool maps a plain function.
#include <concur/multiprocessing.hpp>

#include <cstdio>
#include <vector>

namespace mp = concur::multiprocessing;

namespace {

int square(int x) { return x * x; }

}  // namespace

int main() {
  mp::Pool pool({.processes = 2});
  const std::vector<int> squares = pool.map(square, std::vector<int>{1, 2, 3, 4});
  pool.close();
  pool.join();
  if (squares != std::vector<int>{1, 4, 9, 16}) return 1;
  std::puts("multiprocessing consumer ok");
  return 0;
}
