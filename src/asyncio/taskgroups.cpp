// SPDX-License-Identifier: MIT
// TaskGroup: Python 3.13's asyncio.TaskGroup.
#include "concur/asyncio/taskgroups.hpp"

#include <fmt/core.h>

namespace concur::asyncio {

namespace {
bool is_cancelled_error(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
  }
  return false;
}
}  // namespace

TaskGroup::TaskGroup() : m_loop(&get_running_loop()), m_parent(m_loop->current_promise()) {
  if (m_parent == nullptr) throw RuntimeError("TaskGroup cannot determine the parent task");
}

TaskGroup::~TaskGroup() {
  if (m_count == 0) return;
  // join() was never awaited (the body threw past it): the tasks must not outlive the group.
  const std::size_t n = m_count;
  while (Child* child = m_first) {
    unlink(child);
    if (child->m_linked_to != nullptr) {
      child->m_linked_to->remove_done_link(child);
      try {
        child->m_task->cancel({});
      } catch (...) {
      }
      delete child;
    } else {
      child->m_group = nullptr;  // queued on the loop: it deletes itself when run or discarded
    }
  }
  if (m_loop->is_closed()) return;
  m_loop->call_exception_handler(
      {fmt::format("TaskGroup destroyed without join(): {} task(s) cancelled", n), nullptr, m_parent->name()});
}

void TaskGroup::check_can_create() const {
  if (m_exiting && m_count == 0) throw RuntimeError("TaskGroup is finished");
  if (m_aborting) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroup::track(detail::PromiseBase& task) {
  auto* child = new Child;
  child->m_group = this;
  child->m_task = &task;
  child->m_keep = TaskBase(&task);
  child->m_notify = [](detail::DoneLink* link, detail::PromiseBase&) noexcept {
    auto* c = static_cast<Child*>(link);
    c->m_group->m_loop->schedule(c);
  };
  child->m_prev = m_last;
  if (m_last != nullptr) {
    m_last->m_next = child;
  } else {
    m_first = child;
  }
  m_last = child;
  ++m_count;
  task.add_done_link(child);
}

void TaskGroup::unlink(Child* child) noexcept {
  if (child->m_prev != nullptr) {
    child->m_prev->m_next = child->m_next;
  } else {
    m_first = child->m_next;
  }
  if (child->m_next != nullptr) {
    child->m_next->m_prev = child->m_prev;
  } else {
    m_last = child->m_prev;
  }
  child->m_prev = child->m_next = nullptr;
  --m_count;
}

void TaskGroup::Child::run_ready() noexcept {
  if (m_group == nullptr) {
    delete this;
    return;
  }
  m_group->on_task_done(this);
}

void TaskGroup::Child::discard_ready() noexcept {
  if (m_group == nullptr) delete this;
}

void TaskGroup::abort() noexcept {
  m_aborting = true;
  for (Child* child = m_first; child != nullptr; child = child->m_next) {
    if (child->m_task->is_done()) continue;
    try {
      child->m_task->cancel({});
    } catch (...) {
    }
  }
}

void TaskGroup::on_task_done(Child* child) noexcept {
  TaskGroup& self = *this;
  detail::PromiseBase& task = *child->m_task;
  TaskBase keep = std::move(child->m_keep);  // the task stays alive while we look at it
  unlink(child);
  delete child;
  if (self.m_joiner != nullptr && self.m_count == 0) self.m_joiner->wake();
  if (task.m_cancelled || !task.m_exception) return;
  task.m_log_exception = false;  // the group retrieves it
  self.m_errors.push_back(task.m_exception);
  if (self.m_parent->is_done()) {
    self.m_loop->call_exception_handler(
        {"Task exception was not retrieved because its TaskGroup's parent is done", task.m_exception, task.name()});
    return;
  }
  if (!self.m_aborting && !self.m_parent_cancel_requested) {
    // Interrupt the body, whatever it awaits now; join() undoes this with uncancel().
    self.abort();
    self.m_parent_cancel_requested = true;
    try {
      self.m_parent->cancel({});
    } catch (...) {
    }
  }
}

bool TaskGroup::Completed::cancel() noexcept {
  if (m_group->m_joiner != this) return false;
  m_group->m_joiner = nullptr;
  m_cancelled = true;
  m_root->wake();
  return true;
}

void TaskGroup::Completed::wake() noexcept {
  m_group->m_joiner = nullptr;
  m_root->wake();
}

Task<void> TaskGroup::join(std::exception_ptr body_exception) {
  m_exiting = true;
  std::exception_ptr propagate_cancellation = is_cancelled_error(body_exception) ? body_exception : nullptr;
  if (body_exception && !m_aborting) abort();  // the body failed or was cancelled
  while (m_count != 0) {
    std::exception_ptr cancelled;
    try {
      co_await Completed(*this);
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled && !m_aborting) {
      // The parent is being cancelled from outside while it waits for the tasks.
      propagate_cancellation = cancelled;
      abort();
    }
  }
  if (m_parent_cancel_requested && m_parent->uncancel() == 0) {
    // Our own cancellation of the parent was the only one: it must not escape.
    propagate_cancellation = nullptr;
  }
  if (propagate_cancellation && m_errors.empty()) std::rethrow_exception(propagate_cancellation);
  if (body_exception && !is_cancelled_error(body_exception)) m_errors.push_back(body_exception);
  if (m_errors.empty()) co_return;
  // The errors win over a cancellation from outside the group (a shutdown, an enclosing
  // timeout), but that cancellation must not be lost: uncancel() and cancel() again, as
  // Python does, so that the caller who handles the group gets CancelledError at its next
  // suspension and cancelling() keeps its count.
  if (m_parent->m_num_cancels_requested > 0) {
    m_parent->uncancel();
    m_parent->cancel({});
  }
  throw ExceptionGroup("unhandled errors in a TaskGroup", std::exchange(m_errors, {}));
}

}  // namespace concur::asyncio
