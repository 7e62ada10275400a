// SPDX-License-Identifier: MIT
// The type-independent part of the asyncio queues (Python 3.13's asyncio.queues).
#include "concur/asyncio/queues.hpp"

namespace concur::asyncio::detail {

void QueueWaiter::run_ready() noexcept {
  // Woken by put/get/shutdown. Another task may have taken the item (or the room) since:
  // then wait again, at the back, as Python's `while self.empty(): await getter` does.
  const bool still_blocked = m_getter ? m_queue->empty() : m_queue->full();
  if (still_blocked && !m_queue->m_shutdown && !m_root->m_must_cancel) {
    m_woken = false;
    (m_getter ? m_queue->m_getters : m_queue->m_putters).push_back(this);
    m_root->m_waiter = this;
    return;
  }
  m_root->resume_now();
}

void QueueWaiter::on_resume_cancelled() {
  // Woken but cancelled before taking the item (or room): pass the wake-up on.
  if (m_woken) {
    if (m_getter && !m_queue->empty()) m_queue->wakeup_next(m_queue->m_getters);
    if (!m_getter && !m_queue->full()) m_queue->wakeup_next(m_queue->m_putters);
  }
  m_root->resume_point(m_cancelled);
}

void QueueBase::wakeup_next(WaitList& list) noexcept {
  WaitNode* first = list.front();
  if (first == nullptr) return;
  auto* waiter = static_cast<QueueWaiter*>(first);
  list.remove(waiter);
  waiter->m_woken = true;
  waiter->m_root->m_waiter = nullptr;  // a cancel() now sets must_cancel; run_ready() sees it
  waiter->m_root->m_loop->schedule(static_cast<ReadyNode*>(waiter));
}

void QueueBase::task_done() {
  if (m_unfinished == 0) throw ValueError("task_done() called too many times");
  if (--m_unfinished == 0) m_finished.set();
}

void QueueBase::shutdown(bool immediate) {
  m_shutdown = true;
  if (immediate) {
    while (!empty()) {
      drop_front();
      if (m_unfinished > 0) --m_unfinished;
    }
    if (m_unfinished == 0) m_finished.set();
  }
  while (!m_getters.empty()) wakeup_next(m_getters);
  while (!m_putters.empty()) wakeup_next(m_putters);
}

}  // namespace concur::asyncio::detail
