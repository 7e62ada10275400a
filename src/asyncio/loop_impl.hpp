// SPDX-License-Identifier: MIT
// The libuv side of EventLoop (private to src/asyncio/): the uv_loop_t, the loop's own timer
// buckets and the alarm (WakeTimer) that wakes libuv's poll when the earliest is due, the
// uv_async_t of call_soon_threadsafe, and the default executor.
#pragma once

#include <uv.h>

#include <cassert>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "concur/asyncio/events.hpp"
#include "wake_timer.hpp"

namespace concur::asyncio::detail {

/// The queue of call_soon_threadsafe(): shared with the threads that post to it, so that a
/// post after the loop closed is refused instead of touching a dead loop.
class ThreadsafeQueue {
 public:
  /// Queues `node` and wakes the loop. False (and `node` untouched) once the loop is closed.
  bool post(CallbackNode* node) noexcept;
  /// Moves every queued node to `loop`'s ready queue (loop thread, from the uv_async_t).
  void drain(EventLoop& loop) noexcept;
  /// Refuses further posts; returns the nodes still queued (loop thread, at close).
  std::vector<CallbackNode*> close() noexcept;
  uv_async_t* m_async = nullptr;  // written under both locks, read under either; null once closed

 private:
  std::mutex m_mutex;                  // guards m_nodes
  std::shared_mutex m_send_mutex;      // shared while a poster wakes the loop; exclusive in close()
  std::vector<CallbackNode*> m_nodes;  // guarded by m_mutex
  std::vector<CallbackNode*> m_spare;  // loop thread only: the buffer swapped in by drain()
};

/// Timers with nanosecond deadlines, bucketed by millisecond tick: O(1) insert and removal
/// (intrusive circular lists with a sentinel per bucket), a small heap of the ticks that have a
/// bucket, and deadline order restored inside a bucket when it fires. A binary heap of a
/// million timers would cost a cache miss per level on every pop; this touches each timer twice,
/// plus once per partial firing of the millisecond the loop is in (see fire_due).
///
/// Each bucket's sentinel keeps in its m_deadline a lower bound of its timers' deadlines, kept
/// exact by add() and by a partial firing, and stale (too early) once its earliest timer is
/// removed. A stale bound only makes the loop wake too early once (nothing is due; the
/// bucket is scanned and the bound made exact), never late.
class TimerBuckets {
 public:
  void add(TimerNode* node, std::int64_t deadline_ns);
  void remove(TimerNode* node) noexcept;
  /// Fires (calls m_fire on) every timer whose deadline is at or before `now_ns`, in deadline
  /// order (insertion order among equal deadlines): the whole buckets of the milliseconds that
  /// have passed, and the due part of the current millisecond's bucket (when its lower bound
  /// says anything in it may be due).
  void fire_due(std::int64_t now_ns);
  /// A lower bound of the instant the earliest timer is due (exact unless that timer was
  /// removed since its bucket was last scanned), or -1 if there is none.
  std::int64_t next_due() noexcept;
  /// Unlinks every timer; calls `on_each` for each (at close).
  void clear(const std::function<void(TimerNode*)>& on_each);
  [[nodiscard]] std::size_t size() const noexcept { return m_armed; }

 private:
  static constexpr std::int64_t tick_ns = 1'000'000;
  std::unordered_map<std::int64_t, TimerNode> m_buckets;  // tick -> sentinel of its circular list (m_deadline: see above)
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> m_ticks;  // ticks with a bucket
  std::vector<TimerNode*> m_scratch;
  std::size_t m_armed = 0;
};

/// A libuv handle of the networking code (a stream transport, a server, a datagram endpoint, a
/// child process, a signal handler) that EventLoop::close() closes if it is still open: its
/// owner links it to the loop (LoopImpl::attach) when the handle is initialised and unlinks it
/// (LoopImpl::detach) once nothing is left for close() to do: when it closes the handle, or in
/// the close callback if the owner may still need closing until then (a connection waiting for
/// its queued writes before it closes its handle). close() unlinks every node still linked
/// and calls its hook, which uv_close()s the handle (the close callback then runs inside
/// close()'s last uv_run) and leaves the owner closed for good: an owner that outlives its loop
/// never touches libuv again. An intrusive list, so that linking costs no allocation.
struct LoopHandle {
  /// Closes the owner's handle at loop close (see above). Loop thread, inside EventLoop::close().
  using CloseHook = void (*)(LoopHandle*) noexcept;
  LoopHandle(CloseHook hook, void* owner) noexcept : m_hook(hook), m_owner(owner) {}
  LoopHandle(const LoopHandle&) = delete;
  LoopHandle& operator=(const LoopHandle&) = delete;
  ~LoopHandle() { assert(!m_linked); }

  CloseHook m_hook;
  void* m_owner;                 // the object the hook closes
  LoopHandle* m_prev = nullptr;  // links in LoopImpl::handles (loop thread only)
  LoopHandle* m_next = nullptr;
  bool m_linked = false;         // true while in a loop's list (so: while that loop is open)
};

/// A connection holding bytes written during this iteration of the loop and not sent yet (see
/// StreamTransport::write): the loop sends them (LoopImpl::flush_deferred) after the
/// iteration's callbacks have run, before it polls again. A doubly linked intrusive list (no
/// allocation; the owner unlinks itself when it closes); two pointers, as every connection
/// carries one.
struct FlushNode {
  FlushNode* m_prev = nullptr;  // links in LoopImpl's flush list (loop thread only)
  FlushNode* m_next = nullptr;
};

struct LoopImpl {
  /// True if `n` is in the flush list.
  [[nodiscard]] bool flush_linked(const FlushNode& n) const noexcept { return n.m_prev != nullptr || flush_head == &n; }
  /// Links `n` to the flush list unless it is linked already.
  void defer_flush(FlushNode& n) noexcept {
    if (flush_linked(n)) return;
    n.m_prev = flush_tail;
    n.m_next = nullptr;
    if (flush_tail != nullptr) flush_tail->m_next = &n; else flush_head = &n;
    flush_tail = &n;
    ++flush_count;
  }
  /// Unlinks `n` if it is linked.
  void cancel_flush(FlushNode& n) noexcept {
    if (!flush_linked(n)) return;
    if (n.m_prev != nullptr) n.m_prev->m_next = n.m_next; else flush_head = n.m_next;
    if (n.m_next != nullptr) n.m_next->m_prev = n.m_prev; else flush_tail = n.m_prev;
    n.m_prev = n.m_next = nullptr;
    --flush_count;
  }
  /// Unlinks every node of the flush list, in order, and sends what its connection wrote
  /// (defined in stream_transport.cpp, where the sending is inlined into its loop: after each
  /// system call only this loop's own code runs, not returns up a chain of calls).
  void flush_deferred() noexcept;

  /// Called by a connection whose read woke a waiter. libuv's poll goes on while the kernel
  /// reports full batches of ready sockets (up to 48 of 1,024), so with thousands of busy
  /// connections it would read them all before any task runs, and every request would be
  /// answered only after thousands of other sockets and frames had passed through the cache.
  /// So while run_once() polls, every `poll_batch` wakes run the ready callbacks and send
  /// what they wrote, from within the poll: each connection is answered while its bytes, its
  /// frame and the kernel's socket are still warm.
  void io_woke(EventLoop& loop) noexcept {
    if (polling && ++polled_wakes >= poll_batch) run_ready_while_polling(loop);
  }
  void run_ready_while_polling(EventLoop& loop) noexcept;  // defined in events.cpp

  /// Links `h` (not linked yet) to the loop: close() will close it.
  void attach(LoopHandle& h) noexcept {
    assert(!h.m_linked);
    h.m_prev = nullptr;
    h.m_next = handles;
    if (handles != nullptr) handles->m_prev = &h;
    handles = &h;
    h.m_linked = true;
  }
  /// Unlinks `h` if it is linked (to this loop: a node is only ever linked to its own loop).
  void detach(LoopHandle& h) noexcept {
    if (!h.m_linked) return;
    if (h.m_prev != nullptr) h.m_prev->m_next = h.m_next; else handles = h.m_next;
    if (h.m_next != nullptr) h.m_next->m_prev = h.m_prev;
    h.m_prev = h.m_next = nullptr;
    h.m_linked = false;
  }
  /// detach(h) for the owner of `h` on `loop`; does not touch `loop` when `h` is not linked
  /// (the loop may be gone then).
  static void detach(EventLoop& loop, LoopHandle& h) noexcept {
    if (h.m_linked) loop.impl().detach(h);
  }
  /// Unlinks every node and calls its hook (EventLoop::close()); hooks may attach or detach
  /// other nodes meanwhile.
  void close_handles() noexcept {
    while (LoopHandle* h = handles) {
      detach(*h);
      h->m_hook(h);
    }
  }

  uv_loop_t loop{};
  WakeTimer wake;       // wakes uv_run when the earliest timer is due
  uv_async_t async{};  // wakes uv_run for call_soon_threadsafe
  std::shared_ptr<ThreadsafeQueue> threadsafe = std::make_shared<ThreadsafeQueue>();
  TimerBuckets timers;
  std::unique_ptr<futures::ThreadPoolExecutor> executor;  // created on first use
  int closing = 0;  // our own handles whose close callback has not run yet (close())
  LoopHandle* handles = nullptr;  // the networking code's open handles (loop thread only)
  FlushNode* flush_head = nullptr;  // connections with bytes to send before the next poll
  FlushNode* flush_tail = nullptr;
  std::size_t flush_count = 0;      // nodes in that list
  /// The loop sends as soon as this many connections have bytes waiting, not only at the end
  /// of the iteration: each holds a buffer until then, and with thousands of connections ready
  /// at once, thousands of buffers (cold in the cache by the time they are sent, and more than
  /// the per-thread pool keeps) cost more than the system calls they save.
  static constexpr std::size_t flush_batch = 32;
  bool polling = false;            // run_once() is in uv_run (not close(), nor a nested call)
  std::uint32_t polled_wakes = 0;  // io_woke() calls since the poll began or tasks last ran
  static constexpr std::uint32_t poll_batch = 256;
};

}  // namespace concur::asyncio::detail
