// SPDX-License-Identifier: MIT
// Runner and the shutdown of a loop.
#include "concur/asyncio/runners.hpp"

#include "concur/asyncio/tasks.hpp"

namespace concur::asyncio {

Runner::Runner(RunnerOptions options) : m_options(std::move(options)) {}

Runner::~Runner() {
  try {
    close();
  } catch (...) {
    EventLoop::default_exception_handler({"Exception while closing an asyncio.Runner", std::current_exception(), {}});
  }
}

EventLoop& Runner::get_loop() {
  if (m_closed) throw RuntimeError("Runner is closed");
  if (!m_loop) {
    m_loop = std::make_unique<EventLoop>();
    if (m_options.debug.has_value()) m_loop->set_debug(*m_options.debug);
    if (m_options.exception_handler) m_loop->set_exception_handler(m_options.exception_handler);
  }
  return *m_loop;
}

void Runner::prepare_run() {
  if (running_loop_or_null() != nullptr) throw RuntimeError("Runner.run() cannot be called from a running event loop");
  get_loop();
}

void Runner::close() {
  if (m_closed) return;
  m_closed = true;
  if (!m_loop) return;
  std::unique_ptr<EventLoop> loop = std::move(m_loop);
  struct CloseLoop {
    EventLoop& loop;
    ~CloseLoop() { loop.close(); }
  } closer{*loop};
  loop->run_until_complete(detail::cancel_all_tasks());
  loop->shutdown_default_executor();
}

namespace detail {

Task<void> cancel_all_tasks() {
  EventLoop& loop = get_running_loop();
  const std::optional<TaskBase> self = current_task();
  std::vector<TaskBase> tasks;
  for (TaskBase& t : all_tasks()) {
    if (self && t == *self) continue;
    tasks.push_back(std::move(t));
  }
  if (tasks.empty()) co_return;
  for (TaskBase& t : tasks) t.cancel();
  std::vector<PromiseBase*> children;
  children.reserve(tasks.size());
  for (TaskBase& t : tasks) children.push_back(t.promise_base());
  {
    GatherWaiter waiter(std::move(children), false);
    co_await waiter;
  }
  for (TaskBase& t : tasks) {
    if (t.cancelled()) continue;
    if (std::exception_ptr e = t.exception()) {
      loop.call_exception_handler({"unhandled exception during asyncio.run() shutdown", e, t.get_name()});
    }
  }
}

}  // namespace detail

}  // namespace concur::asyncio
