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

/// The initializer's encoded arguments as a Process argument: the parent lends the Payload it
/// keeps for the pool's life (its bytes are copied, its blob and descriptors duplicated, for
/// each worker); the worker owns what it received.
struct InitArgs {
  const Payload* lent = nullptr;
  Payload payload;
  void save(OutputArchive& ar) const {
    static const Payload none;
    const Payload& p = lent != nullptr ? *lent : none;
    const bool has_blob = static_cast<bool>(p.blob);
    const std::uint64_t blob_size = has_blob ? p.blob_size : 0;
    ar(p.bytes, has_blob, blob_size);
    if (has_blob) ar(ar.attach_fd(p.blob.get()));
    const std::uint64_t n = p.fds.size();
    ar(n);
    for (const UniqueFd& fd : p.fds) ar(ar.attach_fd(fd.get()));
  }
  void load(InputArchive& ar) {
    bool has_blob = false;
    ar(payload.bytes, has_blob, payload.blob_size);
    std::uint64_t index = 0;
    if (has_blob) {
      ar(index);
      payload.blob = ar.take_fd(index);
    } else if (payload.blob_size != 0) {
      InputArchive::fail("initializer arguments: a blob size without a blob");
    }
    std::uint64_t n = 0;
    ar(n);
    ar.check_length(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      ar(index);
      payload.fds.push_back(ar.take_fd(index));
    }
  }
};

/// A pool worker's process target: runs the initializer, then tasks from `channel` until EOF
/// (or `maxtasks` tasks when not 0).
void pool_worker_main(FdArg channel, FdArg page, std::uint64_t init_entry, std::uint64_t init_fn,
                      InitArgs init_args, std::uint64_t maxtasks);

}  // namespace concur::multiprocessing::detail
