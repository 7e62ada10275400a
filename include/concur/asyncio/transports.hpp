// SPDX-License-Identifier: MIT
// concur/asyncio/transports.hpp — what streams, servers, datagram endpoints and subprocess
// pipes share: socket addresses, and the way a task waits for libuv I/O.
//
// Mirrors the parts of Python's asyncio.transports that users see through get_extra_info():
// `Address` is what Python returns for "peername" and "sockname" ((host, port) for IP sockets,
// the path for Unix-domain ones), as one struct instead of a tuple or a str.
//
// detail::IoWait is the awaiter state behind every network awaitable of concur::asyncio: the
// I/O side (a libuv callback) calls fire(); Task::cancel() detaches it from the I/O source and
// resumes the task with CancelledError. It lives in the awaiting coroutine's frame, so waiting
// costs no allocation; its destructor detaches it if the frame is destroyed while it waits.
//
// Thread safety: none — the loop's thread only, as all of asyncio.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstdint>
#include <string>

#include "concur/asyncio/task.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// A socket address (Python's "peername" / "sockname" values).
struct CONCUR_API Address {
  /// The kind of address: none (an empty Address), ipv4, ipv6, or unix_socket (a Unix-domain
  /// socket, whose path is in `host`).
  enum class Family : std::uint8_t { none, ipv4, ipv6, unix_socket };
  /// The kind of address; none for an empty one (to_string() is then "").
  Family family = Family::none;
  std::string host;        ///< numeric IP address, or the path of a Unix-domain socket
  std::uint16_t port = 0;  ///< 0 for Unix-domain sockets
  /// "127.0.0.1:8080", "[::1]:8080", the path, or "" for none.
  [[nodiscard]] std::string to_string() const;
  /// Equal when the family, the host and the port are.
  friend bool operator==(const Address&, const Address&) = default;
};

namespace detail {

/// A task suspended on libuv I/O (see the file comment).
class IoWait : public Waiter {
 public:
  /// Removes the waiter from its I/O source (called on cancellation or destruction while waiting).
  using Detach = void (*)(IoWait*) noexcept;
  enum class State : std::uint8_t { idle, waiting, fired, cancelled };

  IoWait() noexcept = default;
  IoWait(const IoWait&) = delete;
  IoWait& operator=(const IoWait&) = delete;
  ~IoWait() {
    if (m_state == State::waiting && m_detach != nullptr) m_detach(this);
  }

  /// Suspends the task of `h`. Register with the I/O source (set m_detach) before calling it:
  /// a cancellation already requested detaches and wakes at once.
  template <class P>
  void suspend(std::coroutine_handle<P> h) noexcept {
    m_root = root_of(h);
    m_state = State::waiting;
    m_root->suspend(h, this);
  }
  /// The I/O is done: schedule the task (the I/O source has already forgotten this waiter).
  /// A task its loop destroyed as it closed (a frame kept alive by a handle, its I/O source
  /// closed by EventLoop::close()) is not scheduled: it will never run again.
  void fire() noexcept {
    assert(m_state == State::waiting);
    m_state = State::fired;
    if (m_root->m_loop != nullptr) m_root->wake();
  }
  bool cancel() noexcept override {
    if (m_state != State::waiting) return false;
    if (m_detach != nullptr) m_detach(this);
    m_state = State::cancelled;
    m_root->wake();
    return true;
  }
  /// In await_resume: throws CancelledError if the wait was cancelled or a cancellation is due.
  void resume() {
    const bool cancelled = m_state == State::cancelled;
    m_state = State::idle;
    if (m_root != nullptr) m_root->resume_point(cancelled);
  }
  [[nodiscard]] bool waiting() const noexcept { return m_state == State::waiting; }

  Detach m_detach = nullptr;   // set by the I/O source when it registers the waiter
  void* m_source = nullptr;    // the I/O source's object (for m_detach)
  IoWait* m_next = nullptr;    // link in the source's list of waiters, if it keeps one
  IoWait* m_prev = nullptr;

 private:
  PromiseBase* m_root = nullptr;  // the suspended task
  State m_state = State::idle;
};

/// An intrusive FIFO of IoWaits (drain(), wait_closed(), serve_forever() waiters).
class IoWaitList {
 public:
  void push(IoWait* w) noexcept {
    w->m_prev = m_tail;
    w->m_next = nullptr;
    if (m_tail != nullptr) m_tail->m_next = w; else m_head = w;
    m_tail = w;
  }
  void remove(IoWait* w) noexcept {
    if (w->m_prev != nullptr) w->m_prev->m_next = w->m_next; else m_head = w->m_next;
    if (w->m_next != nullptr) w->m_next->m_prev = w->m_prev; else m_tail = w->m_prev;
    w->m_prev = w->m_next = nullptr;
  }
  /// Fires every waiter, in order.
  void fire_all() noexcept {
    while (m_head != nullptr) {
      IoWait* w = m_head;
      remove(w);
      w->fire();
    }
  }
  [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }

 private:
  IoWait* m_head = nullptr;
  IoWait* m_tail = nullptr;
};

}  // namespace detail
}  // namespace concur::asyncio
