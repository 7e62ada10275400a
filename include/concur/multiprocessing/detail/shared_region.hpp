// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/shared_region.hpp — shared memory behind the IPC objects.
//
// Internal to concur::multiprocessing (Value, Array, the process-shared locks, the queues).
//
// A SharedRegion is one MAP_SHARED mapping of an anonymous memory file (memfd), zero-filled.
// A process forked after the region was created sees the same physical pages at the same
// address, so an object placed in it (a robust pthread mutex, a counter, a ctypes-like value) is
// shared by every process of the family. Any other process that is handed the file's
// descriptor maps the same pages too, at an address of its own: that is how a handle reaches a
// "forkserver" child (reduce() / the from_reduction constructor, see reduction.hpp). The file
// has no name, so nothing can leak: the kernel frees the pages when the last process that maps
// them or holds the descriptor lets go, however it exits.
//
// One region per object costs a page (4 KiB) and a descriptor (close-on-exec) per Lock or
// Value; Python packs its objects into shared arenas. A process-wide arena allocator would need
// a cross-process free list for little gain at the object counts multiprocessing programs use,
// so concur keeps the simple mapping. The descriptor is what lets the region be handed to a
// process that was not forked from this one.
//
// Thread safety: the handle is not synchronized (construct, move and destroy it from one thread);
// the memory it maps is synchronized by whatever the caller places in it.
#pragma once

#include <cstddef>
#include <utility>

#include "concur/export.hpp"
#include "concur/multiprocessing/detail/unique_fd.hpp"
#include "concur/multiprocessing/reduction.hpp"

namespace concur::multiprocessing::detail {

class CONCUR_API SharedRegion {
 public:
  /// An empty handle mapping nothing.
  SharedRegion() noexcept = default;
  /// Maps `size` zero-filled shared bytes (rounded up to whole pages by the kernel).
  /// Throws ValueError for size 0 and OSError when the memory file or the mapping fails.
  explicit SharedRegion(std::size_t size);
  /// Maps the region another process reduced (see reduction.hpp). SerializationError when the
  /// descriptor is missing, or its file or the size recorded is smaller than `at_least`; OSError.
  SharedRegion(from_reduction_t, InputArchive& ar, std::size_t at_least);
  SharedRegion(SharedRegion&& other) noexcept
      : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)), m_fd(std::move(other.m_fd)) {}
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  /// Unmaps the region in this process only; other processes keep their mapping.
  ~SharedRegion();

  /// The first byte of the mapping, or nullptr for an empty handle.
  [[nodiscard]] void* data() const noexcept { return m_data; }
  /// The size that was asked for (0 for an empty handle).
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  /// Records the memory file (a duplicate of its descriptor) and the size.
  void reduce(OutputArchive& ar) const;

  /// The mapping seen as a T (the caller constructed a T there).
  template <class T>
  [[nodiscard]] T* as() const noexcept {
    return static_cast<T*>(m_data);
  }

 private:
  void* m_data = nullptr;  // nullptr iff m_size == 0
  std::size_t m_size = 0;
  UniqueFd m_fd;           // the memory file; empty iff m_size == 0
};

}  // namespace concur::multiprocessing::detail
