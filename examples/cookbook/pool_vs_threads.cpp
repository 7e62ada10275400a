// SPDX-License-Identifier: MIT
// examples/cookbook/pool_vs_threads.cpp — the same CPU-bound function over 1,000 images with
// multiprocessing::Pool::map and with futures::ThreadPoolExecutor::map, timed side by side.
// docs/cookbook/pool-vs-threads.md shows it beside the Python original.
//
//   cookbook_pool_vs_threads [--images N] [--size PIXELS]
//
// Each task makes a size x size RGB image (standing in for loading a file), converts it to
// grayscale, blurs it (3x3) and returns a checksum (standing in for saving it). The program
// prints both times and checks that the two runs computed the same checksums for every image;
// it exits with 1 otherwise. It makes no claim about which is faster: it prints what it
// measured on the machine it runs on.
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <utility>
#include <string_view>
#include <vector>

#include <concur/futures.hpp>
#include <concur/multiprocessing.hpp>

#include "common/args.hpp"

namespace mp = concur::multiprocessing;
namespace futures = concur::futures;
using Clock = std::chrono::steady_clock;

namespace {

/// One image to process: its number and its width (= height) in pixels.
using Image = std::pair<int, int>;

/// The image, grayscaled and blurred; returns its checksum. A plain function: it can run in a
/// worker process.
std::uint64_t process_image(Image image) {
  const auto [index, size] = image;
  const auto n = static_cast<std::size_t>(size);
  std::vector<std::uint8_t> gray(n * n);
  for (std::size_t y = 0; y < n; ++y) {
    for (std::size_t x = 0; x < n; ++x) {
      const unsigned r = static_cast<unsigned>(x * 7 + static_cast<std::size_t>(index)) & 255u;
      const unsigned g = static_cast<unsigned>(y * 5 + static_cast<std::size_t>(index) * 3) & 255u;
      const unsigned b = static_cast<unsigned>((x ^ y) + static_cast<std::size_t>(index) * 11) & 255u;
      gray[y * n + x] = static_cast<std::uint8_t>((299 * r + 587 * g + 114 * b) / 1000);
    }
  }
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a of the blurred image
  for (std::size_t y = 1; y + 1 < n; ++y) {
    for (std::size_t x = 1; x + 1 < n; ++x) {
      unsigned sum = 0;
      for (std::size_t dy = 0; dy < 3; ++dy) {
        for (std::size_t dx = 0; dx < 3; ++dx) sum += gray[(y + dy - 1) * n + (x + dx - 1)];
      }
      hash = (hash ^ (sum / 9)) * 1099511628211ull;
    }
  }
  return hash;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
  int images = 1000;
  int size = 128;
  for (int i = 1; i < argc; i += 2) {  // option, value
    const std::string_view arg = argv[i];
    // The option's value, or 0 when it is missing or not a number from 1 to 1'000'000.
    const int value = i + 1 < argc ? examples::parse_integer<int>(argv[i + 1], 1, 1'000'000).value_or(0) : 0;
    if (arg == "--images" && value > 0) {
      images = value;
    } else if (arg == "--size" && value >= 3 && value <= 4096) {
      size = value;
    } else {
      fmt::print(stderr, "usage: cookbook_pool_vs_threads [--images N] [--size PIXELS (3 to 4096)]\n");
      return 2;
    }
  }
  const int workers = static_cast<int>(mp::process_cpu_count());
  std::vector<Image> batch;
  for (int i = 0; i < images; ++i) batch.emplace_back(i, size);

  // Processes. The Pool is made while no other thread exists (see the page: fork vs forkserver).
  auto start = Clock::now();
  std::vector<std::uint64_t> by_processes;
  {
    mp::Pool pool({.processes = workers});
    by_processes = pool.map(process_image, batch);
  }
  const double t_processes = seconds_since(start);

  // Threads.
  start = Clock::now();
  std::vector<std::uint64_t> by_threads;
  {
    futures::ThreadPoolExecutor pool({.max_workers = workers});
    for (std::uint64_t checksum : pool.map(process_image, batch)) by_threads.push_back(checksum);
  }
  const double t_threads = seconds_since(start);

  fmt::print("{} images of {}x{} pixels on {} workers:\n", images, size, size, workers);
  fmt::print("  multiprocessing::Pool::map:          {:.3f} s (worker start-up included)\n", t_processes);
  fmt::print("  futures::ThreadPoolExecutor::map:    {:.3f} s\n", t_threads);
  const bool same = by_processes == by_threads && by_processes.size() == batch.size();
  fmt::print("the same {} checksums both ways: {}\n", batch.size(), same ? "yes" : "NO");
  return same ? 0 : 1;
}
