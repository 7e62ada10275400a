// SPDX-License-Identifier: MIT
// Signal handlers on the loop: one uv_signal_t per loop and signal.
#include "concur/asyncio/signals.hpp"

#include <fmt/core.h>
#include <signal.h>

#include <memory>
#include <unordered_map>

#include "loop_impl.hpp"
#include "net_uv.hpp"

namespace concur::asyncio {

namespace {

void on_loop_close(detail::LoopHandle* h) noexcept;

struct SignalEntry {
  uv_signal_t handle{};
  EventLoop* loop = nullptr;  // only dereferenced while the handle is open
  std::function<void()> callback;
  detail::LoopHandle loop_handle{&on_loop_close, this};  // linked from add to close_entry()
};

/// The handlers of the loops of this thread (a loop belongs to one thread): loop -> signal -> entry.
thread_local std::unordered_map<EventLoop*, std::unordered_map<int, SignalEntry*>> t_handlers;

void on_signal(uv_signal_t* h, int) noexcept {
  auto* e = static_cast<SignalEntry*>(h->data);
  try {
    // Run as a callback of the loop, not inside libuv's dispatch (Python: call_soon).
    // By the time it runs the handler may have been removed (and `e` freed): look it up.
    e->loop->call_soon([loop = e->loop, sig = e->handle.signum] {
      auto by_loop = t_handlers.find(loop);
      if (by_loop == t_handlers.end()) return;
      auto it = by_loop->second.find(sig);
      if (it == by_loop->second.end()) return;
      std::function<void()> callback = it->second->callback;  // the handler may remove itself
      callback();
    });
  } catch (...) {
    e->loop->call_exception_handler({"Exception scheduling a signal handler", std::current_exception(), {}});
  }
}

/// Stops and closes the handler's handle (its loop is open); the close callback frees it.
void close_entry(SignalEntry* e) noexcept {
  detail::LoopImpl::detach(*e->loop, e->loop_handle);  // closing: nothing left for close() to do
  uv_signal_stop(&e->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&e->handle), [](uv_handle_t* h) { delete static_cast<SignalEntry*>(h->data); });
}

/// EventLoop::close() with the handler still installed: remove it (the process's previous
/// disposition of the signal comes back with the last handler, as with remove_signal_handler).
void on_loop_close(detail::LoopHandle* h) noexcept {
  auto* e = static_cast<SignalEntry*>(h->m_owner);
  if (auto by_loop = t_handlers.find(e->loop); by_loop != t_handlers.end()) {
    if (auto it = by_loop->second.find(e->handle.signum); it != by_loop->second.end() && it->second == e) {
      by_loop->second.erase(it);
    }
    if (by_loop->second.empty()) t_handlers.erase(by_loop);
  }
  close_entry(e);
}

}  // namespace

void add_signal_handler(EventLoop& loop, int sig, std::function<void()> callback) {
  loop.check_open();
  if (sig <= 0 || sig >= NSIG) throw ValueError(fmt::format("sig {} out of range(1, {})", sig, NSIG));
  if (sig == SIGKILL || sig == SIGSTOP) throw RuntimeError(fmt::format("sig {} cannot be caught", sig));
  if (!callback) throw ValueError("add_signal_handler() needs a callback");
  auto entry = std::make_unique<SignalEntry>();
  entry->loop = &loop;
  entry->callback = std::move(callback);
  if (const int err = uv_signal_init(detail::uv_loop_of(loop), &entry->handle); err != 0) {
    detail::throw_uv_error(err, "uv_signal_init");
  }
  entry->handle.data = entry.get();
  uv_unref(reinterpret_cast<uv_handle_t*>(&entry->handle));
  loop.impl().attach(entry->loop_handle);
  if (const int err = uv_signal_start(&entry->handle, &on_signal, sig); err != 0) {
    close_entry(entry.release());
    if (err == UV_EINVAL) throw RuntimeError(fmt::format("sig {} cannot be caught", sig));
    detail::throw_uv_error(err, "uv_signal_start");
  }
  SignalEntry*& slot = t_handlers[&loop][sig];
  if (slot != nullptr) close_entry(slot);
  slot = entry.release();
}

bool remove_signal_handler(EventLoop& loop, int sig) {
  auto by_loop = t_handlers.find(&loop);
  if (by_loop == t_handlers.end()) return false;
  auto it = by_loop->second.find(sig);
  if (it == by_loop->second.end()) return false;
  close_entry(it->second);
  by_loop->second.erase(it);
  if (by_loop->second.empty()) t_handlers.erase(by_loop);
  return true;
}

void EventLoop::add_signal_handler(int sig, std::function<void()> callback) {
  concur::asyncio::add_signal_handler(*this, sig, std::move(callback));
}

bool EventLoop::remove_signal_handler(int sig) { return concur::asyncio::remove_signal_handler(*this, sig); }

}  // namespace concur::asyncio
