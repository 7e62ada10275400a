// SPDX-License-Identifier: MIT
// concur/multiprocessing/queues.hpp — Queue, SimpleQueue and JoinableQueue across processes.
//
// Mirrors multiprocessing.Queue, SimpleQueue and JoinableQueue. A queue is a one-way
// Connection pair (connection.hpp: a Unix socket, whole messages, serialize.hpp's encoding)
// plus process-shared locks (synchronize.hpp): a reader lock so that one getter at a time
// reads a message, a writer lock so that messages of several processes never interleave, a
// BoundedSemaphore for `maxsize`, and shared counters. Make the queue, then hand it to the
// processes that use it (see "Sharing" below): every one of them puts and gets.
//
// Queue / JoinableQueue: put() encodes the item at once (so a type error or an encoding failure
// is the caller's exception) and hands it to this process's feeder thread, which writes it to
// the socket: put() never blocks on a full socket, only on `maxsize`. The feeder starts at the
// first put() of each process. close() says this process will put no more; join_thread() waits
// until the feeder has written everything (close() first); the destructor does both, unless
// cancel_join_thread() was called, in which case items not yet written are dropped.
// A process that was forked with items in its parent's feeder does not own them (its parent
// writes them); a forked child that put items must let its feeder finish before _exit:
// call close() and join_thread(), or detail::flush_queues() for all its queues at once.
//
// SimpleQueue: no feeder, no bound: put() writes under the writer lock and may block while the
// socket is full (about 200 KiB unread), as in Python.
//
// Where it differs from Python, and why:
//   - Queues are typed (Queue<T>): T is anything serialize.hpp can encode; get() decodes a T.
//   - put()/get() take Python's keyword arguments as concur::queue::WaitOptions
//     ({.block, .timeout}); a negative timeout is a ValueError as in concur::queue.
//   - qsize() is exact (a shared counter of items put and not yet got) and works everywhere
//     (Python raises NotImplementedError on macOS); empty() is `qsize() == 0`, so it is false
//     as soon as put() returns, while a get_nowait() may still see nothing for the instant the
//     feeder needs to write the item (Python: "an infinitesimal delay").
//   - Misuse after close() is a ValueError, as in Python 3.x ("Queue is closed");
//     join_thread() before close() is a RuntimeError (Python asserts).
//
// Dead processes: a getter killed while it waits holds the reader lock, which is robust (see
// synchronize.hpp): the next getter takes it over. A putter killed in the middle of writing a
// message leaves a torn message in the socket; the reader's decoding then fails with
// SerializationError (Python's queue is corrupted the same way).
//
// Sharing: pass the queue to the Process (or to a Pool's initializer) as an argument the target
// takes by reference — `void worker(mp::Queue<int>& q)`, `mp::Process p(worker, q)` — under
// either start method: the child gets a handle of the same socket, locks and counters
// (reduction.hpp). Under "fork", a child may also simply inherit the queue (a global). The
// child's handle has a feeder of its own, flushed when the handle is destroyed (the target
// returned) or by flush_queues() before the child ends.
//
// Thread safety: every member may be called from any thread of any process of the family,
// except that the destructor must not race with other calls in the same process.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/multiprocessing/connection.hpp>
#include <concur/multiprocessing/serialize.hpp>
#include <concur/multiprocessing/shared_memory.hpp>
#include <concur/multiprocessing/synchronize.hpp>
#include <concur/queue/queue.hpp>
#include <concur/timeout.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace concur::multiprocessing {

/// Python's `block` and `timeout` keyword arguments of put() and get() (shared with
/// concur::queue).
using WaitOptions = concur::queue::WaitOptions;

namespace detail {

/// Makes every feeder thread of this process write what it holds and stop: call it in a forked
/// child before _exit (Python's Process does the same at its end). Never throws.
CONCUR_API void flush_queues() noexcept;

/// The untyped machinery of the three queues (src/multiprocessing/queues_core.cpp).
class CONCUR_API QueueCore {
 public:
  enum class Kind { simple, queue, joinable };
  /// ValueError for maxsize < 0 (0 means unbounded). OSError when the socket or the shared
  /// memory cannot be made.
  QueueCore(Kind kind, std::ptrdiff_t maxsize);
  /// A handle, in a child, of the queue another process reduced; SerializationError when it
  /// is not of kind `kind`.
  QueueCore(from_reduction_t, InputArchive& ar, Kind kind);
  ~QueueCore();
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  void put(Payload payload, const WaitOptions& options);
  Payload get(const WaitOptions& options);
  [[nodiscard]] std::size_t qsize() const;
  [[nodiscard]] bool empty() const;
  [[nodiscard]] bool full() const;
  void close();
  void join_thread();
  void cancel_join_thread();
  void task_done();
  void join();
  /// Records a handle of the queue (its sockets, locks and shared counters) for a child.
  void reduce(OutputArchive& ar) const;

 private:
  struct Local;
  /// The counters every process of the family sees (in m_shared).
  struct Shared {
    std::atomic<std::int64_t> size{0};  // items put and not yet got, all processes together
    std::int64_t unfinished = 0;        // joinable: guarded by m_tasks; items put, not task_done()
  };
  static_assert(std::atomic<std::int64_t>::is_always_lock_free, "shared counters must be lock-free");

  Local& local();
  Shared& shared() const noexcept { return *m_shared.as<Shared>(); }
  void check_open();
  void write(const Payload& payload);
  void feed(Local& local);

  Kind m_kind;
  std::ptrdiff_t m_maxsize;                  // 0: unbounded; immutable
  Connection m_reader;                       // guarded by m_rlock (across processes)
  Connection m_writer;                       // guarded by m_wlock (across processes)
  Lock m_rlock;
  Lock m_wlock;
  std::optional<BoundedSemaphore> m_slots;   // engaged iff m_maxsize > 0: free places
  std::optional<Condition> m_tasks;          // engaged for joinable: guards Shared::unfinished
  SharedRegion m_shared;                     // holds one Shared
  std::atomic<Local*> m_local;               // this process's feeder state (see local())
};

}  // namespace detail

/// multiprocessing.Queue: a FIFO of T shared by the processes it is handed to (or that inherit it).
template <class T>
class Queue {
  static_assert(Serializable<T>, "multiprocessing::Queue<T>: T must be serializable (see serialize.hpp)");

 public:
  /// `maxsize` 0 is unbounded. ValueError when maxsize < 0; OSError when the resources cannot
  /// be made.
  explicit Queue(std::ptrdiff_t maxsize = 0) : Queue(detail::QueueCore::Kind::queue, maxsize) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  /// A handle, in a child, of the queue another process reduced (reduction.hpp).
  Queue(from_reduction_t tag, detail::InputArchive& ar) : m_core(tag, ar, detail::QueueCore::Kind::queue) {}
  /// Records a handle of this queue for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const { m_core.reduce(ar); }

  /// Puts `item`, waiting for room when the queue is bounded and full. Throws queue::Full
  /// (no room in time, or at once with {.block = false}), ValueError (closed, negative
  /// timeout), the encoding's errors.
  void put(const T& item, WaitOptions options = {}) { m_core.put(serialize(item), options); }
  /// Removes and returns the oldest item, waiting for one. Throws queue::Empty (none in time,
  /// or at once with {.block = false}), ValueError (closed, negative timeout).
  T get(WaitOptions options = {}) { return deserialize<T>(m_core.get(options)); }
  /// put(item, {.block = false}).
  void put_nowait(const T& item) { put(item, {.block = false}); }
  /// get({.block = false}).
  T get_nowait() { return get({.block = false}); }
  /// Items put (by any process) and not yet got.
  [[nodiscard]] std::size_t qsize() const { return m_core.qsize(); }
  /// qsize() == 0.
  [[nodiscard]] bool empty() const { return m_core.empty(); }
  /// Whether a bounded queue holds maxsize items.
  [[nodiscard]] bool full() const { return m_core.full(); }
  /// This process will put and get no more; its feeder exits once it has written everything.
  void close() { m_core.close(); }
  /// Waits for this process's feeder to finish. RuntimeError before close().
  void join_thread() { m_core.join_thread(); }
  /// The destructor will not wait for the feeder: items not yet written are dropped.
  void cancel_join_thread() { m_core.cancel_join_thread(); }

 protected:
  /// For JoinableQueue: a queue of the given kind.
  Queue(detail::QueueCore::Kind kind, std::ptrdiff_t maxsize) : m_core(kind, maxsize) {}
  /// For JoinableQueue: a handle of a reduced queue of the given kind.
  Queue(from_reduction_t tag, detail::InputArchive& ar, detail::QueueCore::Kind kind) : m_core(tag, ar, kind) {}
  /// The pipe, the feeder thread and the counters shared by every process.
  detail::QueueCore m_core;
};

/// multiprocessing.JoinableQueue: a Queue whose consumers report each item done, so that a
/// producer can join() until all of them are.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  /// As Queue(maxsize).
  explicit JoinableQueue(std::ptrdiff_t maxsize = 0) : Queue<T>(detail::QueueCore::Kind::joinable, maxsize) {}
  /// A handle, in a child, of the queue another process reduced (reduction.hpp).
  JoinableQueue(from_reduction_t tag, detail::InputArchive& ar) : Queue<T>(tag, ar, detail::QueueCore::Kind::joinable) {}
  /// Marks one item got from the queue as processed. ValueError when called more times than
  /// items were put.
  void task_done() { this->m_core.task_done(); }
  /// Waits until every item put (by any process) has been task_done().
  void join() { this->m_core.join(); }
};

/// multiprocessing.SimpleQueue: an unbounded FIFO without a feeder thread.
template <class T>
class SimpleQueue {
  static_assert(Serializable<T>, "multiprocessing::SimpleQueue<T>: T must be serializable (see serialize.hpp)");

 public:
  /// OSError when the resources cannot be made.
  SimpleQueue() : m_core(detail::QueueCore::Kind::simple, 0) {}
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;
  /// A handle, in a child, of the queue another process reduced (reduction.hpp).
  SimpleQueue(from_reduction_t tag, detail::InputArchive& ar) : m_core(tag, ar, detail::QueueCore::Kind::simple) {}
  /// Records a handle of this queue for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const { m_core.reduce(ar); }

  /// Writes `item`; blocks while the socket is full. ValueError after close().
  void put(const T& item) { m_core.put(serialize(item), {}); }
  /// Removes and returns the oldest item, waiting for one. ValueError after close().
  T get() { return deserialize<T>(m_core.get({})); }
  /// Whether no item is waiting.
  [[nodiscard]] bool empty() const { return m_core.empty(); }
  /// This process will put and get no more (Python closes the connections; here they are
  /// released by the destructor).
  void close() { m_core.close(); }

 private:
  detail::QueueCore m_core;
};

}  // namespace concur::multiprocessing
