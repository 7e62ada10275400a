// SPDX-License-Identifier: MIT
// The non-template part of asyncio tasks: steps, cancellation, completion, reports.
#include "concur/asyncio/task.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstring>

namespace concur::asyncio {

namespace detail {

namespace {
/// Python's "RuntimeWarning: coroutine '...' was never awaited", on stderr.
void report_never_awaited(const char* function) noexcept {
  const char* name = function == nullptr ? "coroutine" : function;
  if (std::strcmp(name, "operator()") == 0) name = "<lambda>";
  std::fprintf(stderr, "RuntimeWarning: coroutine '%s' was never awaited\n", name);
}
}  // namespace

PromiseBase::~PromiseBase() {
  if (m_state == State::created && !m_closed_unstarted) report_never_awaited(m_function);
  if (m_log_exception) {
    ExceptionContext context{"Task exception was never retrieved", m_exception, name()};
    if (m_loop != nullptr) {
      m_loop->call_exception_handler(context);
    } else {
      EventLoop::default_exception_handler(context);
    }
  }
  if (m_loop != nullptr) m_loop->unlink_task(this);
  g_live_frames.fetch_sub(1, std::memory_order_relaxed);
}

void PromiseBase::unhandled_exception() noexcept {
  m_exception = std::current_exception();
  try {
    throw;
  } catch (const CancelledError&) {
    m_cancelled = m_state == State::pending;  // only a task is "cancelled"; a coroutine just propagates it
  } catch (...) {
  }
}

void PromiseBase::run_ready() noexcept {
  assert(m_state == State::pending && m_scheduled);
  m_scheduled = false;
  EventLoop* loop = m_loop;
  loop->set_current_promise(this);
  m_resume.resume();  // the frame may be gone after this
  loop->set_current_promise(nullptr);
}

void PromiseBase::throw_cancelled() const { throw CancelledError(cancel_message()); }

bool PromiseBase::cancel(std::string message) {
  if (is_done()) return false;
  if (m_state != State::pending) {
    throw InvalidStateError("cancel(): this coroutine is not a task (pass it to create_task() first)");
  }
  m_log_exception = false;
  // gather()'s task: Python's _GatheringFuture.cancel(), which cancels the children, refuses
  // once they are all done (bpo-26923) and keeps no count of its own.
  if (m_extra && m_extra->cancel_override) return m_extra->cancel_override->cancel_instead(message);
  ++m_num_cancels_requested;
  if (!message.empty() || (m_extra && !m_extra->cancel_message.empty())) {
    if (!m_extra) m_extra = std::make_unique<TaskExtra>();
    m_extra->cancel_message = std::move(message);
  }
  // Leave m_waiter set when it accepted: it may be a task that ignores the cancellation, which
  // a later cancel() must cancel again (as Python does).
  if (m_waiter != nullptr && m_waiter->cancel()) return true;
  m_must_cancel = true;
  return true;
}

void PromiseBase::set_cancel_override(std::unique_ptr<CancelOverride> o) {
  if (!m_extra) m_extra = std::make_unique<TaskExtra>();
  m_extra->cancel_override = std::move(o);
}

std::string PromiseBase::name() const {
  if (m_extra && !m_extra->name.empty()) return m_extra->name;
  if (m_number != 0) return fmt::format("Task-{}", m_number);
  return "coroutine";
}

void PromiseBase::set_name(std::string name) {
  if (!m_extra) m_extra = std::make_unique<TaskExtra>();
  m_extra->name = std::move(name);
}

const std::string& PromiseBase::cancel_message() const noexcept {
  static const std::string empty;
  return m_extra ? m_extra->cancel_message : empty;
}

void PromiseBase::add_done_callback(std::function<void(TaskBase)> fn) {
  if (m_state != State::pending && m_state != State::done) {
    throw InvalidStateError("add_done_callback(): this coroutine is not a task (pass it to create_task() first)");
  }
  if (m_state == State::done) {
    if (m_loop == nullptr) throw RuntimeError("Event loop is closed");
    m_loop->call_soon([fn = std::move(fn), task = TaskBase(this)] { fn(task); });
    return;
  }
  if (!m_extra) m_extra = std::make_unique<TaskExtra>();
  m_extra->callbacks.push_back(std::move(fn));
}

void PromiseBase::remove_done_link(DoneLink* link) noexcept {
  assert(link->m_linked_to == this);
  for (DoneLink** p = &m_links; *p != nullptr; p = &(*p)->m_next_link) {
    if (*p == link) {
      *p = link->m_next_link;
      break;
    }
  }
  link->m_next_link = nullptr;
  link->m_linked_to = nullptr;
}

void PromiseBase::start_task(EventLoop& loop, std::coroutine_handle<> self, std::string name) {
  assert(m_state == State::created);
  if (!name.empty()) set_name(std::move(name));
  m_state = State::pending;
  m_root = this;
  m_loop = &loop;
  m_resume = self;
  m_number = loop.next_task_number();
  loop.link_task(this);
  add_ref();  // the task keeps itself alive until it is done
  m_scheduled = true;
  loop.schedule(this);
}

namespace {
DoneLink* reversed(DoneLink* head) noexcept {
  DoneLink* out = nullptr;
  while (head != nullptr) {
    DoneLink* next = head->m_next_link;
    head->m_next_link = out;
    out = head;
    head = next;
  }
  return out;
}
}  // namespace

void PromiseBase::complete() noexcept {
  assert(m_state == State::pending);
  if (!m_exception && m_must_cancel) {
    // cancel() was called during the last step, just before the coroutine returned.
    try {
      throw_cancelled();
    } catch (...) {
      m_exception = std::current_exception();
    }
    m_cancelled = true;
  }
  m_must_cancel = false;
  m_state = State::done;
  m_waiter = nullptr;
  if (m_exception && !m_cancelled && !m_exception_observed) m_log_exception = true;

  DoneLink* link = reversed(std::exchange(m_links, nullptr));  // registration order
  while (link != nullptr) {
    DoneLink* next = link->m_next_link;
    link->m_next_link = nullptr;
    link->m_linked_to = nullptr;
    link->m_notify(link, *this);
    link = next;
  }
  if (m_extra && !m_extra->callbacks.empty()) {
    auto callbacks = std::move(m_extra->callbacks);
    for (auto& fn : callbacks) {
      try {
        m_loop->call_soon([fn = std::move(fn), task = TaskBase(this)] { fn(task); });
      } catch (...) {
        m_loop->call_exception_handler({"Exception scheduling a done callback", std::current_exception(), name()});
      }
    }
  }
  release();  // the self-reference: the frame may be destroyed here
}

void PromiseBase::abandon() noexcept {
  assert(m_state == State::pending);
  try {
    throw CancelledError("Task was destroyed but it is pending!");
  } catch (...) {
    m_exception = std::current_exception();
  }
  m_state = State::done;
  m_cancelled = true;
  m_must_cancel = false;
  m_scheduled = false;
  m_waiter = nullptr;
  for (DoneLink* link = std::exchange(m_links, nullptr); link != nullptr;) {
    DoneLink* next = link->m_next_link;
    link->m_next_link = nullptr;
    link->m_linked_to = nullptr;
    link = next;
  }
}

}  // namespace detail

std::exception_ptr TaskBase::exception() const {
  if (!done()) throw InvalidStateError("Exception is not set.");
  if (m_promise->m_cancelled) std::rethrow_exception(m_promise->m_exception);
  m_promise->m_log_exception = false;
  return m_promise->m_exception;
}

EventLoop& TaskBase::get_loop() const {
  if (m_promise->m_loop == nullptr) throw InvalidStateError("get_loop(): not a task of a live loop");
  return *m_promise->m_loop;
}

std::optional<TaskBase> current_task() {
  EventLoop& loop = get_running_loop();
  if (detail::PromiseBase* p = loop.current_promise()) return TaskBase(p);
  return std::nullopt;
}

std::vector<TaskBase> all_tasks() {
  EventLoop& loop = get_running_loop();
  std::vector<TaskBase> tasks;
  for (detail::PromiseBase* p = loop.first_task(); p != nullptr; p = p->m_next_task) {
    if (p->m_state == detail::PromiseBase::State::pending) tasks.emplace_back(p);
  }
  return tasks;
}

}  // namespace concur::asyncio
