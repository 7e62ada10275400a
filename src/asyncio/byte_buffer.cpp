// SPDX-License-Identifier: MIT
// ByteBuffer's blocks and the per-thread pool of them.
#include "byte_buffer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace concur::asyncio::detail {

namespace {

/// The blocks of block_size bytes that emptied buffers of this thread gave back, most recent
/// last. Bounded: at most `max_blocks` (4 MiB) stay per thread. The bound is what a busy server
/// has in flight at once: libuv reads every connection that epoll reports ready (up to 48
/// rounds of 1,024 events) before a task runs, so with 10,000 busy connections thousands of
/// blocks hold a request each. With a smaller pool those went back to malloc every iteration,
/// which gave the memory back to the system and faulted it in again: a third more system time
/// per request. An idle server keeps only the blocks its busiest moment needed.
class BlockPool {
 public:
  static constexpr std::size_t max_blocks = 8192;

  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    for (char* block : m_blocks) ::operator delete(block);
  }

  /// A block of ByteBuffer::block_size bytes (from the pool when it has one).
  char* take() {
    if (!m_blocks.empty()) {
      char* block = m_blocks.back();
      m_blocks.pop_back();
      return block;
    }
    return static_cast<char*>(::operator new(ByteBuffer::block_size));
  }
  /// Keeps `block` (of block_size bytes) for the next take(), or frees it if the pool is full.
  void give(char* block) noexcept {
    if (m_blocks.size() < max_blocks) {
      try {
        m_blocks.push_back(block);  // grows by doubling: at most log2(max_blocks) allocations
        return;
      } catch (...) {
      }
    }
    ::operator delete(block);
  }

 private:
  std::vector<char*> m_blocks;
};

BlockPool& block_pool() noexcept {
  thread_local BlockPool pool;
  return pool;
}

}  // namespace

void ByteBuffer::append(const char* bytes, std::size_t n) {
  if (n == 0) return;
  constexpr std::size_t max_capacity = UINT32_MAX;
  if (m_data == nullptr) {
    if (n <= block_size) {
      m_data = block_pool().take();
      m_capacity = block_size;
    } else {
      if (n > max_capacity) throw std::bad_alloc();
      m_data = static_cast<char*>(::operator new(n));
      m_capacity = static_cast<std::uint32_t>(n);
    }
    m_begin = m_end = 0;
  } else if (m_capacity - m_end < n) {
    const std::size_t unread = m_end - m_begin;
    if (unread + n <= m_capacity && m_begin >= unread) {
      // Room once the consumed bytes are dropped, and they are at least as many as the unread
      // ones that move: the copying stays linear in the bytes received.
      std::memmove(m_data, m_data + m_begin, unread);
    } else {
      if (n > max_capacity - unread) throw std::bad_alloc();
      const std::size_t capacity = std::min(std::max(2 * std::size_t{m_capacity}, unread + n), max_capacity);
      auto* data = static_cast<char*>(::operator new(capacity));
      std::memcpy(data, m_data + m_begin, unread);
      release();
      m_data = data;
      m_capacity = static_cast<std::uint32_t>(capacity);
    }
    m_begin = 0;
    m_end = static_cast<std::uint32_t>(unread);
  }
  std::memcpy(m_data + m_end, bytes, n);
  m_end += static_cast<std::uint32_t>(n);
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
