// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: a pool worker's replies in shared memory — a ring of
// variable-size records with one writer (the worker) and one reader (the pool's manager).
//
// Why: a reply sent on the socket cost the worker a system call per task and the manager a
// wake-up per reply; at one trivial item per task that was most of the time of a map. A reply
// written here costs two copies and a store. The worker still rings the manager (a frame with
// no body, on the socket) when the manager said it is about to sleep, so no reply waits for
// a later task to finish: a reply is visible to the manager as soon as its task returned
// (imap streams as before), and it survives the worker's death (the manager reads the ring
// before it asks which task a dead worker was running). Replies too large for the ring, or
// carrying a shared-memory block, or finding it full, go on the socket as before.
//
// The protocol:
//   head     bytes ever written; the worker stores it after a record's bytes (release: the
//            manager's acquire load of head makes them visible).
//   tail     bytes ever consumed; the manager stores it after reading records (release: the
//            worker's acquire load orders its overwriting after those reads).
//   waiting  the manager stores 1 before it blocks, then loads head; the worker stores head,
//            then loads waiting and, if it is 1, exchanges it for 0 and rings (unless the
//            manager cleared it first: then it is awake). All seq_cst, so either the manager
//            sees the new head (and does not block) or the worker sees waiting == 1 (and
//            rings): a reply is never left unseen (it may be rung for twice).
// A record is a ReplyRecord then `size` bytes, padded to 8, and never wraps: when it does not
// fit before the end of the ring, the rest of the ring is skipped (marked by a header with
// reply_skip when there is room for one).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace concur::multiprocessing::detail {

struct ReplyRecord {
  std::uint32_t size;    // bytes of payload that follow
  std::uint32_t flags;   // reply_failed, reply_skip
  std::uint64_t tag;     // the task's id
  std::uint64_t run_ns;  // how long the task ran
};
static_assert(sizeof(ReplyRecord) == 24);

inline constexpr std::uint32_t reply_failed = 1U << 0;  // the payload is (type name, message)
inline constexpr std::uint32_t reply_skip = 1U << 1;    // the rest of the ring is padding

/// The shared part: lives in the worker's shared page.
struct ReplyRing {
  static constexpr std::size_t capacity = 64 * 1024;      // bytes (a power of two)
  static constexpr std::size_t max_payload = capacity / 8;  // larger replies go on the socket
  alignas(64) std::atomic<std::uint64_t> head{0};           // written by the worker
  alignas(64) std::atomic<std::uint64_t> tail{0};           // written by the manager
  alignas(64) std::atomic<std::uint32_t> waiting{0};        // 1: the manager wants a ring
  alignas(64) unsigned char bytes[capacity];
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "a process-shared atomic must be lock-free");

/// The bytes a record of `size` payload bytes takes.
constexpr std::uint64_t reply_record_span(std::size_t size) {
  return (sizeof(ReplyRecord) + size + 7) & ~std::uint64_t{7};
}

/// What publish_reply did.
enum class Published {
  no_room,  // nothing: too large, or the ring is full (send it on the socket)
  quietly,  // in the ring; the manager is awake and will look
  ring,     // in the ring; the manager is (about to be) asleep: ring it
};

/// The worker's side: appends one reply, if it fits.
inline Published publish_reply(ReplyRing& r, std::uint64_t tag, std::uint32_t flags, std::uint64_t run_ns,
                               std::string_view payload) {
  if (payload.size() > ReplyRing::max_payload) return Published::no_room;
  const std::uint64_t span = reply_record_span(payload.size());
  std::uint64_t head = r.head.load(std::memory_order_relaxed);  // this side is its only writer
  const std::uint64_t tail = r.tail.load(std::memory_order_acquire);
  const std::uint64_t to_end = ReplyRing::capacity - head % ReplyRing::capacity;
  const std::uint64_t pad = to_end < span ? to_end : 0;
  if (head + pad + span - tail > ReplyRing::capacity) return Published::no_room;
  if (pad != 0) {
    if (to_end >= sizeof(ReplyRecord)) {
      const ReplyRecord skip{0, reply_skip, 0, 0};
      std::memcpy(r.bytes + head % ReplyRing::capacity, &skip, sizeof skip);
    }
    head += pad;
  }
  unsigned char* at = r.bytes + head % ReplyRing::capacity;
  const ReplyRecord h{static_cast<std::uint32_t>(payload.size()), flags, tag, run_ns};
  std::memcpy(at, &h, sizeof h);
  if (!payload.empty()) std::memcpy(at + sizeof h, payload.data(), payload.size());
  r.head.store(head + span, std::memory_order_seq_cst);
  // The load first: the exchange (a locked write to a line the manager writes too) only when
  // the manager is waiting.
  const bool asleep = r.waiting.load(std::memory_order_seq_cst) != 0 && r.waiting.exchange(0, std::memory_order_seq_cst) != 0;
  return asleep ? Published::ring : Published::quietly;
}

/// The manager's side.
class ReplyRingReader {
 public:
  explicit ReplyRingReader(ReplyRing* ring) noexcept : m_ring(ring) {}

  /// Before blocking: asks to be rung; true if a reply is already there.
  bool arm() noexcept {
    if (m_corrupt) return false;
    m_ring->waiting.store(1, std::memory_order_seq_cst);
    return m_ring->head.load(std::memory_order_seq_cst) != m_tail;
  }

  /// Calls on_reply(const ReplyRecord&, std::string_view payload) for every reply there, in
  /// order. A record that breaks the format stops the reading for good (the worker's replies
  /// then stop; its sentinel still tells the manager when it ends).
  template <class F>
  void drain(F&& on_reply) {
    m_ring->waiting.store(0, std::memory_order_relaxed);  // awake: no ring needed
    if (m_corrupt) return;
    const std::uint64_t head = m_ring->head.load(std::memory_order_acquire);
    if (head - m_tail > ReplyRing::capacity) {
      m_corrupt = true;
      return;
    }
    // The space goes back to the worker once, after the batch (also if on_reply throws).
    struct Release {
      ReplyRingReader& self;
      ~Release() { self.m_ring->tail.store(self.m_tail, std::memory_order_release); }
    } release{*this};
    while (m_tail != head) {
      const std::uint64_t pos = m_tail % ReplyRing::capacity;
      const std::uint64_t to_end = ReplyRing::capacity - pos;
      const std::uint64_t left = head - m_tail;
      ReplyRecord h{};
      if (to_end >= sizeof h) std::memcpy(&h, m_ring->bytes + pos, sizeof h);
      if (to_end < sizeof h || (h.flags & reply_skip) != 0) {
        if (to_end > left) {  // the padding always comes whole with the record after it
          m_corrupt = true;
          break;
        }
        m_tail += to_end;
        continue;
      }
      const std::uint64_t span = reply_record_span(h.size);
      if (h.size > ReplyRing::max_payload || span > left || span > to_end) {
        m_corrupt = true;
        break;
      }
      on_reply(h, std::string_view(reinterpret_cast<const char*>(m_ring->bytes + pos + sizeof h), h.size));
      m_tail += span;
    }
  }

 private:
  ReplyRing* m_ring;
  std::uint64_t m_tail = 0;  // bytes consumed (the shared tail is a copy for the worker)
  bool m_corrupt = false;
};

}  // namespace concur::multiprocessing::detail
