// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/shared_region.hpp — anonymous shared memory, inherited by fork.
//
// Internal to concur::multiprocessing (Value, Array, the process-shared locks, the queues).
//
// A SharedRegion is one MAP_SHARED | MAP_ANONYMOUS mapping, zero-filled. A process forked after
// the region was created sees the same physical pages at the same address, so an object placed
// in it (a robust pthread mutex, a counter, a ctypes-like value) is shared by every process of
// the family. The region has no name, so nothing can leak: the kernel frees the pages when the
// last process that maps them unmaps them or exits, however it exits. This is Python's `fork`
// sharing model (its Arena heap); the price is that the region must exist before the processes
// that use it are forked.
//
// One region per object costs a page (4 KiB) per Lock or Value; Python packs its objects into
// shared arenas. A process-wide arena allocator would need a cross-process free list for little
// gain at the object counts multiprocessing programs use, so concur keeps the simple mapping.
//
// Thread safety: the handle is not synchronized (construct, move and destroy it from one thread);
// the memory it maps is synchronized by whatever the caller places in it.
#pragma once

#include <cstddef>
#include <utility>

#include "concur/export.hpp"

namespace concur::multiprocessing::detail {

class CONCUR_API SharedRegion {
 public:
  /// An empty handle mapping nothing.
  SharedRegion() noexcept = default;
  /// Maps `size` zero-filled shared bytes (rounded up to whole pages by the kernel).
  /// Throws ValueError for size 0 and OSError when the mapping fails.
  explicit SharedRegion(std::size_t size);
  SharedRegion(SharedRegion&& other) noexcept
      : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  /// Unmaps the region in this process only; other processes keep their mapping.
  ~SharedRegion();

  /// The first byte of the mapping, or nullptr for an empty handle.
  [[nodiscard]] void* data() const noexcept { return m_data; }
  /// The size that was asked for (0 for an empty handle).
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  /// The mapping seen as a T (the caller constructed a T there).
  template <class T>
  [[nodiscard]] T* as() const noexcept {
    return static_cast<T*>(m_data);
  }

 private:
  void* m_data = nullptr;  // nullptr iff m_size == 0
  std::size_t m_size = 0;
};

}  // namespace concur::multiprocessing::detail
