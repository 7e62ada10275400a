// SPDX-License-Identifier: MIT
// concur/asyncio/events.hpp — the event loop: EventLoop, Handle, TimerHandle, get_running_loop.
//
// Mirrors Python's asyncio.events / base_events: one loop per thread, which runs callbacks
// (`call_soon`, `call_later`, `call_at`, `call_soon_threadsafe`) and the steps of tasks. The loop
// stands on libuv (one uv_loop_t per EventLoop; <uv.h> is only ever included under src/asyncio/),
// so that I/O handles (streams, servers, subprocesses, signals) can be added on the same loop.
//
// How a loop iteration runs (Python's BaseEventLoop._run_once):
//   1. wait for I/O with libuv — without blocking when callbacks are ready, else until the
//      earliest timer is due (or forever, woken by call_soon_threadsafe);
//   2. move the timers that are due to the ready queue, in deadline order;
//   3. run the callbacks that were ready when the iteration began, in FIFO order. Callbacks
//      they schedule run in the next iteration.
//
// Cost model (why it is built this way):
//  * The ready queue is an intrusive FIFO: scheduling a task's step is two pointer writes, no
//    allocation, no libuv handle. call_soon(fn) allocates one node holding `fn`.
//  * Timers are the loop's own, with nanosecond deadlines on the steady clock, bucketed by
//    millisecond. A sleeping task's timer lives in its coroutine frame, so a million sleeping
//    tasks cost no allocation beyond their frames; cancelling a timer is O(1). The loop is woken
//    for the earliest deadline by a kernel timer (a timerfd) that libuv polls like any other
//    file descriptor, not by a libuv timer: libuv counts in milliseconds and rounds every wait
//    up, which made every sleep about a millisecond late. Setting it is one system call, made
//    before the loop blocks only if the earliest deadline changed or the alarm went off.
//  * While callbacks are ready, libuv is polled for I/O once per 128 callbacks, not once per
//    iteration (a poll is a system call; a task step is a few nanoseconds).
//  * The other way round, one poll can report thousands of connections with data (libuv goes
//    on while the kernel hands it full batches of 1,024). After every 256 reads that woke a
//    task, the loop runs the callbacks ready by then, from within the poll, and sends what
//    they wrote: each connection is answered while its state is still in the CPU's caches,
//    not after thousands of others have been read.
//
// Thread safety: an EventLoop belongs to the thread that runs it. Only call_soon_threadsafe()
// (and Handle::cancel() of the handle it returns) may be called from another thread.
//
// Lifetime: close() (or the destructor) closes every libuv handle and the uv_loop_t; a task
// still pending then is reported ("Task was destroyed but it is pending!") and destroyed.
// asyncio::run() and Runner cancel and await all tasks before closing, so nothing is pending.
// Connections, servers, datagram endpoints, child processes (killed and reaped) and signal
// handlers still open are closed by close() too, as Python's asyncio.run() closes transports
// with the loop; their handles (StreamWriter, Server, ...) may outlive the loop and behave as
// closed from then on.
//
// Differences from Python:
//  * Slow callbacks (debug mode) are reported through the exception handler, as are the other
//    reports, so that one sink (set_exception_handler) captures everything the loop reports.
//  * Timers never fire before their deadline, by time() or by std::chrono::steady_clock (the
//    same clock); Python's may fire up to one clock resolution early (its _clock_resolution).
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::futures {
class ThreadPoolExecutor;
}

namespace concur::asyncio {

class EventLoop;
class TaskBase;
template <class T>
class Task;

namespace detail {

class PromiseBase;

/// An entry of the loop's ready queue: a task (its step) or a callback. Intrusive: the node
/// lives in the task's coroutine frame or in the callback's own allocation.
class CONCUR_API ReadyNode {
 public:
  /// Runs the entry (one task step or one callback). Exceptions are handled inside.
  virtual void run_ready() noexcept = 0;
  /// Called instead of run_ready() when the loop closes with the entry still queued.
  virtual void discard_ready() noexcept = 0;
  ReadyNode* m_next_ready = nullptr;  // next entry of the FIFO; null at the tail or when not queued

 protected:
  ReadyNode() = default;
  ReadyNode(ReadyNode&&) noexcept {}  // a fresh, unqueued node (awaiters move before they are awaited)
  ReadyNode(const ReadyNode&) = delete;
  ReadyNode& operator=(const ReadyNode&) = delete;
  ~ReadyNode() = default;
};

/// An intrusive singly linked FIFO of ReadyNodes (one loop thread only).
class ReadyQueue {
 public:
  void push(ReadyNode* node) noexcept {
    assert(node->m_next_ready == nullptr);
    if (m_tail == nullptr) {
      m_head = node;
    } else {
      m_tail->m_next_ready = node;
    }
    m_tail = node;
    ++m_size;
  }
  /// Detaches the whole queue; returns its head (entries are linked by m_next_ready).
  ReadyNode* take_all(std::size_t& count) noexcept {
    ReadyNode* head = m_head;
    count = m_size;
    m_head = m_tail = nullptr;
    m_size = 0;
    return head;
  }
  [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }

 private:
  ReadyNode* m_head = nullptr;
  ReadyNode* m_tail = nullptr;
  std::size_t m_size = 0;
};

/// A timer of the loop's timer queue. Intrusive: it lives in a sleeping task's frame or in a
/// call_later() callback. `m_fire` runs when the deadline passed; it must only schedule work
/// (push to the ready queue), never run user code.
struct TimerNode {
  TimerNode* m_prev = nullptr;  // bucket list links; both null while the timer is not armed
  TimerNode* m_next = nullptr;
  std::int64_t m_deadline = 0;  // steady-clock nanoseconds
  void (*m_fire)(TimerNode*) noexcept = nullptr;
  [[nodiscard]] bool armed() const noexcept { return m_prev != nullptr; }
};

/// A call_soon()/call_later() callback: the ready-queue entry, the timer, and a reference
/// count shared by the queue and the Handles (atomic: call_soon_threadsafe hands a Handle to
/// another thread).
class CONCUR_API CallbackNode : public ReadyNode, public TimerNode {
 public:
  void run_ready() noexcept final;
  void discard_ready() noexcept final { release(); }
  void add_ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner must see every write of the others before deleting.
    if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  EventLoop* m_loop = nullptr;
  std::atomic<bool> m_cancelled{false};
  std::atomic<std::uint32_t> m_refs{1};  // the owner that queued it (ready queue or timer queue)

 protected:
  CallbackNode() = default;
  virtual ~CallbackNode() = default;
  /// Runs the callback (exceptions go to the loop's exception handler).
  virtual void invoke() = 0;
  friend class concur::asyncio::EventLoop;
};

template <class F>
class CallbackImpl final : public CallbackNode {
 public:
  explicit CallbackImpl(F fn) : m_fn(std::move(fn)) {}

 private:
  void invoke() override { m_fn(); }
  F m_fn;
};

template <class F, class... Args>
CallbackNode* make_callback(F&& fn, Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return new CallbackImpl<std::decay_t<F>>(std::forward<F>(fn));
  } else {
    auto bound = [fn = std::forward<F>(fn), tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
      std::apply(fn, tup);
    };
    return new CallbackImpl<decltype(bound)>(std::move(bound));
  }
}

struct LoopImpl;  // the libuv side, defined in src/asyncio/
class ThreadsafeQueue;  // call_soon_threadsafe's queue, shared with posting threads (src/asyncio/)
/// Queues `node` on the loop owning `queue` from any thread and wakes it; false (node not
/// taken) once that loop is closed. Stays safe to call after the loop is destroyed.
CONCUR_API bool post_to(const std::shared_ptr<ThreadsafeQueue>& queue, CallbackNode* node) noexcept;

/// Counters for tests and leak checks: every test proves its loops closed cleanly and left
/// no task frame alive.
struct LoopStats {
  std::int64_t open_loops = 0;        ///< EventLoops constructed and not yet closed
  std::int64_t unclean_closes = 0;    ///< closes where libuv still had a live handle
  std::int64_t live_frames = 0;       ///< coroutine frames of asyncio::Task alive in the process
  std::int64_t destroyed_pending = 0; ///< tasks destroyed while still pending (since start)
};
/// The counters above (thread-safe).
[[nodiscard]] CONCUR_API LoopStats loop_stats() noexcept;
CONCUR_API extern std::atomic<std::int64_t> g_live_frames;
CONCUR_API extern std::atomic<std::int64_t> g_destroyed_pending;

}  // namespace detail

/// What the loop reports to its exception handler (Python's context dict).
struct ExceptionContext {
  std::string message;            ///< what happened ("Task exception was never retrieved", ...)
  std::exception_ptr exception;   ///< the exception involved, if any
  std::string task_name;          ///< the task involved, if any ("" otherwise)
};

/// A scheduled callback (Python's asyncio.Handle): cancel() prevents it from running.
/// A copyable handle; copies refer to the same callback.
class CONCUR_API Handle {
 public:
  /// An empty handle, on no callback: cancel() does nothing and cancelled() is false.
  Handle() = default;
  /// A handle on `node`, taking a reference to it (internal: call_soon(), call_later() and
  /// the others make their handles so). A null `node` makes an empty handle.
  explicit Handle(detail::CallbackNode* node) noexcept : m_node(node) {
    if (m_node != nullptr) m_node->add_ref();
  }
  /// Copyable and movable: a copy refers to the same callback (the count of references is
  /// atomic: call_soon_threadsafe()'s handle lives in another thread than the loop that runs
  /// the callback); a moved-from handle is empty.
  /// @{
  Handle(const Handle& o) noexcept : Handle(o.m_node) {}
  Handle(Handle&& o) noexcept : m_node(std::exchange(o.m_node, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(m_node, o.m_node);
    return *this;
  }
  /// @}
  ~Handle() {
    if (m_node != nullptr) m_node->release();
  }
  /// Cancels the callback: it will not run (no effect if it already ran). A cancelled timer is
  /// removed from the loop at once when called on the loop's thread, else when it comes due.
  void cancel() noexcept;
  /// True once cancel() was called.
  [[nodiscard]] bool cancelled() const noexcept {
    return m_node != nullptr && m_node->m_cancelled.load(std::memory_order_relaxed);
  }

 protected:
  /// The callback, of which this handle holds one reference; null for an empty handle.
  detail::CallbackNode* m_node = nullptr;
};

/// A callback scheduled for a time (Python's asyncio.TimerHandle).
class CONCUR_API TimerHandle : public Handle {
 public:
  /// Handle's constructors (an empty handle, one on a timer callback, copies and moves).
  using Handle::Handle;
  /// The loop time (EventLoop::time()) at which it is (or was) scheduled to run.
  [[nodiscard]] double when() const noexcept;
};

/// The event loop (Python's asyncio event loop). See the file comment.
class CONCUR_API EventLoop {
 public:
  /// The exception handler (Python's handler(loop, context)): called on the loop's thread with
  /// the loop and each report (see set_exception_handler()).
  using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

  /// A new loop (not running). Throws std::system_error if libuv cannot create one.
  EventLoop();
  /// Closes the loop if needed (see close()). Must not be running.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // ---- running and stopping ------------------------------------------------------------
  /// Runs until stop() is called. RuntimeError if this loop is already running, if another
  /// loop runs in this thread, or if the loop is closed.
  void run_forever();
  /// Runs until `task` is done and returns its result (rethrows its exception). An unstarted
  /// coroutine is wrapped in a task first. RuntimeError if the loop stops before the task is
  /// done. Defined in task.hpp.
  template <class T>
  T run_until_complete(Task<T> task);
  /// Asks run_forever() to return after the current iteration.
  void stop() noexcept { m_stopping = true; }
  /// True while run_forever() runs.
  [[nodiscard]] bool is_running() const noexcept { return m_running; }
  /// True after close().
  [[nodiscard]] bool is_closed() const noexcept { return m_closed; }
  /// Closes the loop: clears the ready queue and the timers, destroys pending tasks (reported),
  /// closes every libuv handle (connections, servers, endpoints, children and signal handlers
  /// still open included) and the uv_loop_t. Idempotent. RuntimeError if running.
  void close();

  // ---- time and callbacks ----------------------------------------------------------------
  /// The loop's clock: monotonic seconds (Python's loop.time()).
  [[nodiscard]] double time() const noexcept;
  /// Schedules fn(args...) for the next iteration (FIFO). Returns a Handle to cancel it.
  /// RuntimeError if the loop is closed.
  template <class F, class... Args>
  Handle call_soon(F&& fn, Args&&... args) {
    check_open();
    detail::CallbackNode* node = detail::make_callback(std::forward<F>(fn), std::forward<Args>(args)...);
    node->m_loop = this;
    Handle handle(node);
    schedule(node);
    return handle;
  }
  /// As call_soon, from any thread: wakes the loop. RuntimeError if the loop is closed.
  template <class F, class... Args>
  Handle call_soon_threadsafe(F&& fn, Args&&... args) {
    detail::CallbackNode* node = detail::make_callback(std::forward<F>(fn), std::forward<Args>(args)...);
    node->m_loop = this;
    Handle handle(node);
    post_threadsafe(node);
    return handle;
  }
  /// Schedules fn(args...) to run `delay` from now (a negative delay means now).
  template <class F, class... Args>
  TimerHandle call_later(Timeout delay, F&& fn, Args&&... args) {
    return call_at(time() + delay.count(), std::forward<F>(fn), std::forward<Args>(args)...);
  }
  /// Schedules fn(args...) to run at loop time `when` (see time()).
  template <class F, class... Args>
  TimerHandle call_at(double when, F&& fn, Args&&... args) {
    check_open();
    detail::CallbackNode* node = detail::make_callback(std::forward<F>(fn), std::forward<Args>(args)...);
    node->m_loop = this;
    node->m_fire = &fire_callback_timer;
    TimerHandle handle(node);
    add_timer(node, to_deadline(when));
    return handle;
  }

  // ---- tasks (defined in task.hpp) ---------------------------------------------------------
  /// Wraps an unstarted coroutine in a task and schedules its first step.
  template <class T>
  Task<T> create_task(Task<T> coro, std::string name = {});

  // ---- executor (defined in threads.hpp / src) -------------------------------------------
  /// The loop's default ThreadPoolExecutor, created on first use (run_in_executor, to_thread).
  futures::ThreadPoolExecutor& default_executor();
  /// Shuts the default executor down, waiting for its threads (Runner.close does this).
  void shutdown_default_executor();

  // ---- Unix signals (signals.hpp; defined in src/asyncio/net_signals.cpp) ---------------------
  /// Python's loop.add_signal_handler(sig, callback, *args): runs callback(args...) on this
  /// loop whenever `sig` arrives. ValueError for an invalid signal number; RuntimeError for a
  /// signal that cannot be caught (SIGKILL, SIGSTOP) or if the loop is closed.
  void add_signal_handler(int sig, std::function<void()> callback);
  /// As add_signal_handler(sig, callback), calling callback(arg, args...) (Python's *args).
  template <class F, class Arg, class... Args>
  void add_signal_handler(int sig, F callback, Arg arg, Args... args) {
    add_signal_handler(sig, std::function<void()>([callback = std::move(callback), arg = std::move(arg),
                                                   ... args = std::move(args)]() mutable { callback(arg, args...); }));
  }
  /// Python's loop.remove_signal_handler(sig): false if `sig` had no handler on this loop.
  bool remove_signal_handler(int sig);

  // ---- error handling and debug ------------------------------------------------------------
  /// Sets the handler that receives every report of the loop (null restores the default,
  /// which prints to stderr). Returns the previous one.
  ExceptionHandler set_exception_handler(ExceptionHandler handler);
  /// Passes `context` to the handler (the handler's own exceptions are printed, not thrown).
  void call_exception_handler(const ExceptionContext& context) noexcept;
  /// Prints `context` to stderr, as Python's default handler does.
  static void default_exception_handler(const ExceptionContext& context) noexcept;
  /// Debug mode: reports steps longer than slow_callback_duration().
  void set_debug(bool enabled) noexcept { m_debug = enabled; }
  /// Python's loop.get_debug(): whether debug mode is on. Set by set_debug(), or at
  /// construction by the environment variable CONCUR_ASYNCIO_DEBUG (any value but "" and "0").
  [[nodiscard]] bool get_debug() const noexcept { return m_debug; }
  /// The threshold of a slow step in debug mode (0.1 s by default).
  [[nodiscard]] Timeout slow_callback_duration() const noexcept { return m_slow_callback_duration; }
  /// Sets that threshold (Python's `loop.slow_callback_duration = d`): in debug mode, a task
  /// step or callback that runs for `d` or longer is reported to the exception handler.
  void set_slow_callback_duration(Timeout d) noexcept { m_slow_callback_duration = d; }

  // ---- for tests ---------------------------------------------------------------------------
  /// The number of libuv handles that are open (uv_walk): 0 after close().
  [[nodiscard]] std::size_t live_handle_count() const noexcept;

  // ---- internals used by the awaitables of concur::asyncio ---------------------------------
  /// Pushes a node to the ready queue (loop thread only).
  void schedule(detail::ReadyNode* node) noexcept { m_ready.push(node); }
  /// Arms `timer` for the steady-clock deadline `deadline_ns` (loop thread only).
  void add_timer(detail::TimerNode* timer, std::int64_t deadline_ns);
  /// Disarms `timer` if armed (loop thread only).
  void remove_timer(detail::TimerNode* timer) noexcept;
  /// The steady clock in nanoseconds (the timers' unit).
  [[nodiscard]] static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  /// Loop time (seconds) to the timers' nanoseconds, saturating.
  [[nodiscard]] static std::int64_t to_deadline(double when) noexcept;
  /// The task running now (null between steps).
  [[nodiscard]] detail::PromiseBase* current_promise() const noexcept { return m_current; }
  /// Sets the task running now: the task's step sets itself before it resumes its frame and
  /// null after (loop thread only).
  void set_current_promise(detail::PromiseBase* p) noexcept { m_current = p; }
  /// Adds `task` to the loop's list of tasks (all_tasks() walks it) when it becomes a task.
  /// Loop thread only.
  void link_task(detail::PromiseBase* task) noexcept;
  /// Removes `task` from the loop's list of tasks; its frame's destructor calls it. Loop thread
  /// only.
  void unlink_task(detail::PromiseBase* task) noexcept;
  /// The first task of the loop's list (see PromiseBase::m_next_task).
  [[nodiscard]] detail::PromiseBase* first_task() const noexcept { return m_tasks; }
  /// The next "Task-N" number.
  std::uint64_t next_task_number() noexcept { return ++m_task_counter; }
  /// The call_soon_threadsafe queue, for bridges that may post after the loop is gone.
  [[nodiscard]] std::shared_ptr<detail::ThreadsafeQueue> threadsafe_queue() const;
  /// The libuv side of the loop (opaque here; src/asyncio/loop_impl.hpp defines it), for the
  /// code under src/asyncio/ that opens libuv handles (streams, servers, subprocesses, ...).
  [[nodiscard]] detail::LoopImpl& impl() noexcept { return *m_impl; }
  /// Throws RuntimeError if the loop is closed.
  void check_open() const {
    if (m_closed) throw RuntimeError("Event loop is closed");
  }

 private:
  static void fire_callback_timer(detail::TimerNode* timer) noexcept;
  void post_threadsafe(detail::CallbackNode* node);
  void run_once();
  void poll(int mode);  // uv_run(mode), marked as run_once()'s poll
  void run_ready_batch();
  void process_timers(std::int64_t now);
  void report_slow(const std::string& what, double seconds) noexcept;
  friend class Handle;
  friend struct detail::LoopImpl;

  detail::ReadyQueue m_ready;                  // loop thread only
  detail::PromiseBase* m_current = nullptr;    // the task whose step runs now
  detail::PromiseBase* m_tasks = nullptr;      // every task frame of this loop still alive (intrusive list)
  std::uint64_t m_task_counter = 0;
  std::size_t m_steps_since_poll = 0;          // callbacks run since libuv was last polled
  bool m_running = false;
  bool m_stopping = false;
  bool m_closed = false;
  bool m_debug = false;
  Timeout m_slow_callback_duration{0.1};
  ExceptionHandler m_exception_handler;
  std::unique_ptr<detail::LoopImpl> m_impl;    // libuv loop, handles, timer buckets, thread-safe queue
};

/// The loop running in this thread. RuntimeError("no running event loop") if none.
CONCUR_API EventLoop& get_running_loop();
/// The loop running in this thread, or null.
CONCUR_API EventLoop* running_loop_or_null() noexcept;

}  // namespace concur::asyncio
