// SPDX-License-Identifier: MIT
// Must not compile: ProcessPoolExecutor lives in <concur/futures/process.hpp> (it belongs to
// the multiprocessing component), and <concur/futures.hpp> alone only declares it.
#include <concur/futures.hpp>

int square(int x) { return x * x; }

int main() {
  concur::futures::ProcessPoolExecutor pool({.max_workers = 2});
  return pool.submit(square, 3).result();
}
