// SPDX-License-Identifier: MIT
// examples/cookbook/shared_counters.cpp — counters shared by several processes: a
// multiprocessing::Value incremented under its own lock, an Array with one slot per worker,
// and a lock-free Value guarded by a separate multiprocessing::Lock — all passed to each
// Process as arguments, under both start methods.
// docs/cookbook/shared-counters.md shows it beside the Python original.
//
//   cookbook_shared_counters [--increments N]
//
// Four workers each add 1 to the shared counters N times. The program checks, for "fork" and
// for "forkserver", that no increment was lost (4 * N in the locked counters, N in each
// worker's slot); it exits with 1 otherwise.
#include <fmt/core.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <concur/multiprocessing.hpp>

#include "common/args.hpp"

namespace mp = concur::multiprocessing;

namespace {

constexpr int kWorkers = 4;

/// Runs in a child. `total` carries its own lock; `raw` has none, so `lock` guards it;
/// `per_worker[slot]` is written by this worker only.
void count(int slot, int increments, mp::Value<long>& total, mp::Value<long>& raw, mp::Lock& lock,
           mp::Array<int>& per_worker) {
  for (int i = 0; i < increments; ++i) {
    {
      std::scoped_lock hold(total.get_lock());  // Python: with total.get_lock(): total.value += 1
      total.get_obj() += 1;
    }
    {
      std::scoped_lock hold(lock);  // Python: with lock: raw.value += 1
      raw.get_obj() += 1;
    }
    per_worker.get_obj()[static_cast<std::size_t>(slot)] += 1;  // nobody else writes this slot
  }
}

bool run(const std::string& start_method, int increments) {
  mp::Value<long> total(0);
  mp::Value<long> raw(0, {.lock = false});
  mp::Lock lock;
  mp::Array<int> per_worker(kWorkers);

  const mp::Context context = mp::get_context(start_method);
  std::vector<mp::Process> workers;
  for (int slot = 0; slot < kWorkers; ++slot) {
    workers.push_back(context.Process(count, slot, increments, total, raw, lock, per_worker));
  }
  for (mp::Process& p : workers) p.start();
  for (mp::Process& p : workers) p.join();

  bool ok = total.value() == long{kWorkers} * increments && raw.get_obj() == long{kWorkers} * increments;
  for (const int n : per_worker.to_vector()) ok = ok && n == increments;
  for (const mp::Process& p : workers) ok = ok && p.exitcode() == 0;
  fmt::print("{:>10}: total = {}, raw (with a separate Lock) = {}, per worker = [", start_method, total.value(),
             raw.get_obj());
  const std::vector<int> slots = per_worker.to_vector();
  for (std::size_t i = 0; i < slots.size(); ++i) fmt::print("{}{}", i == 0 ? "" : ", ", slots[i]);
  fmt::print("]; expected {} and {} each: {}\n", long{kWorkers} * increments, increments, ok ? "yes" : "NO");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int increments = 10000;
  if (argc == 3 && std::string_view(argv[1]) == "--increments" && examples::parse_integer<int>(argv[2], 1, 10'000'000)) {
    increments = *examples::parse_integer<int>(argv[2], 1, 10'000'000);
  } else if (argc != 1) {
    fmt::print(stderr, "usage: cookbook_shared_counters [--increments N]\n");
    return 2;
  }
  try {
    const bool forked = run("fork", increments);
    const bool served = run("forkserver", increments);
    return forked && served ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_shared_counters: {}\n", e.what());
    return 1;
  }
}
