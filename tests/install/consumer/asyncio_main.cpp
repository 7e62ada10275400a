// SPDX-License-Identifier: MIT
// A consumer of the asyncio component alone (concur::concur_asyncio, or
// `pkg-config --cflags --libs concur-asyncio`): two tasks gathered on the event loop.
#include <concur/asyncio.hpp>
#include <concur/version.hpp>

#include <chrono>
#include <cstdio>
#include <tuple>

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Task<int> twice(int x) {
  co_await asyncio::sleep(1ms);
  co_return 2 * x;
}

asyncio::Task<int> main_task() {
  auto [a, b] = co_await asyncio::gather(twice(20), twice(1));
  co_return a + b;
}

}  // namespace

int main() {
  if (asyncio::run(main_task()) != 42) return 1;
  std::printf("asyncio consumer ok (concur %s)\n", concur::version().data());
  return 0;
}
