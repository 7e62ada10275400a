// SPDX-License-Identifier: MIT
// The type-independent half of concur::futures::Future: life cycle, waiting and callbacks.
#include "concur/futures/future.hpp"

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <vector>
#include <string>
#include <thread>

#include "concur/futures/wait.hpp"
#include "futures/spin.hpp"

namespace concur::futures::detail {

struct StateExtras {
  std::vector<std::function<void(StateBase&)>> callbacks;  // run once done, in order
  std::vector<Waiter*> waiters;                            // told once done
};

namespace {

/// The parking lot: sleeping on a future, and its extras, are guarded by one of a fixed set of
/// mutex + condition-variable pairs chosen by the state's address. A per-state pair would more
/// than double the size of every task's allocation for the rare future that is slept on; a
/// shared pair costs at most a spurious wake-up of a waiter of another future (waiters
/// re-check their own future's state).
struct Bucket {
  std::mutex mutex;
  std::condition_variable cv;
};
constexpr std::size_t bucket_count = 64;

Bucket& bucket_of(const StateBase* state) noexcept {
  // Never destroyed: daemon threads may still use it while the program exits.
  static Bucket* const buckets = new Bucket[bucket_count];
  const auto address = reinterpret_cast<std::uintptr_t>(state);
  return buckets[(address >> 6 ^ address >> 12) % bucket_count];
}

void report_callback_error(const std::exception_ptr& e) {
  std::fprintf(stderr, "exception calling callback for future: %s: %s\n", exception_type_name(e).c_str(),
               exception_message(e).c_str());
}

}  // namespace

StateBase::~StateBase() {
  // Nothing can still wait on or be registered with a state nobody holds a reference to.
  assert(m_extras == nullptr || m_extras->waiters.empty());
  delete m_extras;
}

bool StateBase::request_attention() noexcept {
  // relaxed loads/CAS failure: the caller holds the bucket lock, and a done status is re-read with
  // acquire by whoever acts on it; the CAS itself only needs to not lose a concurrent change.
  std::uint32_t s = m_state.load(std::memory_order_relaxed);
  for (;;) {
    if (is_done(static_cast<Status>(s & status_mask))) return false;
    if ((s & attention_bit) != 0) return true;
    if (m_state.compare_exchange_weak(s, s | attention_bit, std::memory_order_relaxed)) return true;
  }
}

bool StateBase::begin_completion() noexcept {
  // relaxed: a first guess for the CAS loop, which re-validates it.
  std::uint32_t s = m_state.load(std::memory_order_relaxed);
  for (;;) {
    const auto status = static_cast<Status>(s & status_mask);
    if (status != pending && status != running) return false;
    // relaxed: claiming only needs exclusivity (the CAS); the outcome is published by the
    // release exchange in end_completion().
    if (m_state.compare_exchange_weak(s, (s & attention_bit) | completing, std::memory_order_relaxed))
      return true;
  }
}

void StateBase::end_completion() noexcept {
  // acq_rel: release publishes the stored value/exception to readers that acquire-load
  // `finished`; acquire orders the attention check after waiters' registration (they set the
  // bit under the bucket lock, which notify_done then takes).
  const std::uint32_t old = m_state.exchange(finished, std::memory_order_acq_rel);
  assert((old & status_mask) == completing);
  notify_done(old);
}

void StateBase::set_exception(std::exception_ptr e) {
  if (!e) throw ValueError("set_exception() needs an exception");
  if (!begin_completion()) throw InvalidStateError("future is already done");
  m_exception = std::move(e);
  end_completion();
}

bool StateBase::cancel() {
  // relaxed: a first guess for the CAS loop, which re-validates it.
  std::uint32_t s = m_state.load(std::memory_order_relaxed);
  for (;;) {
    const auto status = static_cast<Status>(s & status_mask);
    if (status == cancelled || status == cancelled_and_notified) return true;
    if (status != pending) return false;  // running, being completed or finished
    // acq_rel: release so that waiters which acquire-load `cancelled` see a consistent
    // state; acquire to pair with the attention bit's setters as in end_completion().
    if (m_state.compare_exchange_weak(s, cancelled, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      notify_done(s);
      return true;
    }
  }
}

bool StateBase::set_running_or_notify_cancel() {
  // relaxed: a first guess for the CAS loop, which re-validates it.
  std::uint32_t s = m_state.load(std::memory_order_relaxed);
  for (;;) {
    const auto status = static_cast<Status>(s & status_mask);
    std::uint32_t next;
    if (status == pending)
      next = (s & attention_bit) | running;
    else if (status == cancelled)
      next = cancelled_and_notified;  // waiters were told at cancel()
    else
      throw RuntimeError("Future in unexpected state");
    // relaxed: neither transition publishes data (running is not done; the cancellation was
    // published by cancel()).
    if (m_state.compare_exchange_weak(s, next, std::memory_order_relaxed)) return status == pending;
  }
}

void StateBase::notify_done(std::uint32_t old) noexcept {
  if ((old & attention_bit) == 0) return;  // nobody waits, nothing registered: no lock, no syscall
  std::vector<std::function<void(StateBase&)>> callbacks;
  {
    Bucket& bucket = bucket_of(this);
    std::lock_guard lock(bucket.mutex);
    bucket.cv.notify_all();
    if (m_extras != nullptr) {
      // Waiters are told under the lock: remove_waiter() takes it too, so a Waiter cannot be
      // destroyed while it is being told.
      for (Waiter* w : m_extras->waiters) w->on_done(*this);
      m_extras->waiters.clear();
      callbacks.swap(m_extras->callbacks);
    }
  }
  for (auto& fn : callbacks) {
    try {
      fn(*this);
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  }
}

bool StateBase::wait(const std::optional<Timeout>& timeout) const {
  if (done()) return true;
  // A short spin first: a task about to finish is cheaper to watch than to sleep on.
  if (spin_until([&] { return done(); })) return true;
  if (timeout && *timeout <= Timeout::zero()) return done();
  return wait_slow(timeout);
}

bool StateBase::wait_slow(const std::optional<Timeout>& timeout) const {
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point{};
  Bucket& bucket = bucket_of(this);
  std::unique_lock lock(bucket.mutex);
  // The attention bit makes the completer take the bucket's mutex before notifying, so the
  // check below and the sleep are atomic with respect to it (no lost wake-up).
  if (!const_cast<StateBase*>(this)->request_attention()) return true;
  if (!timeout) {
    bucket.cv.wait(lock, [&] { return done(); });
    return true;
  }
  return bucket.cv.wait_until(lock, deadline, [&] { return done(); });
}

void StateBase::wait_or_throw(const std::optional<Timeout>& timeout) const {
  if (!wait(timeout)) throw TimeoutError();
  const Status s = status();
  if (s == cancelled || s == cancelled_and_notified) throw CancelledError();
}

void StateBase::wait_and_rethrow(const std::optional<Timeout>& timeout) const {
  wait_or_throw(timeout);
  if (m_exception) std::rethrow_exception(m_exception);
}

void StateBase::add_done_callback(std::function<void(StateBase&)> fn) {
  {
    std::lock_guard lock(bucket_of(this).mutex);
    if (request_attention()) {
      if (m_extras == nullptr) m_extras = new StateExtras;
      m_extras->callbacks.push_back(std::move(fn));
      return;
    }
  }
  // Already done: run it now, in this thread.
  try {
    fn(*this);
  } catch (...) {
    report_callback_error(std::current_exception());
  }
}

bool StateBase::add_waiter(Waiter* w) {
  std::lock_guard lock(bucket_of(this).mutex);
  if (!request_attention()) return false;
  if (m_extras == nullptr) m_extras = new StateExtras;
  m_extras->waiters.push_back(w);
  return true;
}

void StateBase::remove_waiter(Waiter* w) noexcept {
  std::lock_guard lock(bucket_of(this).mutex);
  if (m_extras != nullptr) std::erase(m_extras->waiters, w);
}

}  // namespace concur::futures::detail
