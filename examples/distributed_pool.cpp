// SPDX-License-Identifier: MIT
// distributed_pool — the image scenario across the machines of an MPI job: the same pool.map,
// one worker per MPI rank.
//
//   $ mpirun -n 3 build/release/bin/distributed_pool [--images N] [--size PIXELS]
//   $ mpirun --hostfile hosts -n 64 distributed_pool       (see docs/distributed.md)
//   $ build/release/bin/distributed_pool                   (one rank: local worker processes)
//
// Rank 0 runs main; every other rank serves tasks from concur::mpi::init() on. Each task makes
// a grayscale image (standing in for loading one), blurs it and returns a checksum; the
// program checks the pool's checksums against a serial run of a few images, shows imap's
// results arriving in order, and shows that a task which crashes its process fails alone
// (ProcessError naming the rank and the signal) while the job carries on.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <concur/mpi.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <ranges>
#include <string>
#include <vector>

namespace mpi = concur::mpi;
using Clock = std::chrono::steady_clock;

namespace {

/// Makes image `index` (size x size, 8-bit gray), applies a 3x3 box blur, returns a checksum.
std::uint64_t process_image(int index, int size) {
  const auto n = static_cast<std::size_t>(size);
  std::vector<std::uint8_t> gray(n * n);
  for (std::size_t p = 0; p < gray.size(); ++p)
    gray[p] = static_cast<std::uint8_t>((p % n) * 7 + (p / n) * 5 + static_cast<std::size_t>(index) * 3);
  std::uint64_t checksum = 1469598103934665603ULL;
  for (std::size_t y = 1; y + 1 < n; ++y) {
    for (std::size_t x = 1; x + 1 < n; ++x) {
      unsigned sum = 0;
      for (std::size_t dy = 0; dy < 3; ++dy) {
        for (std::size_t dx = 0; dx < 3; ++dx) sum += gray[(y + dy - 1) * n + (x + dx - 1)];
      }
      checksum = (checksum ^ (sum / 9)) * 1099511628211ULL;
    }
  }
  return checksum;
}

/// A 64x64 image's checksum (one argument, for imap).
std::uint64_t small_image(int index) { return process_image(index, 64); }

/// Which rank ran a task: the value of Open MPI's OMPI_COMM_WORLD_RANK in the task's process
/// (-1 on a single rank).
int task_rank(int) {
  const char* r = std::getenv("OMPI_COMM_WORLD_RANK");
  return r != nullptr ? std::atoi(r) : -1;
}

/// first, ..., last - 1 (clang 14 cannot compile libstdc++ 12's std::views::iota).
std::vector<int> numbers(int first, int last) {
  std::vector<int> v;
  for (int i = first; i < last; ++i) v.push_back(i);
  return v;
}

int crash(int) {
  std::raise(SIGSEGV);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mpi::init(argc, argv);  // ranks >= 1 serve tasks from here until rank 0's program exits
  int images = 1000;
  int size = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") images = std::atoi(argv[i + 1]);
    else if (flag == "--size") size = std::atoi(argv[i + 1]);
  }

  mpi::Pool pool;
  if (pool.distributed()) {
    fmt::print("{} ranks: rank 0 runs this program, {} worker rank(s) run the tasks\n", mpi::size(), pool.processes());
  } else {
    fmt::print("one rank (no mpirun): the pool runs its tasks in {} local worker processes\n", pool.processes());
  }

  const auto ranks = pool.map(task_rank, numbers(0, static_cast<int>(pool.processes()) * 4), 1);
  std::vector<int> seen;
  for (int r : ranks) {
    if (std::find(seen.begin(), seen.end(), r) == seen.end()) seen.push_back(r);
  }
  std::sort(seen.begin(), seen.end());
  if (pool.distributed()) fmt::print("tasks ran on ranks: {}\n", fmt::join(seen, ", "));

  const auto t0 = Clock::now();
  std::vector<std::pair<int, int>> work;
  for (int i = 0; i < images; ++i) work.emplace_back(i, size);
  const auto checksums = pool.starmap(process_image, work);
  const std::chrono::duration<double> took = Clock::now() - t0;
  fmt::print("{} images of {}x{} in {:.2f} s on the pool\n", images, size, size, took.count());
  for (int i = 0; i < std::min(images, 5); ++i) {
    if (checksums[static_cast<std::size_t>(i)] != process_image(i, size)) {
      fmt::print(stderr, "image {}: the pool's checksum differs from a serial run\n", i);
      return 1;
    }
  }
  fmt::print("checksums of the first images match a serial run\n");

  std::size_t arrived = 0;
  for (std::uint64_t c : pool.imap(small_image, numbers(0, 8))) {
    (void)c;
    ++arrived;
  }
  fmt::print("imap: {} results, in input order\n", arrived);

  try {
    pool.apply(crash, 0);
  } catch (const concur::ProcessError& e) {
    fmt::print("a crashing task failed alone: {}\n", e.what());
  }
  fmt::print("and the pool goes on: process_image(7) = {:#x}\n", pool.apply(process_image, 7, size));
  pool.close();
  pool.join();
  return 0;
}
