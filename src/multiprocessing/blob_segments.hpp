// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: recycled shared-memory segments for the large blocks of a
// Pool's tasks (see RecycledBlobScope in serialize.hpp).
//
// Why: a fresh memfd per message costs, for every page of the blob, a page allocation, its
// zeroing and a copy through pwrite, then the freeing of it all at close — measured at about
// 5x the cost of a plain memcpy into pages that are already there. A segment is a memfd with
// a writable mapping that stays mapped in this process: once a task that used it is done, the
// next task's blocks are copied straight into its warm pages. The receiver is unchanged: it
// gets a descriptor and reads `blob_size` bytes from offset 0 (a recycled file may be larger
// than the blob; what lies beyond is never read).
//
// Lifetime: the segments belong to one SegmentPool per process, alive while something retains
// it (each PoolCore does, see retain_blob_segments); with none, serialize() falls back to a
// fresh memfd. A checked-out segment is held by a shared_ptr (in BlobWriter, then in the
// Payload's blob_lease) whose deleter gives it back; it is reused only after that, i.e. once
// the Pool dropped the task — which it does only after the worker that read it answered or
// died. The pool keeps at most `retained_limit` bytes of free segments and frees the rest.
//
// Fork: a segment's descriptor is parent-only (closed in children started with "fork") and
// its mapping is MADV_DONTFORK; a forked child never uses the segments it inherited in
// memory (every entry point checks the creating pid).
#pragma once

#include <concur/multiprocessing/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace concur::multiprocessing::detail {

/// Free segments the process keeps for reuse, at most (bytes written into them).
inline constexpr std::size_t retained_limit = std::size_t{256} << 20;

/// A free segment of the process's pool (a new one when none is free), checked out until the
/// returned pointer's last copy is gone; null when no pool is retained in this process.
/// Throws OSError when a new segment cannot be created.
std::shared_ptr<BlobSegment> acquire_blob_segment();

/// Copies `size` bytes to `offset` of the segment, growing its file as needed. OSError when
/// the file cannot grow.
void blob_segment_write(BlobSegment& segment, std::uint64_t offset, const void* data, std::size_t size);

/// The segment's descriptor (owned by the segment).
int blob_segment_fd(const BlobSegment& segment) noexcept;

/// The receiving side (a pool worker): keeps the segments it was sent mapped, so that a task's
/// blocks are read with a memcpy from warm mappings rather than a pread (measured 3x faster)
/// or a fresh mapping per task, whose page-table faults cost about as much as the pread.
///
/// A segment is recognised by its open file description (kcmp: the descriptor that arrives
/// shares it with the sender's), never by inode number alone, which the kernel may reuse once
/// a file is gone. At most `max_entries` segments and `max_bytes` of mappings are kept (least
/// recently used first out; a file larger than that is not mapped); each entry holds a
/// descriptor and a read-only mapping. Not thread-safe: one per worker loop.
class SegmentMappings {
 public:
  SegmentMappings() = default;
  SegmentMappings(const SegmentMappings&) = delete;
  SegmentMappings& operator=(const SegmentMappings&) = delete;
  ~SegmentMappings();

  /// The first `size` bytes of the file `fd` refers to, mapped (valid until the next call, or
  /// the destructor); null when it cannot be mapped this way (then read `fd`). Throws
  /// SerializationError when the file is shorter than `size`.
  const unsigned char* view(int fd, std::uint64_t size);

 private:
  struct Entry {
    UniqueFd fd;                          // a descriptor of the same open file
    std::uint64_t ino = 0;
    const unsigned char* data = nullptr;  // PROT_READ, MAP_SHARED, of [0, size)
    std::size_t size = 0;
    std::uint64_t used = 0;               // m_clock when last used
  };
  static constexpr std::size_t max_entries = 16;
  static constexpr std::size_t max_bytes = std::size_t{512} << 20;
  void evict(std::size_t index);

  std::vector<Entry> m_entries;
  std::uint64_t m_clock = 0;
  bool m_disabled = false;  // kcmp is not available: every view() returns null
};

}  // namespace concur::multiprocessing::detail
