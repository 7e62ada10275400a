// SPDX-License-Identifier: MIT
// The non-template parts of gather, wait, as_completed and shield.
#include "concur/asyncio/tasks.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace concur::asyncio::detail {

std::int64_t deadline_after_ns(Timeout delay) noexcept {
  const double ns = delay.count() * 1e9;
  const std::int64_t now = EventLoop::now_ns();
  constexpr std::int64_t never = 9'000'000'000'000'000'000;
  if (!(ns < static_cast<double>(never - now))) return never;  // also NaN
  if (ns <= 0) return now;
  return now + static_cast<std::int64_t>(std::ceil(ns));
}

// ---- GatherWaiter ----------------------------------------------------------------------------

GatherWaiter::GatherWaiter(std::vector<PromiseBase*> children, bool fail_fast)
    : m_children(std::move(children)), m_links(m_children.size()), m_fail_fast(fail_fast) {
  for (std::size_t i = 0; i < m_children.size(); ++i) {
    PromiseBase* child = m_children[i];
    if (child->is_done()) {
      if (m_fail_fast && child->m_exception && m_failed == nullptr) m_failed = child;
      continue;
    }
    ++m_pending;
    Child& link = m_links[i];
    link.m_owner = this;
    link.m_notify = &on_child_done;
    child->add_done_link(&link);
  }
}

GatherWaiter::~GatherWaiter() {
  for (Child& link : m_links) {
    if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
  }
  // Python's gather retrieves every child's exception, even after it has propagated the first
  // one: none of them is reported as "never retrieved". (Nothing to do when every child
  // finished and the gathering coroutine took the outcomes, or when the gather was never
  // awaited: then the children report their own exceptions, as Python reports its gathering
  // future's.)
  if (m_pending == 0 && m_failed == nullptr && !m_cancel_requested) return;
  if (!m_woken && m_root == nullptr) return;
  for (PromiseBase* child : m_children) {
    if (child->is_done()) {
      child->m_log_exception = false;
    } else {
      child->m_exception_observed = true;
    }
  }
}

void GatherWaiter::on_child_done(DoneLink* link, PromiseBase& child) noexcept {
  GatherWaiter& self = *static_cast<Child*>(link)->m_owner;
  --self.m_pending;
  if (self.m_woken) {
    child.m_log_exception = false;  // the gather's result is decided: retrieved, as Python does
    return;
  }
  if (self.m_fail_fast && child.m_exception && self.m_failed == nullptr) self.m_failed = &child;
  if (self.m_failed == nullptr && self.m_pending != 0) return;
  if (self.m_root == nullptr) return;  // not awaited yet: await_ready() will see it
  self.m_woken = true;
  self.m_root->wake();
}

void GatherWaiter::await_resume() {
  m_woken = true;
  if (m_root != nullptr) m_root->resume_point(false);  // the awaiting task's own cancellation
  if (m_cancel_requested) throw CancelledError(m_cancel_message);
  if (m_failed != nullptr) {
    m_failed->m_log_exception = false;
    std::rethrow_exception(m_failed->m_exception);
  }
}

bool GatherWaiter::cancel() noexcept { return cancel_instead(m_root->cancel_message()); }

bool GatherWaiter::cancel_instead(const std::string& message) noexcept {
  // Python's gathering future is done as soon as its outcome is known (the first failure with
  // fail_fast): cancel() returns false from then on and the remaining children run on.
  if (m_woken || m_failed != nullptr) return false;
  bool any = false;
  for (PromiseBase* child : m_children) {
    try {
      if (!child->is_done() && child->cancel(message)) any = true;
    } catch (...) {
    }
  }
  if (any && !m_cancel_requested) {
    m_cancel_requested = true;
    try {
      m_cancel_message = message;
    } catch (...) {  // the message is lost, not the cancellation
    }
  }
  return any;
}

}  // namespace concur::asyncio::detail

namespace concur::asyncio::detail {

// ---- WaitWaiter ------------------------------------------------------------------------------

WaitWaiter::WaitWaiter(std::vector<PromiseBase*> tasks, std::optional<Timeout> timeout, ReturnWhen when)
    : m_tasks(std::move(tasks)), m_links(m_tasks.size()), m_timeout(timeout), m_when(when) {}

WaitWaiter::~WaitWaiter() {
  for (Link& link : m_links) {
    if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
  }
  if (armed()) m_root->m_loop->remove_timer(this);
}

bool WaitWaiter::satisfied() const noexcept {
  std::size_t done = 0;
  bool failed = false;
  for (const PromiseBase* t : m_tasks) {
    if (!t->is_done()) continue;
    ++done;
    if (!t->m_cancelled && t->m_exception) failed = true;
  }
  switch (m_when) {
    case ReturnWhen::FIRST_COMPLETED: return done > 0;
    case ReturnWhen::FIRST_EXCEPTION: return failed || done == m_tasks.size();
    case ReturnWhen::ALL_COMPLETED: break;
  }
  return done == m_tasks.size();
}

void WaitWaiter::arm() {
  if (m_timeout.has_value()) {
    m_fire = &on_timeout;
    m_root->m_loop->add_timer(this, deadline_after_ns(*m_timeout));
  }
  for (std::size_t i = 0; i < m_tasks.size(); ++i) {
    if (m_tasks[i]->is_done()) continue;
    ++m_pending;
    m_links[i].m_owner = this;
    m_links[i].m_notify = &on_done;
    m_tasks[i]->add_done_link(&m_links[i]);
  }
}

void WaitWaiter::finish() noexcept {
  m_woken = true;
  if (armed()) m_root->m_loop->remove_timer(this);
  m_root->wake();
}

void WaitWaiter::on_done(DoneLink* link, PromiseBase& task) noexcept {
  WaitWaiter& self = *static_cast<Link*>(link)->m_owner;
  --self.m_pending;
  if (self.m_woken) return;
  const bool failed = !task.m_cancelled && task.m_exception;
  if (self.m_pending == 0 || self.m_when == ReturnWhen::FIRST_COMPLETED ||
      (self.m_when == ReturnWhen::FIRST_EXCEPTION && failed)) {
    self.finish();
  }
}

void WaitWaiter::on_timeout(TimerNode* timer) noexcept {
  auto& self = *static_cast<WaitWaiter*>(timer);
  if (!self.m_woken) self.finish();
}

void WaitWaiter::await_resume() {
  if (m_root != nullptr) m_root->resume_point(m_cancelled);
}

bool WaitWaiter::cancel() noexcept {
  if (m_woken) return false;
  m_cancelled = true;
  finish();
  return true;
}

// ---- AsCompletedState ------------------------------------------------------------------------

AsCompletedState::AsCompletedState(std::vector<PromiseBase*> tasks, std::optional<Timeout> timeout)
    : m_tasks(std::move(tasks)), m_links(m_tasks.size()), m_loop(&get_running_loop()) {
  m_done.reserve(m_tasks.size());
  for (std::size_t i = 0; i < m_tasks.size(); ++i) {
    if (m_tasks[i]->is_done()) {
      m_done.push_back(m_tasks[i]);
      continue;
    }
    m_links[i].m_owner = this;
    m_links[i].m_notify = &on_done;
    m_tasks[i]->add_done_link(&m_links[i]);
  }
  if (timeout.has_value() && m_done.size() < m_tasks.size()) {
    m_fire = &on_timeout;
    m_loop->add_timer(this, deadline_after_ns(*timeout));
  }
}

AsCompletedState::~AsCompletedState() {
  assert(m_waiters.empty());
  for (Link& link : m_links) {
    if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
  }
  if (armed()) m_loop->remove_timer(this);
}

void AsCompletedState::deliver() noexcept {
  while (!m_waiters.empty() && (m_done_head < m_done.size() || m_timed_out)) {
    Next* next = m_waiters.front();
    m_waiters.erase(m_waiters.begin());
    next->m_result = m_done_head < m_done.size() ? m_done[m_done_head++] : nullptr;
    next->m_ready = true;
    next->m_root->wake();
  }
}

void AsCompletedState::on_done(DoneLink* link, PromiseBase& task) noexcept {
  AsCompletedState& self = *static_cast<Link*>(link)->m_owner;
  self.m_done.push_back(&task);  // reserved for every task: no allocation
  self.deliver();
}

void AsCompletedState::on_timeout(TimerNode* timer) noexcept {
  auto& self = *static_cast<AsCompletedState*>(timer);
  self.m_timed_out = true;
  for (Link& link : self.m_links) {
    if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
  }
  self.deliver();
}

AsCompletedState::Next::~Next() {
  if (m_root != nullptr && !m_ready && !m_cancelled) {
    auto& w = m_state->m_waiters;
    w.erase(std::remove(w.begin(), w.end(), this), w.end());
  }
}

bool AsCompletedState::Next::await_ready() noexcept {
  if (m_state->m_done_head < m_state->m_done.size()) {
    m_result = m_state->m_done[m_state->m_done_head++];
    m_ready = true;
  } else if (m_state->m_timed_out) {
    m_ready = true;
  }
  return m_ready;
}

PromiseBase* AsCompletedState::Next::await_resume() {
  if (m_root != nullptr && (m_cancelled || m_root->m_must_cancel) && m_result != nullptr) {
    // Cancelled after a finished task was handed to this await, before the awaiting task ran:
    // the task goes back to the front of the finished ones, for the next await (as Python's
    // as_completed, whose finished tasks stay in its queue when a get() is cancelled).
    m_state->m_done[--m_state->m_done_head] = m_result;
    m_result = nullptr;
    m_state->deliver();
  }
  if (m_root != nullptr) m_root->resume_point(m_cancelled);
  if (m_result == nullptr) throw TimeoutError();
  return m_result;
}

bool AsCompletedState::Next::cancel() noexcept {
  if (m_ready || m_cancelled) return false;
  auto& w = m_state->m_waiters;
  w.erase(std::remove(w.begin(), w.end(), this), w.end());
  m_cancelled = true;
  m_root->wake();
  return true;
}

}  // namespace concur::asyncio::detail
