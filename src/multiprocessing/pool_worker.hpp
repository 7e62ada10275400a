// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: the worker side of a Pool (and ProcessPoolExecutor).
#pragma once

#include <concur/multiprocessing/serialize.hpp>

#include "reply_ring.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace concur::multiprocessing::detail {

/// Shared memory between a worker and the parent. The worker writes `current` and
/// `initialized`, the parent reads them after the worker ended (its exit orders the writes
/// before the parent's reads; the release/acquire pair says so in the code, too). `replies`
/// is the ring the worker's replies go into (reply_ring.hpp).
struct WorkerPage {
  std::atomic<std::uint64_t> current{0};     // id of the task being run; 0 between tasks
  std::atomic<std::uint32_t> initialized{0};  // 1 once the initializer returned
  ReplyRing replies;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "a process-shared atomic must be lock-free");

/// A descriptor as a Process argument: the parent names it (fd, not owned), the child owns
/// its copy.
struct FdArg {
  int fd = -1;
  UniqueFd owned;
  FdArg() = default;
  explicit FdArg(int borrowed) : fd(borrowed) {}
  void save(OutputArchive& ar) const { ar(ar.attach_fd(fd)); }
  void load(InputArchive& ar) {
    std::uint64_t index = 0;
    ar(index);
    owned = ar.take_fd(index);
    fd = owned.get();
  }
};

/// A pool worker's process target: runs the initializer, then tasks from `channel` until EOF
/// (or `maxtasks` tasks when not 0).
void pool_worker_main(FdArg channel, FdArg page, std::uint64_t init_entry, std::uint64_t init_fn,
                      std::string init_args, std::uint64_t maxtasks);

}  // namespace concur::multiprocessing::detail
