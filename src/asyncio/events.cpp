// SPDX-License-Identifier: MIT
// EventLoop on libuv: the iteration, the timer buckets and their alarm, call_soon_threadsafe, close().
#include "concur/asyncio/events.hpp"

#include <fmt/core.h>
#include <uv.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <system_error>

#include "concur/asyncio/task.hpp"
#include "concur/futures/thread.hpp"
#include "loop_impl.hpp"

namespace concur::asyncio {

namespace detail {

std::atomic<std::int64_t> g_live_frames{0};
namespace {
std::atomic<std::int64_t> g_open_loops{0};
std::atomic<std::int64_t> g_unclean_closes{0};
}  // namespace
std::atomic<std::int64_t> g_destroyed_pending{0};

LoopStats loop_stats() noexcept {
  return {g_open_loops.load(), g_unclean_closes.load(), g_live_frames.load(), g_destroyed_pending.load()};
}

// ---- ThreadsafeQueue -------------------------------------------------------------------------

bool ThreadsafeQueue::post(CallbackNode* node) noexcept {
  // The wake-up is sent outside m_mutex, so that the woken loop does not find the queue still
  // locked (a second context switch); the shared lock keeps close() from closing the handle
  // meanwhile. Only the post that makes the queue non-empty wakes the loop: the others find
  // a wake-up already on its way.
  std::shared_lock send(m_send_mutex);
  bool was_empty = false;
  {
    std::lock_guard lock(m_mutex);
    if (m_async == nullptr) return false;
    try {
      m_nodes.push_back(node);
    } catch (...) {
      return false;
    }
    was_empty = m_nodes.size() == 1;
  }
  if (was_empty) uv_async_send(m_async);
  return true;
}

void ThreadsafeQueue::drain(EventLoop& loop) noexcept {
  {
    std::lock_guard lock(m_mutex);
    m_spare.swap(m_nodes);
  }
  for (CallbackNode* node : m_spare) {
    // Nodes of call_soon_threadsafe() know their loop already (a Handle may read it from its
    // thread); the bridges' internal nodes learn it here.
    if (node->m_loop == nullptr) node->m_loop = &loop;
    loop.schedule(node);
  }
  m_spare.clear();
}

std::vector<CallbackNode*> ThreadsafeQueue::close() noexcept {
  std::unique_lock send(m_send_mutex);  // no post is between its push and its uv_async_send
  std::lock_guard lock(m_mutex);
  m_async = nullptr;
  return std::exchange(m_nodes, {});
}

// ---- TimerBuckets ----------------------------------------------------------------------------

void TimerBuckets::add(TimerNode* node, std::int64_t deadline_ns) {
  assert(!node->armed());
  const std::int64_t tick = std::max<std::int64_t>(deadline_ns, 0) / tick_ns;
  auto [it, inserted] = m_buckets.try_emplace(tick);
  TimerNode& sentinel = it->second;
  if (inserted) {
    sentinel.m_prev = sentinel.m_next = &sentinel;
    sentinel.m_deadline = deadline_ns;
    try {
      m_ticks.push(tick);
    } catch (...) {
      m_buckets.erase(it);
      throw;
    }
  } else if (deadline_ns < sentinel.m_deadline || sentinel.m_next == &sentinel) {
    sentinel.m_deadline = deadline_ns;  // (an emptied bucket's bound is its new timer's deadline)
  }
  node->m_deadline = deadline_ns;
  node->m_next = &sentinel;
  node->m_prev = sentinel.m_prev;
  sentinel.m_prev->m_next = node;
  sentinel.m_prev = node;
  ++m_armed;
}

void TimerBuckets::remove(TimerNode* node) noexcept {
  if (!node->armed()) return;
  node->m_prev->m_next = node->m_next;
  node->m_next->m_prev = node->m_prev;
  node->m_prev = node->m_next = nullptr;
  --m_armed;
}

void TimerBuckets::fire_due(std::int64_t now_ns) {
  const std::int64_t now_tick = now_ns / tick_ns;
  while (!m_ticks.empty() && m_ticks.top() <= now_tick) {
    const std::int64_t tick = m_ticks.top();
    auto it = m_buckets.find(tick);
    assert(it != m_buckets.end());
    TimerNode& sentinel = it->second;
    m_scratch.clear();
    if (tick < now_tick) {
      // A millisecond that has passed: every timer of the bucket is due.
      for (TimerNode* n = sentinel.m_next; n != &sentinel;) {
        TimerNode* next = n->m_next;
        n->m_prev = n->m_next = nullptr;
        m_scratch.push_back(n);
        n = next;
      }
    } else {
      // The millisecond the loop is in: the timers due by now leave the bucket, in list
      // (insertion) order; the bound of the others becomes exact.
      if (sentinel.m_deadline > now_ns) break;
      std::int64_t rest = std::numeric_limits<std::int64_t>::max();
      for (TimerNode* n = sentinel.m_next; n != &sentinel;) {
        TimerNode* next = n->m_next;
        if (n->m_deadline <= now_ns) {
          n->m_prev->m_next = next;
          next->m_prev = n->m_prev;
          n->m_prev = n->m_next = nullptr;
          m_scratch.push_back(n);
        } else {
          rest = std::min(rest, n->m_deadline);
        }
        n = next;
      }
      sentinel.m_deadline = rest;
    }
    if (sentinel.m_next == &sentinel || tick < now_tick) {
      m_ticks.pop();
      m_buckets.erase(it);
    }
    m_armed -= m_scratch.size();
    auto by_deadline = [](const TimerNode* a, const TimerNode* b) { return a->m_deadline < b->m_deadline; };
    // Timers of one duration arrive in deadline order: usually nothing to sort.
    if (!std::is_sorted(m_scratch.begin(), m_scratch.end(), by_deadline)) {
      std::stable_sort(m_scratch.begin(), m_scratch.end(), by_deadline);
    }
    for (TimerNode* n : m_scratch) n->m_fire(n);
    if (tick == now_tick) break;  // what is left is not due yet
  }
}

std::int64_t TimerBuckets::next_due() noexcept {
  while (!m_ticks.empty()) {
    const std::int64_t tick = m_ticks.top();
    auto it = m_buckets.find(tick);
    if (it != m_buckets.end() && it->second.m_next != &it->second) return it->second.m_deadline;
    // Every timer of this bucket was cancelled: drop it.
    if (it != m_buckets.end()) m_buckets.erase(it);
    m_ticks.pop();
  }
  return -1;
}

void TimerBuckets::clear(const std::function<void(TimerNode*)>& on_each) {
  for (auto& [tick, sentinel] : m_buckets) {
    for (TimerNode* n = sentinel.m_next; n != &sentinel;) {
      TimerNode* next = n->m_next;
      n->m_prev = n->m_next = nullptr;
      on_each(n);
      n = next;
    }
  }
  m_buckets.clear();
  m_ticks = {};
  m_armed = 0;
}

// ---- CallbackNode --------------------------------------------------------------------------

void CallbackNode::run_ready() noexcept {
  if (!m_cancelled.load(std::memory_order_relaxed)) {
    try {
      invoke();
    } catch (...) {
      m_loop->call_exception_handler({"Exception in callback", std::current_exception(), {}});
    }
  }
  release();  // the ready queue's reference
}

}  // namespace detail

namespace {

thread_local EventLoop* t_running_loop = nullptr;

[[noreturn]] void throw_uv(int err, const char* what) {
  throw std::system_error(-err, std::generic_category(), fmt::format("{}: {}", what, uv_strerror(err)));
}

bool env_debug() {
  const char* v = std::getenv("CONCUR_ASYNCIO_DEBUG");
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

}  // namespace

EventLoop* running_loop_or_null() noexcept { return t_running_loop; }

EventLoop& get_running_loop() {
  if (t_running_loop == nullptr) throw RuntimeError("no running event loop");
  return *t_running_loop;
}

// ---- Handle ----------------------------------------------------------------------------------

void Handle::cancel() noexcept {
  if (m_node == nullptr) return;
  if (m_node->m_cancelled.exchange(true, std::memory_order_relaxed)) return;
  // On the loop's thread, a timer is removed now (frees its memory early); elsewhere it is
  // dropped when it comes due.
  EventLoop* loop = m_node->m_loop;
  if (loop != nullptr && t_running_loop == loop && m_node->armed()) {
    loop->remove_timer(m_node);
    m_node->release();  // the timer queue's reference
  }
}

double TimerHandle::when() const noexcept {
  return m_node == nullptr ? 0.0 : static_cast<double>(m_node->m_deadline) / 1e9;
}

// ---- EventLoop -------------------------------------------------------------------------------

EventLoop::EventLoop() : m_debug(env_debug()), m_impl(std::make_unique<detail::LoopImpl>()) {
  detail::LoopImpl& impl = *m_impl;
  if (int err = uv_loop_init(&impl.loop); err != 0) throw_uv(err, "uv_loop_init");
  impl.loop.data = this;
  int err = impl.wake.init(&impl.loop);
  if (err == 0) {
    err = uv_async_init(&impl.loop, &impl.async, [](uv_async_t* async) {
      auto* loop = static_cast<EventLoop*>(async->loop->data);
      loop->m_impl->threadsafe->drain(*loop);
    });
    if (err != 0) impl.wake.close(nullptr, nullptr);
  }
  if (err != 0) {
    uv_run(&impl.loop, UV_RUN_DEFAULT);
    uv_loop_close(&impl.loop);
    throw_uv(err, "uv handle init");
  }
  impl.threadsafe->m_async = &impl.async;
  detail::g_open_loops.fetch_add(1, std::memory_order_relaxed);
}

EventLoop::~EventLoop() {
  assert(!m_running);
  if (!m_closed) {
    try {
      close();
    } catch (...) {
      call_exception_handler({"Exception while closing the event loop", std::current_exception(), {}});
    }
  }
}

double EventLoop::time() const noexcept { return static_cast<double>(now_ns()) / 1e9; }

std::int64_t EventLoop::to_deadline(double when) noexcept {
  const double ns = when * 1e9;
  if (!(ns < 9.0e18)) return std::int64_t{9'000'000'000'000'000'000};  // "practically never" (and NaN)
  if (ns <= 0) return 0;
  return static_cast<std::int64_t>(std::ceil(ns));
}

void EventLoop::add_timer(detail::TimerNode* timer, std::int64_t deadline_ns) {
  check_open();
  m_impl->timers.add(timer, deadline_ns);
}

void EventLoop::remove_timer(detail::TimerNode* timer) noexcept { m_impl->timers.remove(timer); }

void EventLoop::fire_callback_timer(detail::TimerNode* timer) noexcept {
  auto* node = static_cast<detail::CallbackNode*>(timer);
  if (node->m_cancelled.load(std::memory_order_relaxed)) {
    node->release();
  } else {
    node->m_loop->schedule(node);  // the timer's reference becomes the ready queue's
  }
}

void EventLoop::post_threadsafe(detail::CallbackNode* node) {
  if (!m_impl->threadsafe->post(node)) {
    node->release();
    throw RuntimeError("Event loop is closed");
  }
}

std::shared_ptr<detail::ThreadsafeQueue> EventLoop::threadsafe_queue() const { return m_impl->threadsafe; }

bool detail::post_to(const std::shared_ptr<ThreadsafeQueue>& queue, CallbackNode* node) noexcept {
  return queue->post(node);
}

void EventLoop::link_task(detail::PromiseBase* task) noexcept {
  task->m_prev_task = nullptr;
  task->m_next_task = m_tasks;
  if (m_tasks != nullptr) m_tasks->m_prev_task = task;
  m_tasks = task;
}

void EventLoop::unlink_task(detail::PromiseBase* task) noexcept {
  if (task->m_prev_task != nullptr) {
    task->m_prev_task->m_next_task = task->m_next_task;
  } else {
    assert(m_tasks == task);
    m_tasks = task->m_next_task;
  }
  if (task->m_next_task != nullptr) task->m_next_task->m_prev_task = task->m_prev_task;
  task->m_prev_task = task->m_next_task = nullptr;
}

void EventLoop::run_forever() {
  check_open();
  if (m_running) throw RuntimeError("This event loop is already running");
  if (t_running_loop != nullptr) throw RuntimeError("Cannot run the event loop while another loop is running");
  m_running = true;
  t_running_loop = this;
  struct Reset {
    EventLoop* loop;
    ~Reset() {
      loop->m_stopping = false;
      loop->m_running = false;
      t_running_loop = nullptr;
    }
  } reset{this};
  for (;;) {
    run_once();
    if (m_stopping) break;
  }
}

void EventLoop::run_once() {
  detail::LoopImpl& impl = *m_impl;
  // 1. I/O. While callbacks are ready, poll without blocking, once per 128 callbacks run (a
  //    poll is a system call). Otherwise block until the earliest timer or any event.
  if (!m_ready.empty() || m_stopping) {
    if (m_steps_since_poll >= 128) {
      m_steps_since_poll = 0;
      poll(UV_RUN_NOWAIT);
    }
  } else {
    // The alarm is set for the earliest deadline, to the nanosecond: libuv itself then polls
    // with no timeout (its own timers would round the wait up to whole milliseconds).
    const std::int64_t due = impl.timers.next_due();
    bool overdue = false;
    if (due < 0) {
      impl.wake.disarm();
    } else if (due <= now_ns()) {
      overdue = true;
    } else {
      impl.wake.arm(due);
    }
    m_steps_since_poll = 0;
    poll(overdue ? UV_RUN_NOWAIT : UV_RUN_ONCE);
  }
  // 2. Timers that are due join the ready queue, in deadline order.
  if (impl.timers.size() > 0) impl.timers.fire_due(now_ns());
  // 3. The callbacks ready now; what they schedule runs next iteration.
  run_ready_batch();
  // 4. What they wrote to connections goes out now, one system call per connection (see
  //    StreamTransport::write).
  if (impl.flush_head != nullptr) impl.flush_deferred();
}

void EventLoop::poll(int mode) {
  detail::LoopImpl& impl = *m_impl;
  impl.polling = true;
  impl.polled_wakes = 0;
  uv_run(&impl.loop, static_cast<uv_run_mode>(mode));
  impl.polling = false;
}

void detail::LoopImpl::run_ready_while_polling(EventLoop& loop) noexcept {
  polled_wakes = 0;
  polling = false;  // no nesting
  loop.run_ready_batch();
  if (flush_head != nullptr) flush_deferred();
  polling = true;
}

namespace {
std::string describe(detail::ReadyNode* node) {
  if (auto* task = dynamic_cast<detail::PromiseBase*>(node)) return fmt::format("<Task name='{}'>", task->name());
  return "<Handle callback>";
}
}  // namespace

void EventLoop::run_ready_batch() {
  std::size_t count = 0;
  detail::ReadyNode* node = m_ready.take_all(count);
  m_steps_since_poll += count;
  while (node != nullptr) {
    detail::ReadyNode* next = node->m_next_ready;
    node->m_next_ready = nullptr;
    if (m_debug) {
      std::string what = describe(node);
      const std::int64_t t0 = now_ns();
      node->run_ready();
      const double took = static_cast<double>(now_ns() - t0) / 1e9;
      if (took >= m_slow_callback_duration.count()) report_slow(what, took);
    } else {
      node->run_ready();
    }
    if (m_impl->flush_count >= detail::LoopImpl::flush_batch) m_impl->flush_deferred();
    node = next;
  }
}

void EventLoop::report_slow(const std::string& what, double seconds) noexcept {
  try {
    call_exception_handler({fmt::format("Executing {} took {:.3f} seconds", what, seconds), nullptr, {}});
  } catch (...) {
  }
}

EventLoop::ExceptionHandler EventLoop::set_exception_handler(ExceptionHandler handler) {
  return std::exchange(m_exception_handler, std::move(handler));
}

void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
  if (!m_exception_handler) {
    default_exception_handler(context);
    return;
  }
  try {
    m_exception_handler(*this, context);
  } catch (...) {
    default_exception_handler({"Unhandled error in exception handler", std::current_exception(), {}});
    default_exception_handler(context);
  }
}

void EventLoop::default_exception_handler(const ExceptionContext& context) noexcept {
  try {
    std::string text = context.message;
    if (!context.task_name.empty()) text += fmt::format("\ntask: <Task name='{}'>", context.task_name);
    if (context.exception) {
      text += fmt::format("\n{}: {}", exception_type_name(context.exception), exception_message(context.exception));
    }
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
  } catch (...) {
  }
}

futures::ThreadPoolExecutor& EventLoop::default_executor() {
  check_open();
  if (!m_impl->executor) {
    m_impl->executor = std::make_unique<futures::ThreadPoolExecutor>(futures::ThreadPoolOptions{.thread_name_prefix = "asyncio"});
  }
  return *m_impl->executor;
}

void EventLoop::shutdown_default_executor() {
  if (m_impl->executor) m_impl->executor->shutdown(true);
}

std::size_t EventLoop::live_handle_count() const noexcept {
  if (m_closed) return 0;
  std::size_t n = 0;
  uv_walk(
      &m_impl->loop,
      [](uv_handle_t* h, void* arg) {
        if (!uv_is_closing(h)) ++*static_cast<std::size_t*>(arg);
      },
      &n);
  return n;
}

void EventLoop::close() {
  if (m_running) throw RuntimeError("Cannot close a running event loop");
  if (m_closed) return;
  m_closed = true;
  detail::LoopImpl& impl = *m_impl;

  // Nothing more from other threads; what was posted and never ran is dropped.
  for (detail::CallbackNode* node : impl.threadsafe->close()) node->release();

  // The default executor's threads finish before the loop goes away.
  if (impl.executor) {
    impl.executor->shutdown(true);
    impl.executor.reset();
    // Posts its work made after close are refused (see ThreadsafeQueue::post).
  }

  // Ready queue and timers: callbacks are dropped, tasks are dealt with below.
  std::size_t count = 0;
  for (detail::ReadyNode* node = m_ready.take_all(count); node != nullptr;) {
    detail::ReadyNode* next = node->m_next_ready;
    node->m_next_ready = nullptr;
    node->discard_ready();
    node = next;
  }
  // g++ 12 with -fsanitize=address,undefined -O2 reports a false -Wstringop-overflow ("region of
  // size 0") on release()'s atomic once inlined into this std::function: t is a live
  // CallbackNode here (m_fire says so), never null.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
  impl.timers.clear([](detail::TimerNode* t) {
    if (t->m_fire == &EventLoop::fire_callback_timer) static_cast<detail::CallbackNode*>(t)->release();
  });
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

  // Tasks still pending are destroyed (Python: "Task was destroyed but it is pending!").
  std::vector<detail::PromiseBase*> pending;
  for (detail::PromiseBase* t = m_tasks; t != nullptr; t = t->m_next_task) {
    if (t->m_state == detail::PromiseBase::State::pending) {
      t->add_ref();
      pending.push_back(t);
    }
  }
  for (detail::PromiseBase* t : pending) {
    detail::g_destroyed_pending.fetch_add(1, std::memory_order_relaxed);
    call_exception_handler({"Task was destroyed but it is pending!", nullptr, t->name()});
    t->abandon();
  }
  // Every frame still alive (held by handles) forgets the loop.
  for (detail::PromiseBase* t = m_tasks; t != nullptr;) {
    detail::PromiseBase* next = t->m_next_task;
    t->m_prev_task = t->m_next_task = nullptr;
    t->m_loop = nullptr;
    t = next;
  }
  m_tasks = nullptr;
  for (detail::PromiseBase* t : pending) {
    t->release();  // the task's self-reference
    t->release();  // ours
  }

  // The connections, servers, datagram endpoints, children and signal handlers still open
  // (their owners outlive the loop, or nobody closed them) are closed now, as Python's
  // asyncio.run() leaves no transport open: each owner is closed for good from here on.
  impl.close_handles();

  // libuv: close our handles, let every close callback run, then the loop.
  // (NOWAIT, not DEFAULT: a handle somebody else left open must not block close() forever.)
  auto closed = [](uv_handle_t* h) { --static_cast<detail::LoopImpl*>(h->data)->closing; };
  impl.async.data = &impl;
  impl.closing = 2;
  impl.wake.close(&impl, closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&impl.async), closed);
  auto any_closing = [&impl] {
    bool any = false;
    uv_walk(
        &impl.loop, [](uv_handle_t* h, void* arg) { *static_cast<bool*>(arg) |= uv_is_closing(h) != 0; }, &any);
    return any;
  };
  // A close callback may close another handle (it then waits for the next iteration).
  while (impl.closing > 0 || any_closing()) uv_run(&impl.loop, UV_RUN_NOWAIT);
  // Requests still in flight complete before the loop goes: a name lookup on libuv's thread
  // pool whose task was destroyed above was cancelled, or is running and cannot be; either way
  // its callback (which frees it) must run here, or the worker would later signal a freed loop.
  // (libuv has no public count of requests; active_reqs is the one uv_loop_alive() reads, and
  // unlike uv_loop_alive() it ignores any handle still open, which must not block close.)
  while (impl.loop.active_reqs.count > 0) uv_run(&impl.loop, UV_RUN_ONCE);
  std::size_t live = 0;
  uv_walk(&impl.loop, [](uv_handle_t*, void* arg) { ++*static_cast<std::size_t*>(arg); }, &live);
  const int err = uv_loop_close(&impl.loop);
  detail::g_open_loops.fetch_sub(1, std::memory_order_relaxed);
  if (err != 0 || live != 0) {
    detail::g_unclean_closes.fetch_add(1, std::memory_order_relaxed);
    call_exception_handler({fmt::format("Event loop closed with {} live libuv handle(s): {}", live,
                                        err != 0 ? uv_strerror(err) : "ok"),
                            nullptr, {}});
  }
}

}  // namespace concur::asyncio
