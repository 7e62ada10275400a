// ByteBuffer's blocks and the per-thread pool of them.
#include "byte_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace concur::asyncio::detail {

namespace {

/// The blocks of block_size bytes that emptied buffers of this thread gave back, most recent
/// last. Bounded: at most `max_blocks` (512 KiB) stay per thread.
class BlockPool {
 public:
  static constexpr std::size_t max_blocks = 256;

  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    for (std::size_t i = 0; i < m_count; ++i) ::operator delete(m_blocks[i]);
  }

  /// A block of ByteBuffer::block_size bytes (from the pool when it has one).
  char* take() {
    if (m_count > 0) return m_blocks[--m_count];
    return static_cast<char*>(::operator new(ByteBuffer::block_size));
  }
  /// Keeps `block` (of block_size bytes) for the next take(), or frees it if the pool is full.
  void give(char* block) noexcept {
    if (m_count < max_blocks) {
      m_blocks[m_count++] = block;
    } else {
      ::operator delete(block);
    }
  }

 private:
  char* m_blocks[max_blocks] = {};
  std::size_t m_count = 0;
};

BlockPool& block_pool() noexcept {
  thread_local BlockPool pool;
  return pool;
}

}  // namespace

void ByteBuffer::append(const char* bytes, std::size_t n) {
  if (n == 0) return;
  if (m_data == nullptr) {
    if (n <= block_size) {
      m_data = block_pool().take();
      m_capacity = block_size;
    } else {
      m_data = static_cast<char*>(::operator new(n));
      m_capacity = n;
    }
    m_begin = m_end = 0;
  } else if (m_capacity - m_end < n) {
    const std::size_t unread = m_end - m_begin;
    if (unread + n <= m_capacity && m_begin >= unread) {
      // Room once the consumed bytes are dropped, and they are at least as many as the unread
      // ones that move: the copying stays linear in the bytes received.
      std::memmove(m_data, m_data + m_begin, unread);
    } else {
      const std::size_t capacity = std::max(2 * m_capacity, unread + n);
      auto* data = static_cast<char*>(::operator new(capacity));
      std::memcpy(data, m_data + m_begin, unread);
      release();
      m_data = data;
      m_capacity = capacity;
    }
    m_begin = 0;
    m_end = unread;
  }
  std::memcpy(m_data + m_end, bytes, n);
  m_end += n;
}

void ByteBuffer::release() noexcept {
  if (m_data == nullptr) return;
  if (m_capacity == block_size) {
    block_pool().give(m_data);
  } else {
    ::operator delete(m_data);
  }
  m_data = nullptr;
  m_begin = m_end = m_capacity = 0;
}

}  // namespace concur::asyncio::detail
