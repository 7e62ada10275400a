// SPDX-License-Identifier: MIT
// Shared-memory files that MPI receives large blocks into (internal), reused.
//
// A block received from another rank lands straight in a memfd, which the receiver then
// decodes from (rank 0) or hands to its local worker process by descriptor (a worker rank).
// A fresh memfd per message costs a page fault and a zeroed page per 4 KiB, and the worker
// process maps it anew; so files are kept, mapped, once their message was consumed, and the
// next message of at most their size goes into one of them (the worker process's mapping of
// the same file is cached too, see SegmentMappings). A buffer returns to the set when the
// last holder of its lease (a Payload's blob_lease, or a PoolTask's chunk) drops it: only then
// has every reader finished with it.
//
// Thread safety: take() and the leases' release may happen on any thread.
#pragma once

#include <concur/multiprocessing/serialize.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace concur::mpi::detail {

class BlobBuffers {
 public:
  struct Buffer {
    multiprocessing::detail::UniqueFd fd;
    unsigned char* data = nullptr;  // PROT_READ | PROT_WRITE, MAP_SHARED, `capacity` bytes
    std::size_t capacity = 0;
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();
  };
  /// A buffer of at least `size` bytes, held while the returned lease lives. Aborts the job
  /// (after saying why) when shared memory cannot be had.
  std::shared_ptr<Buffer> take(std::size_t size);

 private:
  void give_back(Buffer* b) noexcept;

  static constexpr std::size_t max_kept = 8;                          // buffers kept free
  static constexpr std::size_t max_kept_bytes = std::size_t{256} << 20;  // and their bytes
  std::mutex m_mutex;  // guards m_free
  std::vector<std::unique_ptr<Buffer>> m_free;
};

/// The process's set.
BlobBuffers& blob_buffers();

}  // namespace concur::mpi::detail
