// SPDX-License-Identifier: MIT
// concur/futures/future.hpp — Future<T>, Python's concurrent.futures.Future.
//
// A Future is the result of work that may not have finished yet: it is pending, then running,
// then either finished (with a value or an exception) or cancelled. Any thread may wait for it
// (`result(timeout)`, `exception(timeout)`), ask about it (`done`, `running`, `cancelled`),
// cancel it while it is still pending, and attach callbacks that run when it is done.
//
//   result(timeout) -> const T&     waits; rethrows the task's exception with its own type;
//                                   CancelledError if cancelled; TimeoutError if not done in time
//   exception(timeout)              the stored exception_ptr (null on success); same errors
//   cancel() -> bool                true if it is (now) cancelled; false once running or done
//   add_done_callback(fn)           fn(future) when done — at once if it already is; an
//                                   exception from fn is printed to stderr, never propagated
//   set_running_or_notify_cancel, set_result, set_exception
//                                   for executors and other producers, as in Python
//
// Like Python's, a Future is a *handle*: copies share one state (reference counted), so it can
// be stored, passed between threads and waited on from several of them. Handles compare, order
// and hash by that state, so a future can key a std::map or std::unordered_map. T may be void or a
// move-only type (result() then hands out a const reference to the stored value).
//
// Differences from Python:
//  * Cancelling a future wakes wait()/as_completed() at once (Python notices a cancelled
//    future only when its executor calls set_running_or_notify_cancel()).
//  * A negative or zero timeout means "do not wait" (as Python's, which treats it alike).
//  * result() of a move-only T cannot be moved out (it is shared by every copy of the handle).
//
// Memory ordering: everything the producer wrote before set_result()/set_exception() (and the
// stored value itself) is visible to any thread that sees done() == true or gets result().
//
// Cost: a finished future's result() is one atomic load. Finishing a future that nobody waits
// on and that has no callbacks is one atomic exchange — no lock and no system call; waiters,
// callbacks and wait()/as_completed() set an "attention" bit that makes the finisher take the
// state's lock and wake them.
//
// Thread safety: every member may be called from any thread. A moved-from Future is empty:
// only assignment and destruction are allowed on it.
#pragma once

#include <atomic>
#include <cassert>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::futures {

template <class T>
class Future;

namespace detail {

class Waiter;
struct StateExtras;

/// The type-independent part of a future's shared state: its life cycle, the exception, the
/// waiting machinery and the callbacks. Reference counted by hand (one allocation per task:
/// executors derive their task object from the state, see thread.hpp). Kept small: threads
/// that sleep on a future use a mutex and condition variable of a shared "parking lot" chosen
/// by the state's address (future.cpp), and callbacks and waiters live in StateExtras,
/// allocated only for futures that have some.
class CONCUR_API StateBase {
 public:
  /// Python's future states, plus `completing`: a set_result()/set_exception() has claimed
  /// the future and is storing its outcome (it is not done yet; nothing else can claim it).
  enum Status : std::uint32_t {
    pending = 0,
    running = 1,
    cancelled = 2,
    cancelled_and_notified = 3,
    completing = 4,
    finished = 5,
  };

  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  void add_ref() noexcept {
    // relaxed: a new reference is made from an existing one, which keeps the state alive.
    m_refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept {
    // acq_rel: the last owner must see every other owner's writes before it deletes.
    if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// The current status (acquire: a `finished` status makes the stored outcome visible).
  [[nodiscard]] Status status() const noexcept {
    return static_cast<Status>(m_state.load(std::memory_order_acquire) & status_mask);
  }
  [[nodiscard]] static bool is_done(Status s) noexcept {
    return s == cancelled || s == cancelled_and_notified || s == finished;
  }
  [[nodiscard]] bool done() const noexcept { return is_done(status()); }

  /// Python's Future.cancel(): pending -> cancelled (waking waiters, running callbacks).
  bool cancel();
  /// Python's Future.set_running_or_notify_cancel(). RuntimeError unless pending or cancelled.
  bool set_running_or_notify_cancel();
  /// Stores `e` and finishes. InvalidStateError if already done (or being completed),
  /// ValueError if `e` is null.
  void set_exception(std::exception_ptr e);

  /// Waits until done; false if `timeout` passed first (nullopt: forever).
  bool wait(const std::optional<Timeout>& timeout) const;
  /// Waits, then throws CancelledError if cancelled or TimeoutError if not done in time.
  void wait_or_throw(const std::optional<Timeout>& timeout) const;
  /// wait_or_throw, then rethrows the stored exception if there is one.
  void wait_and_rethrow(const std::optional<Timeout>& timeout) const;
  /// The stored exception; only meaningful once finished.
  [[nodiscard]] const std::exception_ptr& stored_exception() const noexcept { return m_exception; }

  /// Runs `fn(*this)` once done (at once, in this thread, if already done). Exceptions from
  /// fn are reported on stderr.
  void add_done_callback(std::function<void(StateBase&)> fn);

  /// Registers `w` to be told (Waiter::on_done) when this future is done. Returns false,
  /// without registering, if it is done already.
  bool add_waiter(Waiter* w);
  /// Unregisters `w` (harmless if it was already told and dropped).
  void remove_waiter(Waiter* w) noexcept;

  // ---- for executors --------------------------------------------------------------------
  /// Runs the task this state carries (executors' states override it); must end with the
  /// future done. The default, for plain futures, does nothing.
  virtual void run_task() noexcept {}
  /// Destroys the task this state carries without running it (cancel_futures, broken pool).
  virtual void drop_task() noexcept {}
  /// Link of the intrusive executor queue; owned by whichever queue holds the state.
  StateBase* m_next = nullptr;

 protected:
  explicit StateBase(std::uint32_t initial_refs) noexcept : m_refs(initial_refs) {}
  virtual ~StateBase();

  /// Claims the right to complete: pending/running -> completing. False if the future is
  /// already done or being completed.
  bool begin_completion() noexcept;
  /// completing -> finished (publishing what was stored before), then wakes waiters and
  /// runs callbacks.
  void end_completion() noexcept;
  /// For begin_completion()/end_completion() users: the outcome is an exception.
  void store_exception(std::exception_ptr e) noexcept { m_exception = std::move(e); }

 private:
  static constexpr std::uint32_t status_mask = 7;
  /// Someone sleeps on the parking lot, a Waiter is registered or a callback is attached:
  /// whoever makes the future done must take the parking-lot lock and tell them.
  static constexpr std::uint32_t attention_bit = 8;

  /// Sets attention_bit while the future is not done (caller holds the parking-lot lock).
  /// False if done.
  bool request_attention() noexcept;
  /// After a transition to done from a word `old`: wakes and runs what attention_bit stands for.
  void notify_done(std::uint32_t old) noexcept;
  bool wait_slow(const std::optional<Timeout>& timeout) const;

  std::atomic<std::uint32_t> m_refs;
  /// Status | attention_bit. Transitions: pending -> running | cancelled | completing;
  /// running -> completing; completing -> finished; cancelled -> cancelled_and_notified.
  /// attention_bit is only ever set under the state's parking-lot lock while not done, and is
  /// dropped on becoming done.
  std::atomic<std::uint32_t> m_state{pending};
  /// Written by the completer before `finished` is published (release), read after an
  /// acquire load sees `finished`.
  std::exception_ptr m_exception;
  /// Callbacks and registered Waiters, allocated on first use (most futures never need them);
  /// guarded by the state's parking-lot lock (future.cpp).
  StateExtras* m_extras = nullptr;
};

/// The state of a Future<T>: StateBase plus the value.
template <class T>
class FutureState : public StateBase {
 public:
  explicit FutureState(std::uint32_t initial_refs) noexcept : StateBase(initial_refs) {}

  /// Stores `value` and finishes; InvalidStateError if already done.
  void set_result(T value) {
    if (!begin_completion()) throw InvalidStateError("future is already done");
    complete_with(std::move(value));
  }
  /// The value; only after a successful wait on a future that finished without exception.
  [[nodiscard]] const T& value() const noexcept {
    assert(m_value.has_value());
    return *m_value;
  }

 protected:
  /// After begin_completion(): stores the value (or, if moving it throws, that exception).
  void complete_with(T&& value) noexcept {
    try {
      m_value.emplace(std::move(value));
    } catch (...) {
      store_exception(std::current_exception());
    }
    end_completion();
  }

 private:
  std::optional<T> m_value;  // written once, before `finished` is published
};

template <>
class FutureState<void> : public StateBase {
 public:
  explicit FutureState(std::uint32_t initial_refs) noexcept : StateBase(initial_refs) {}
  void set_result() {
    if (!begin_completion()) throw InvalidStateError("future is already done");
    end_completion();
  }
  void value() const noexcept {}

 protected:
  void complete_with() noexcept { end_completion(); }
};

/// `const T&` for result(), `void` for Future<void>.
template <class T>
struct result_ref {
  using type = const T&;
};
template <>
struct result_ref<void> {
  using type = void;
};

struct adopt_t {};

}  // namespace detail

/// concurrent.futures.Future: a handle to the outcome of asynchronous work.
template <class T>
class Future {
 public:
  /// T: the type of the result (void for a Future<void>).
  using value_type = T;

  /// A fresh pending future (Python's Future(): for executors, producers and tests).
  Future() : m_state(new detail::FutureState<T>(1)) {}
  /// Copyable and movable: a copy shares the state (its count of references is atomic: copies
  /// may be made and dropped on any thread); a moved-from Future is empty (only assignment and
  /// destruction are allowed on it).
  /// @{
  Future(const Future& other) noexcept : m_state(other.m_state) {
    if (m_state != nullptr) m_state->add_ref();
  }
  Future(Future&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
  Future& operator=(Future other) noexcept {
    std::swap(m_state, other.m_state);
    return *this;
  }
  /// @}
  ~Future() {
    if (m_state != nullptr) m_state->release();
  }

  /// Cancels the future if it is still pending. Returns false if it is running or finished,
  /// true if it is (now) cancelled; wakes waiters and runs callbacks.
  bool cancel() const { return state().cancel(); }
  /// Whether the future was cancelled.
  [[nodiscard]] bool cancelled() const noexcept {
    const auto s = state().status();
    return s == detail::StateBase::cancelled || s == detail::StateBase::cancelled_and_notified;
  }
  /// Whether the work is running (set_running_or_notify_cancel() returned true, not done yet).
  [[nodiscard]] bool running() const noexcept {
    const auto s = state().status();
    return s == detail::StateBase::running || s == detail::StateBase::completing;
  }
  /// Whether the future is finished or cancelled.
  [[nodiscard]] bool done() const noexcept { return state().done(); }

  /// Waits at most `timeout` (nullopt: forever) and returns the value. Rethrows the
  /// exception the work threw (its own type); throws CancelledError if cancelled and
  /// TimeoutError if not done in time.
  typename detail::result_ref<T>::type result(std::optional<Timeout> timeout = std::nullopt) const {
    // acquire (in status()): pairs with the completer's release so the value is visible.
    if (state().status() != detail::StateBase::finished || state().stored_exception())
      state().wait_and_rethrow(timeout);
    return state().value();
  }

  /// Waits at most `timeout` and returns the exception the work threw, or a null pointer if
  /// it succeeded. Throws CancelledError if cancelled, TimeoutError if not done in time.
  std::exception_ptr exception(std::optional<Timeout> timeout = std::nullopt) const {
    state().wait_or_throw(timeout);
    return state().stored_exception();
  }

  /// Calls `fn(*this)` when the future is done, in the thread that completes or cancels it —
  /// or at once in this thread if it is done already. Callbacks run in the order they were
  /// added; an exception escaping one is printed to stderr and otherwise ignored.
  void add_done_callback(std::function<void(const Future&)> fn) const {
    state().add_done_callback([fn = std::move(fn)](detail::StateBase& s) {
      fn(Future(static_cast<detail::FutureState<T>*>(&s)));
    });
  }

  // ---- for executors and other producers (public in Python too) -------------------------

  /// Marks the future running and returns true; or, if it was cancelled, records that the
  /// cancellation was noticed and returns false. RuntimeError if it is running or done.
  bool set_running_or_notify_cancel() const { return state().set_running_or_notify_cancel(); }
  /// Finishes the future with `value`. InvalidStateError if it is already done.
  template <class U = T>
    requires(!std::is_void_v<U>)
  void set_result(std::type_identity_t<U> value) const {
    state().set_result(std::move(value));
  }
  /// Finishes a Future<void>. InvalidStateError if it is already done.
  void set_result() const
    requires std::is_void_v<T>
  {
    state().set_result();
  }
  /// Finishes the future with the exception `e`. InvalidStateError if it is already done,
  /// ValueError if `e` is null.
  void set_exception(std::exception_ptr e) const { state().set_exception(std::move(e)); }

  /// Whether two handles share one state.
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.m_state == b.m_state; }
  /// An arbitrary but consistent order of the shared states (by identity), so that a future can
  /// key a std::map or std::set, as Python's `{executor.submit(fn, x): x}`; std::hash is below.
  friend std::strong_ordering operator<=>(const Future& a, const Future& b) noexcept {
    return std::compare_three_way()(a.m_state, b.m_state);
  }

  // ---- internals --------------------------------------------------------------------------
  /// Wraps `state`, taking over one reference it already holds.
  Future(detail::FutureState<T>* state, detail::adopt_t) noexcept : m_state(state) {}
  /// The shared state (for wait(), as_completed() and executors).
  [[nodiscard]] detail::FutureState<T>& state() const noexcept {
    assert(m_state != nullptr && "use of a moved-from Future");
    return *m_state;
  }

 private:
  /// A new handle on `state` (adds a reference).
  explicit Future(detail::FutureState<T>* state) noexcept : m_state(state) { m_state->add_ref(); }

  detail::FutureState<T>* m_state;  // null only after a move
};

}  // namespace concur::futures

template <class T>
struct std::hash<concur::futures::Future<T>> {
  std::size_t operator()(const concur::futures::Future<T>& f) const noexcept {
    return std::hash<const void*>()(&f.state());
  }
};
