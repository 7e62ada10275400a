// SPDX-License-Identifier: MIT
// concur/malloc.hpp: tune_malloc() validates its thresholds, and after it a program that frees
// large blocks keeps the memory for the next ones instead of giving it back to the kernel.
// The tuning cannot be undone, so each check that applies it runs in a forked child.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "concur/errors.hpp"
#include "concur/malloc.hpp"

namespace {

/// Runs `body` in a forked child; returns its exit status (or 128 + signal).
int in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Allocates four 512 KiB blocks, writes them, frees them, and returns the free bytes malloc
/// then keeps in its arenas (mallinfo2's fordblks): what the next allocations reuse unseen.
std::size_t kept_after_freeing_large_blocks() {
  constexpr std::size_t kBlock = 512 * 1024;
  void* blocks[4];
  for (void*& b : blocks) {
    b = std::malloc(kBlock);
    std::memset(b, 1, kBlock);
  }
  for (void* b : blocks) std::free(b);
  return ::mallinfo2().fordblks;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

}  // namespace

TEST(TuneMalloc, refuses_thresholds_that_glibc_would_refuse) {
  EXPECT_THROW(concur::tune_malloc({.mmap_threshold = 0}), concur::ValueError);
  EXPECT_THROW(concur::tune_malloc({.mmap_threshold = std::size_t{64} << 20}), concur::ValueError);
  EXPECT_THROW(concur::tune_malloc({.trim_threshold = 0}), concur::ValueError);
  EXPECT_THROW(concur::tune_malloc({.trim_threshold = std::size_t{1} << 40}), concur::ValueError);
}

TEST(TuneMalloc, freed_large_blocks_stay_for_reuse_after_it_and_go_back_to_the_kernel_without_it) {
  if (kSanitizerAllocator) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc, which the tuning sets";
  // With glibc's defaults, the first 512 KiB blocks get mmaps of their own, unmapped at free.
  EXPECT_EQ(in_child([] { return kept_after_freeing_large_blocks() < (std::size_t{1} << 20) ? 0 : 1; }), 0);
  // Tuned, they come from the heap and stay there once freed (2 MiB, less nothing).
  EXPECT_EQ(in_child([] {
              concur::tune_malloc();
              return kept_after_freeing_large_blocks() >= (std::size_t{2} << 20) ? 0 : 1;
            }),
            0);
}
