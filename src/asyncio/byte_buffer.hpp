// SPDX-License-Identifier: MIT
// ByteBuffer: a connection's bytes in transit through it (private to src/asyncio/): those
// received that its reader has not consumed yet, and those written that are not sent yet.
//
// The bytes are [begin, end) of one heap block. A buffer that empties gives its block back at
// once, so an idle connection holds none (10,000 idle keep-alive clients would otherwise keep
// 10,000 blocks). Blocks of the common size go to a small per-thread pool, from which the next
// buffer that needs one takes it: a server answering a request per read would otherwise malloc
// and free blocks per request, and with many connections ready at once more than malloc's
// per-thread cache holds. Taking the most recently returned block also reuses memory still in
// the CPU's cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace concur::asyncio::detail {

class ByteBuffer {
 public:
  /// The size of a pooled block: a request, a line, a small message or answer fit in one.
  /// Larger data gets a block of its size (not pooled).
  static constexpr std::size_t block_size = 512;

  ByteBuffer() noexcept = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() { release(); }

  [[nodiscard]] std::string_view view() const noexcept { return {m_data + m_begin, m_end - m_begin}; }
  [[nodiscard]] std::size_t size() const noexcept { return m_end - m_begin; }
  [[nodiscard]] bool empty() const noexcept { return m_begin == m_end; }
  /// The bytes of the block, used or not (0 when the buffer holds none).
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

  /// Appends `n` bytes. Moves the unread bytes to the front of the block when that makes room
  /// (amortised: never more bytes than were consumed since), else moves them to a block twice
  /// as large. Throws std::bad_alloc with the buffer unchanged (also beyond 4 GiB).
  void append(const char* bytes, std::size_t n);

  /// Drops the first `n` bytes (n <= size()); an emptied buffer gives its block back.
  void consume(std::size_t n) noexcept {
    m_begin += static_cast<std::uint32_t>(n);
    if (m_begin == m_end) release();
  }

 private:
  void release() noexcept;

  // 32-bit offsets: every connection has two buffers (a block is at most 4 GiB: append()
  // throws std::bad_alloc beyond).
  char* m_data = nullptr;
  std::uint32_t m_begin = 0;
  std::uint32_t m_end = 0;
  std::uint32_t m_capacity = 0;
};

}  // namespace concur::asyncio::detail
