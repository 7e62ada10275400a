// SPDX-License-Identifier: MIT
// Thread: starting, the registry behind enumerate(), the main and dummy threads, excepthook, the
// at-exit wait for non-daemon threads, and fork() handling.
#include "concur/threading/thread.hpp"

#include <fmt/core.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <system_error>
#include <memory>
#include <type_traits>
#include <vector>

#include "concur/errors.hpp"

namespace concur::threading {

namespace detail {

struct ThreadAccess {
  static Thread handle(std::shared_ptr<ThreadState> state) noexcept { return Thread(std::move(state)); }
  static void run(Thread& thread) { thread.run(); }
};

namespace {

// Python's _counter: numbers "Thread-N" and "Dummy-N" names, in creation order.
std::atomic<unsigned long> g_name_counter{0};

// The calling thread's state: set by bootstrap for concur threads, at creation for the main
// thread and dummies. A raw pointer (trivially destructible, so usable in any phase of thread
// exit); the state is kept alive by whoever registered it (ThreadHolder or the main slot).
thread_local ThreadState* t_current = nullptr;

// The enumerate() list. Leaked on purpose (never destroyed), like the main slot below: daemon
// threads and dummies may still use them while static destructors run at exit.
struct Registry {
  std::mutex mutex;
  ThreadState* head = nullptr;  // guarded by mutex; in registration order
  ThreadState* tail = nullptr;  // guarded by mutex
  std::size_t count = 0;        // guarded by mutex; the length of the list
  // Guarded by mutex: the non-daemon threads of ours that have ended (left the list above), which
  // the at-exit wait must still join if nobody did: a thread that ends just before the program
  // exits is no longer listed, but its OS thread is still to be reaped. Expired entries (states
  // already gone, hence detached or joined) are pruned as the vector grows.
  std::vector<std::weak_ptr<ThreadState>> ended;
  std::size_t ended_after_prune = 0;  // guarded by mutex
  // In a fork()ed child: the parent's `ended` lists, kept untouched (see after_fork_in_child).
  std::vector<std::vector<std::weak_ptr<ThreadState>>> ended_in_parents;
};

Registry& registry() {
  static Registry* const instance = new Registry;
  return *instance;
}

void link(Registry& r, ThreadState& s) {
  // Called with r.mutex held.
  assert(!s.registered);
  s.prev = r.tail;
  s.next = nullptr;
  (r.tail != nullptr ? r.tail->next : r.head) = &s;
  r.tail = &s;
  s.registered = true;
  ++r.count;
}

void unlink(Registry& r, ThreadState& s) {
  // Called with r.mutex held.
  if (!s.registered) return;
  (s.prev != nullptr ? s.prev->next : r.head) = s.next;
  (s.next != nullptr ? s.next->prev : r.tail) = s.prev;
  s.prev = s.next = nullptr;
  s.registered = false;
  --r.count;
}

void register_state(ThreadState& s) {
  Registry& r = registry();
  const std::scoped_lock hold(r.mutex);
  link(r, s);
}

void unregister_state(ThreadState& s) {
  Registry& r = registry();
  const std::scoped_lock hold(r.mutex);
  unlink(r, s);
}

/// Unregisters a thread of ours that is ending; a non-daemon one is remembered for the at-exit
/// wait (Registry::ended).
void unregister_ending(ThreadState& s) {
  Registry& r = registry();
  const std::scoped_lock hold(r.mutex);
  const bool ours = s.kind == ThreadState::Kind::target || s.kind == ThreadState::Kind::subclass;
  // relaxed: daemon only changes before start(), which happened before this thread ran.
  if (ours && !s.daemon.load(std::memory_order_relaxed)) {
    if (r.ended.size() >= std::max<std::size_t>(64, 2 * r.ended_after_prune)) {
      std::erase_if(r.ended, [](const std::weak_ptr<ThreadState>& w) { return w.expired(); });
      r.ended_after_prune = r.ended.size();
    }
    r.ended.push_back(s.weak_from_this());
  }
  unlink(r, s);
}

void publish_ids(ThreadState& s) {
  s.ident.store(thread_key(), std::memory_order_relaxed);  // published by ids_known.set()
  s.native_id.store(native_thread_id(), std::memory_order_relaxed);  // likewise
  s.ids_known.set();
}

void after_fork_in_child();

// ---- joining the OS thread --------------------------------------------------------------------
//
// A target or subclass thread is a joinable pthread, so that join() returns only once the OS
// thread is gone (Python 3.13's join, too, waits for the thread itself), not merely once the
// thread set `finished` on its way out: a caller that counts its threads right after join()
// must find the joined one gone. The thread's state says what remains to be done with it
// (reap_state, a ReapState):
//
//   launching --start() created it--> joinable --a join() takes it--> joining --joined--> nothing
//                                        ^                               |
//                                        +------ a timed join gave up ---+
//
// One join() at a time holds it in `joining`; other joiners wait on the word. A joiner starts
// only after `finished` is set, so the OS join waits for the last instructions of a thread that
// has done all it had to do (it may still be reaching exit when a timed join's deadline passes:
// then the thread stays joinable). Nobody has to join: the last owner of the state detaches a
// thread still joinable (~ThreadState), which may be the thread itself as it exits. After
// fork() the child forgets every OS thread: none of them exists there (launch_pid tells a
// parent's thread from the child's own; a state may have been caught in any ReapState).

static_assert(std::is_integral_v<pthread_t> && sizeof(pthread_t) <= sizeof(std::uint64_t),
              "ThreadState::native_handle stores glibc's pthread_t, an integer");

pthread_t native_handle_of(const ThreadState& s) noexcept { return static_cast<pthread_t>(s.native_handle); }

// Whether the OS thread of `s`, if any, was created by this process (not by a parent that
// fork()ed it).
bool launched_here(const ThreadState& s) noexcept { return s.launch_pid == ::getpid(); }

void set_reap_state(ThreadState& s, ThreadState::ReapState v) noexcept {
  // release: publishes native_handle (joinable) or the end of the OS join (nothing_to_reap) to
  // the joiners' acquire loads.
  s.reap_state.store(v, std::memory_order_release);
  futex_wake(s.reap_state, futex_wake_all);
}

// After the OS join: waits (briefly) until the kernel has also dropped the thread from the
// process's list. pthread_join returns when the kernel clears the thread's tid word, a moment
// before the exiting thread unlinks itself from its thread group (the ~1 in 10,000 joins of a
// loaded machine where /proc/self/task still lists it right after join(), for std::thread
// too). tgkill with signal 0 says whether the tid is still in this process. Bounded: a thread
// that stays listed, a traced thread whose stopped tracer does not reap it, is left to the
// kernel after 100 ms.
void wait_until_unlisted(std::uint64_t tid) noexcept {
  const pid_t pid = ::getpid();
  if (::tgkill(pid, static_cast<pid_t>(tid), 0) != 0) return;  // the usual case: gone already
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  while (::tgkill(pid, static_cast<pid_t>(tid), 0) == 0 && std::chrono::steady_clock::now() < give_up) {
    ::sched_yield();
  }
}

// The OS join of a joinable thread, by `deadline` if one is given. Returns false on timeout.
bool os_join(pthread_t handle, std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
  int rc = 0;
  if (!deadline) {
    rc = ::pthread_join(handle, nullptr);
  } else {
    // pthread_timedjoin_np takes a CLOCK_REALTIME instant: translate what is left of the
    // steady deadline.
    const auto left = *deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      rc = ::pthread_tryjoin_np(handle, nullptr);
    } else {
      timespec abs{};
      ::clock_gettime(CLOCK_REALTIME, &abs);
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const std::int64_t total = static_cast<std::int64_t>(abs.tv_nsec) + ns % 1'000'000'000;
      abs.tv_sec += static_cast<time_t>(ns / 1'000'000'000 + total / 1'000'000'000);
      abs.tv_nsec = static_cast<long>(total % 1'000'000'000);
      rc = ::pthread_timedjoin_np(handle, nullptr, &abs);
    }
  }
  if (rc == ETIMEDOUT || rc == EBUSY) return false;
  // Anything else would mean the handle is not a joinable thread of ours: a broken invariant.
  assert(rc == 0);
  return true;
}

// Waits for the OS thread of `s` (whose `finished` is set) to be joined, joining it unless
// another join() is doing so. Returns false if `deadline` passed first.
bool reap(ThreadState& s, std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
  if (!launched_here(s)) return true;  // a thread of the parent process: it does not exist here
  const auto until = deadline.value_or(std::chrono::steady_clock::time_point::max());
  for (;;) {
    // acquire: pairs with set_reap_state's release (native_handle, or the end of a join).
    std::uint32_t v = s.reap_state.load(std::memory_order_acquire);
    switch (v) {
      case ThreadState::nothing_to_reap:
        return true;
      case ThreadState::launching:
      case ThreadState::joining:
        if (!futex_wait_until(s.reap_state, v, until)) return false;
        break;
      case ThreadState::joinable:
        // acquire: as the load above.
        if (!s.reap_state.compare_exchange_strong(v, ThreadState::joining, std::memory_order_acquire)) break;
        if (!os_join(native_handle_of(s), deadline)) {
          set_reap_state(s, ThreadState::joinable);
          return false;
        }
        // relaxed: the thread wrote it before `finished`, which the caller saw set (acquire).
        wait_until_unlisted(s.native_id.load(std::memory_order_relaxed));
        set_reap_state(s, ThreadState::nothing_to_reap);
        return true;
      default:
        assert(false && "unknown ReapState");
        return true;
    }
  }
}

std::shared_ptr<ThreadState> make_main_state() {
  auto s = std::make_shared<ThreadState>(ThreadState::Kind::main, ThreadOptions{.name = "MainThread", .daemon = false});
  s->started.store(true, std::memory_order_relaxed);  // not shared yet: registering publishes it
  publish_ids(*s);
  register_state(*s);
  t_current = s.get();
  return s;
}

// The main thread's state. The first call (during static initialization, see below) creates it
// for the calling thread, which is main's thread. Leaked like the registry; replaced in a
// fork()ed child by the forking thread's state.
std::shared_ptr<ThreadState>& main_slot() {
  static std::shared_ptr<ThreadState>* const slot = [] {
    auto* p = new std::shared_ptr<ThreadState>(make_main_state());
    // After fork() only the forking thread exists in the child: the registry must forget the
    // others (and must not be locked by one of them at the moment of fork()).
    ::pthread_atfork([] { registry().mutex.lock(); }, [] { registry().mutex.unlock(); },
                     [] { after_fork_in_child(); });
    return p;
  }();
  return *slot;
}

// Make the thread running static initialization (main's) the main thread.
[[maybe_unused]] const bool g_main_initialized = (main_slot(), true);

// Owns the calling thread's state, for a concur thread (from bootstrap) or a dummy. It is
// constructed when the thread begins (before the thread's code can create thread_locals of its
// own), so its destructor runs last among the thread's thread_local destructors: only then does
// the thread leave enumerate() and count as finished. So join() returns after the thread's
// thread_local objects (local<T> values included) were destroyed, as Python's join returns after
// the thread state was cleared.
struct ThreadHolder {
  std::shared_ptr<ThreadState> state;
  ThreadHolder() = default;
  ThreadHolder(const ThreadHolder&) = delete;
  ThreadHolder& operator=(const ThreadHolder&) = delete;
  ~ThreadHolder() {
    if (!state) return;
    unregister_ending(*state);
    if (t_current == state.get()) t_current = nullptr;
    state->finished.set();  // last: a joiner may return, and the process may exit, right after
  }
};
thread_local ThreadHolder t_holder;

ThreadState& current_state() {
  if (ThreadState* s = t_current) return *s;
  main_slot();  // in case static initialization has not reached g_main_initialized yet
  if (ThreadState* s = t_current) return *s;
  // relaxed counter: it only hands out distinct numbers.
  auto s = std::make_shared<ThreadState>(
      ThreadState::Kind::dummy,
      ThreadOptions{.name = fmt::format("Dummy-{}", g_name_counter.fetch_add(1, std::memory_order_relaxed) + 1),
                    .daemon = true});
  s->started.store(true, std::memory_order_relaxed);  // not shared yet: registering publishes it
  publish_ids(*s);
  register_state(*s);
  t_current = s.get();
  t_holder.state = std::move(s);
  return *t_current;
}

void after_fork_in_child() {
  // Only this thread exists now; it holds the registry mutex (taken in the prepare handler).
  Registry& r = registry();
  // The parent's ended threads: none of them exists here (a state's `finished` may never be
  // set). The list is set aside, not cleared: releasing thousands of weak references would
  // write to every control block, each write copying a page the child shares with its parent
  // (measured: 3 ms a fork after 10,000 threads had run, against 0.15 ms).
  r.ended_in_parents.push_back(std::move(r.ended));
  r.ended = {};
  r.ended_after_prune = 0;
  ThreadState* me = t_current;
  for (ThreadState* s = r.head; s != nullptr;) {
    ThreadState* next = s->next;
    if (s != me) {
      unlink(r, *s);
      s->in_run.store(false, std::memory_order_relaxed);  // its run() is not executing here
      s->finished.set();                                  // nobody waits on it in the child
    }
    // No OS thread of the parent exists here, and the forking one is now the child's main
    // thread: nobody joins or detaches them. (relaxed: single-threaded here.)
    s->reap_state.store(ThreadState::nothing_to_reap, std::memory_order_relaxed);
    s = next;
  }
  r.mutex.unlock();
  if (me == nullptr) {
    main_slot() = make_main_state();
  } else {
    me->native_id.store(native_thread_id(), std::memory_order_relaxed);  // single-threaded here
    main_slot() = me->shared_from_this();
  }
}

// ---- program exit -----------------------------------------------------------------------------

void wait_for_non_daemon_threads() {
  // Python's threading._shutdown: join every non-daemon thread (except the exiting one). Threads
  // may start more threads meanwhile, hence the loop.
  for (;;) {
    std::shared_ptr<ThreadState> pending;
    {
      Registry& r = registry();
      const std::scoped_lock hold(r.mutex);
      for (ThreadState* s = r.head; s != nullptr; s = s->next) {
        const bool ours = s->kind == ThreadState::Kind::target || s->kind == ThreadState::Kind::subclass;
        // relaxed: daemon only changes before start(), which happened before registration.
        if (ours && s != t_current && !s->daemon.load(std::memory_order_relaxed)) {
          pending = s->shared_from_this();
          break;
        }
      }
    }
    if (!pending) break;
    pending->finished.wait();
    reap(*pending, std::nullopt);
  }
  // The non-daemon threads that ended before the scan above and that nobody joined: their OS
  // threads are reaped too (a finished, unjoined thread is what ThreadSanitizer calls a leak).
  std::vector<std::shared_ptr<ThreadState>> ended;
  {
    Registry& r = registry();
    const std::scoped_lock hold(r.mutex);
    for (const std::weak_ptr<ThreadState>& w : r.ended) {
      if (std::shared_ptr<ThreadState> s = w.lock()) ended.push_back(std::move(s));
    }
    r.ended.clear();
  }
  for (const std::shared_ptr<ThreadState>& s : ended) {
    s->finished.wait();
    reap(*s, std::nullopt);
  }
}

void ensure_exit_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::atexit(wait_for_non_daemon_threads) != 0) {
      std::fputs("concur::threading: cannot register the at-exit wait for non-daemon threads\n", stderr);
    }
  });
}

// ---- excepthook -------------------------------------------------------------------------------

struct HookSlot {
  std::mutex mutex;
  ExceptHook hook;  // guarded by mutex; empty means default_excepthook
};

HookSlot& hook_slot() {
  static HookSlot* const instance = new HookSlot;  // leaked: used by threads during exit
  return *instance;
}

void report_exception(const std::shared_ptr<ThreadState>& s, std::exception_ptr error) {
  const ExceptHookArgs args{error, exception_type_name(error), ThreadAccess::handle(s)};
  try {
    excepthook(args);
  } catch (...) {
    const std::exception_ptr hook_error = std::current_exception();
    fmt::print(stderr, "Exception in threading.excepthook: {}: {}\n", exception_type_name(hook_error),
               exception_message(hook_error));
  }
}

[[noreturn]] void fatal_running_subclass(const ThreadState& s, const char* what) {
  std::string name;
  {
    const std::scoped_lock hold(s.name_mutex);
    name = s.name;
  }
  fmt::print(stderr,
             "concur::threading::Thread: fatal: a Thread subclass object was {} while its run() may still be "
             "executing (thread '{}'). In subclass mode the object must stay alive and in place until run() "
             "returns: join() the thread first.\n",
             what, name);
  std::fflush(stderr);
  std::abort();
}

// ---- the new thread ---------------------------------------------------------------------------

void bootstrap(const std::shared_ptr<ThreadState>& s) noexcept {
  t_holder.state = s;  // unregisters and sets `finished` at thread exit (see ThreadHolder)
  t_current = s.get();
  publish_ids(*s);
  std::exception_ptr error;
  try {
    if (s->kind == ThreadState::Kind::subclass) {
      ThreadAccess::run(*s->owner);
    } else {
      s->invoke();
    }
  } catch (...) {
    error = std::current_exception();
  }
  // release: the owner's destructor or move (acquire) may now reuse the object run() used.
  s->in_run.store(false, std::memory_order_release);
  if (error) report_exception(s, std::move(error));
}

// The new OS thread: takes over the reference launch() allocated for it.
void* thread_main(void* arg) noexcept {
  const std::unique_ptr<std::shared_ptr<ThreadState>> s(static_cast<std::shared_ptr<ThreadState>*>(arg));
  bootstrap(*s);
  return nullptr;
}

}  // namespace

ThreadState::ThreadState(Kind kind_, ThreadOptions options) : kind(kind_), name(std::move(options.name)) {
  if (name.empty()) {
    // relaxed: the counter only has to hand out distinct numbers; it orders nothing.
    name = fmt::format("Thread-{}", g_name_counter.fetch_add(1, std::memory_order_relaxed) + 1);
  }
  // Inherit the creating thread's flag without creating a dummy for a plain std::thread: those
  // are daemons, as Python's dummies are.
  // relaxed (both): the creator's flag is fixed once it runs; this state is not shared yet.
  const ThreadState* creator = t_current;
  if (creator == nullptr && kind != Kind::main) {
    main_slot();  // a Thread built during static initialization, before g_main_initialized
    creator = t_current;
  }
  daemon.store(options.daemon.value_or(creator != nullptr ? creator->daemon.load(std::memory_order_relaxed) : true),
               std::memory_order_relaxed);
}

ThreadState::~ThreadState() {
  // relaxed: whoever drops the last reference synchronized with every other owner (shared_ptr's
  // count), the joiners and start() included; none of them can be in launching or joining now.
  if (!launched_here(*this)) return;  // a state inherited through fork(): no thread of ours
  const std::uint32_t v = reap_state.load(std::memory_order_relaxed);
  assert(v == nothing_to_reap || v == joinable);
  if (v == joinable) ::pthread_detach(native_handle_of(*this));
}

void launch(const std::shared_ptr<ThreadState>& s) {
  ensure_exit_handler();
  auto arg = std::make_unique<std::shared_ptr<ThreadState>>(s);  // the new thread's reference
  // relaxed (both): the new thread reads them after its creation, which orders everything
  // before it; a joiner reads reap_state only after the thread set `finished`.
  if (s->kind == ThreadState::Kind::subclass) s->in_run.store(true, std::memory_order_relaxed);
  s->reap_state.store(ThreadState::launching, std::memory_order_relaxed);
  s->launch_pid = static_cast<std::int32_t>(::getpid());
  register_state(*s);
  pthread_t handle{};
  const int rc = ::pthread_create(&handle, nullptr, &thread_main, arg.get());
  if (rc != 0) {
    // relaxed: no thread was created, so nothing else reads these through this start().
    unregister_state(*s);
    s->in_run.store(false, std::memory_order_relaxed);
    s->started.store(false, std::memory_order_relaxed);
    set_reap_state(*s, ThreadState::nothing_to_reap);
    throw std::system_error(rc, std::generic_category(), "cannot start a thread");
  }
  (void)arg.release();  // thread_main owns it now
  s->native_handle = static_cast<std::uint64_t>(handle);
  set_reap_state(*s, ThreadState::joinable);
}

}  // namespace detail

// ---- Thread -----------------------------------------------------------------------------------

Thread::Thread(ThreadOptions options)
    : m_state(std::make_shared<detail::ThreadState>(detail::ThreadState::Kind::subclass, std::move(options))) {
  m_state->owner = this;
}

void Thread::check_not_running_owner() const noexcept {
  if (m_state && m_state->kind == detail::ThreadState::Kind::subclass && m_state->owner == this &&
      // acquire: pairs with bootstrap's release after run(), so reusing the object is safe.
      m_state->in_run.load(std::memory_order_acquire)) {
    detail::fatal_running_subclass(*m_state, "destroyed or moved");
  }
}

Thread::Thread(Thread&& other) noexcept {
  other.check_not_running_owner();
  m_state = std::move(other.m_state);
  if (m_state && m_state->owner == &other) m_state->owner = this;
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this == &other) return *this;
  check_not_running_owner();
  other.check_not_running_owner();
  m_state = std::move(other.m_state);
  if (m_state && m_state->owner == &other) m_state->owner = this;
  return *this;
}

Thread::~Thread() { check_not_running_owner(); }

detail::ThreadState& Thread::state() const {
  if (!m_state) throw RuntimeError("use of a moved-from Thread");
  return *m_state;
}

void Thread::run() { state().invoke(); }

void Thread::start() {
  detail::ThreadState& s = state();
  // acq_rel: a second start() (any thread) must see the first one's effects; cheap, once.
  if (s.started.exchange(true, std::memory_order_acq_rel)) throw RuntimeError("threads can only be started once");
  detail::launch(m_state);
}

void Thread::join(std::optional<Timeout> timeout) {
  detail::ThreadState& s = state();
  // acquire (here and below): pairs with start()'s exchange, for a handle used by another thread.
  if (!s.started.load(std::memory_order_acquire)) throw RuntimeError("cannot join thread before it is started");
  if (&s == detail::t_current) throw RuntimeError("cannot join current thread");
  if (s.kind == detail::ThreadState::Kind::dummy) throw RuntimeError("cannot join a dummy thread");
  if (!timeout) {
    s.finished.wait();
    detail::reap(s, std::nullopt);
    return;
  }
  const auto deadline = concur::detail::deadline_after(*timeout);
  if (!s.finished.wait(*timeout)) return;
  detail::reap(s, deadline);
}

bool Thread::is_alive() const {
  const detail::ThreadState& s = state();
  return s.started.load(std::memory_order_acquire) && !s.finished.is_set();
}

std::string Thread::name() const {
  const detail::ThreadState& s = state();
  const std::scoped_lock hold(s.name_mutex);
  return s.name;
}

void Thread::set_name(std::string name) {
  detail::ThreadState& s = state();
  const std::scoped_lock hold(s.name_mutex);
  s.name = std::move(name);
}

std::optional<std::uint64_t> Thread::ident() const {
  const detail::ThreadState& s = state();
  if (!s.started.load(std::memory_order_acquire)) return std::nullopt;
  s.ids_known.wait();
  return s.ident.load(std::memory_order_relaxed);  // ordered by ids_known (set after the store)
}

std::optional<std::uint64_t> Thread::native_id() const {
  const detail::ThreadState& s = state();
  if (!s.started.load(std::memory_order_acquire)) return std::nullopt;
  s.ids_known.wait();
  return s.native_id.load(std::memory_order_relaxed);  // ordered by ids_known
}

// relaxed: daemon is a lone flag that only changes before start(); it guards no other data.
bool Thread::daemon() const { return state().daemon.load(std::memory_order_relaxed); }

void Thread::set_daemon(bool daemon) {
  detail::ThreadState& s = state();
  if (s.started.load(std::memory_order_acquire)) throw RuntimeError("cannot set daemon status of active thread");
  s.daemon.store(daemon, std::memory_order_relaxed);  // published to the thread by start()
}

// ---- module functions -------------------------------------------------------------------------

Thread current_thread() { return detail::ThreadAccess::handle(detail::current_state().shared_from_this()); }

Thread main_thread() {
  std::shared_ptr<detail::ThreadState> s = detail::main_slot();
  return detail::ThreadAccess::handle(std::move(s));
}

// Like Python's, active_count() and enumerate() do not register the calling thread as a dummy:
// a plain std::thread appears only once it called current_thread().
std::size_t active_count() {
  detail::Registry& r = detail::registry();
  const std::scoped_lock hold(r.mutex);
  return r.count;
}

std::vector<Thread> enumerate() {
  detail::Registry& r = detail::registry();
  const std::scoped_lock hold(r.mutex);
  std::vector<Thread> threads;
  threads.reserve(r.count);
  for (detail::ThreadState* s = r.head; s != nullptr; s = s->next) {
    // Every registered state is kept alive by its thread (or slot) until it unregisters.
    threads.push_back(detail::ThreadAccess::handle(s->shared_from_this()));
  }
  return threads;
}

ExceptHook set_excepthook(ExceptHook hook) {
  detail::HookSlot& slot = detail::hook_slot();
  const std::scoped_lock hold(slot.mutex);
  ExceptHook previous = std::exchange(slot.hook, std::move(hook));
  if (!previous) previous = default_excepthook;
  return previous;
}

void excepthook(const ExceptHookArgs& args) {
  ExceptHook hook;
  {
    detail::HookSlot& slot = detail::hook_slot();
    const std::scoped_lock hold(slot.mutex);
    hook = slot.hook;
  }
  if (hook) {
    hook(args);
  } else {
    default_excepthook(args);
  }
}

void default_excepthook(const ExceptHookArgs& args) {
  const std::string name = args.thread.name();
  const std::string message = exception_message(args.exc_value);
  // One print call, so lines from several failing threads do not interleave.
  if (message.empty()) {
    fmt::print(stderr, "Exception in thread {}: {}\n", name, args.exc_type);
  } else {
    fmt::print(stderr, "Exception in thread {}: {}: {}\n", name, args.exc_type, message);
  }
}

}  // namespace concur::threading
