// SPDX-License-Identifier: MIT
// concur/threading/thread.hpp — Thread and the module functions of Python's threading.
//
// A Thread runs a callable in a new OS thread, as threading.Thread does:
//
//   th::Thread t(download, url, 3);                        // target + arguments (decay-copied)
//   th::Thread t(add_to, std::ref(total));                 // a reference argument: std::ref, as
//                                                          // for std::thread (a one-line error says so)
//   th::Thread t([&] { ... }, {.name = "Payment"});        // target + options
//   th::Thread t({.name = "w", .daemon = true}, fn, arg);  // options + target + arguments
//   t.start();  t.join();  t.join(2s);  if (t.is_alive()) ...
//
// or a subclass overrides run() and uses the protected constructor, as in Python:
//
//   class Worker : public th::Thread {
//    public:
//     Worker() : Thread({.name = "Worker"}) {}
//    protected:
//     void run() override { ... }
//   };
//
// Lifetime. The OS thread does not die with the Thread object, as in Python: a Thread is a
// handle on shared state (one allocation, shared by the running thread), and in target mode the
// object may be destroyed or moved while its thread runs; the thread keeps its own copy of the
// target and arguments. In subclass mode the thread calls run() on the object itself, so the
// object must stay alive and in place until run() has returned (join() it first). Destroying or
// moving a subclass Thread whose run() may still execute is reported on stderr and aborts the
// program, instead of silently running code on a dead object; this is checked in ~Thread, after
// the derived part was destroyed, so it catches the bug but cannot undo it: join() in the
// derived class's destructor if in doubt.
//
// Program exit. When the program exits normally (main returns or exit() is called), it waits
// for every non-daemon Thread still running, like Python's interpreter shutdown; daemon threads
// do not hold it open (they are abandoned mid-run). The wait is an atexit handler registered on
// the first start(). C++ runs atexit handlers and static destructors in reverse order of
// registration, so the wait happens before the destruction of every static object constructed
// before that first start(); a static object first constructed *after* it (e.g. a function-
// local static first used by a thread) may be destroyed while non-daemon threads still run.
// Keep the objects your threads use alive (construct them before starting threads) or join the
// threads before main returns. `daemon` defaults to the creating thread's daemon flag: false when
// created by the main thread or by a non-daemon Thread, true when created from a plain
// std::thread (which concur treats as a daemon "Dummy" thread).
//
// Exceptions. An exception escaping the target or run() does not std::terminate: it goes to the
// excepthook (set_excepthook), whose default prints "Exception in thread NAME: TYPE: MESSAGE" to
// stderr; then the thread ends normally. This includes CancelledError and non-std exceptions.
//
// Identity. main_thread() is the thread that ran concur's static initialization (main's thread),
// named "MainThread". Threads not started by concur (plain std::thread) appear in
// current_thread() and enumerate() as daemon "Dummy-N" threads, which leave enumerate() when their
// thread exits; they cannot be joined. get_ident() is a number unique among live threads (may be
// reused afterwards); get_native_id() is the kernel's thread id. After fork() the child keeps only
// the forking thread, which becomes its main_thread().
//
// Thread safety: all members may be called from any thread. Differences from Python: Thread is a
// move-only handle (current_thread()/enumerate() return further handles on the same thread; ==
// compares identity); ident()/native_id() return nullopt before start(); start() does not wait
// for the new thread to begin (ident() waits briefly if asked before it did).
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/export.hpp"
#include "concur/threading/event.hpp"
#include "concur/threading/futex.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

class Thread;

/// Thread's keyword arguments.
struct ThreadOptions {
  /// The thread's name; "Thread-N" when empty.
  std::string name = {};
  /// Whether it is a daemon thread; inherited from the creating thread when unset.
  std::optional<bool> daemon = std::nullopt;
};

namespace detail {

/// What a Thread handle points at: shared by every handle and by the running thread.
class CONCUR_API ThreadState : public std::enable_shared_from_this<ThreadState> {
 public:
  enum class Kind : std::uint8_t {
    target,    // runs a stored callable (TargetState)
    subclass,  // runs owner->run()
    main,      // the main thread (never started by concur)
    dummy,     // a thread concur did not start, seen through current_thread()
  };

  /// What remains to be done with the OS thread of a target or subclass thread (reap_state).
  enum ReapState : std::uint32_t {
    nothing_to_reap,  // no OS thread, or it was joined or detached (main, dummy, not started)
    launching,        // start() is creating it; native_handle is not written yet
    joinable,         // it exists or has exited, and was neither joined nor detached
    joining,          // a join() is waiting in the OS join for it
  };

  ThreadState(Kind kind, ThreadOptions options);
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;
  /// Detaches the OS thread if nobody joined it (the thread itself may be the one destroying
  /// its state, as it exits).
  virtual ~ThreadState();

  /// Target mode: calls the target once with the stored arguments. Otherwise does nothing.
  virtual void invoke() {}

  const Kind kind;
  mutable std::mutex name_mutex;
  std::string name;                   // guarded by name_mutex
  std::atomic<bool> daemon;           // written only before start (or at creation)
  std::atomic<bool> started{false};   // set once by start(); main and dummy are born started
  std::atomic<std::uint64_t> ident{0};      // valid once ids_known is set
  std::atomic<std::uint64_t> native_id{0};  // valid once ids_known is set
  mutable Event ids_known;            // set by the thread itself as it begins
  mutable Event finished;             // set at thread exit, after its thread_locals' destructors,
                                      // once it left enumerate()
  FutexWord reap_state{nothing_to_reap};  // a ReapState; see thread.cpp ("joining the OS thread")
  std::uint64_t native_handle = 0;    // the pthread_t; written by start() before reap_state
                                      // becomes joinable (release), read after seeing it (acquire)
  std::int32_t launch_pid = 0;        // the process that created the OS thread (a fork()ed
                                      // child must neither join nor detach its parent's threads);
                                      // written by start() before the thread exists
  Thread* owner = nullptr;            // subclass mode: the object whose run() executes; written
                                      // only while no run() executes (ctor, move)
  std::atomic<bool> in_run{false};    // subclass mode: true from start() until run() returned
  ThreadState* prev = nullptr;        // enumerate() list links, guarded by the registry mutex
  ThreadState* next = nullptr;
  bool registered = false;            // in the enumerate() list; guarded by the registry mutex
};

/// Target mode state: the decay-copied callable and arguments live here (one allocation).
template <class F, class... Args>
class TargetState final : public ThreadState {
 public:
  template <class G, class... A>
  TargetState(ThreadOptions options, G&& target, A&&... args)
      : ThreadState(Kind::target, std::move(options)),
        m_call(std::in_place, std::forward<G>(target), std::forward<A>(args)...) {}

  void invoke() override {
    // As std::thread: the copies are passed as rvalues, once, and destroyed in the new thread
    // right after the call (Python drops _target and _args after run(), too), not when the last
    // handle goes away. Only the running thread touches m_call.
    struct Reset {
      std::optional<std::tuple<F, Args...>>& call;
      ~Reset() { call.reset(); }
    } reset{m_call};
    // (Not invocable: Thread's constructor has already failed its static_assert; no second error.)
    if constexpr (std::is_invocable_v<F, Args...>)
      std::apply([](F& target, Args&... args) { std::invoke(std::move(target), std::move(args)...); }, *m_call);
  }

 private:
  std::optional<std::tuple<F, Args...>> m_call;  // engaged until invoke() returned or threw
};

/// thread.cpp's access to Thread's private parts (handles on existing threads).
struct ThreadAccess;

/// Starts the OS thread for `state` (already marked started). Throws std::system_error if the OS
/// refuses, after un-marking it.
CONCUR_API void launch(const std::shared_ptr<ThreadState>& state);

// Also admits a target that takes an argument by non-const reference (callable with lvalues
// only), so that the constructor's static_assert can say "use std::ref" in one line instead of
// a page of failed overloads.
template <class F, class... Args>
concept thread_target = (std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> ||
                         std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>) &&
                        !std::is_same_v<std::remove_cvref_t<F>, ThreadOptions> &&
                        !std::derived_from<std::remove_cvref_t<F>, Thread>;

}  // namespace detail

/// threading.Thread: a thread of control, as a move-only handle.
class CONCUR_API Thread {
 public:
  /// A thread that will call `target(args...)` (decay-copied, like std::thread) once started.
  template <class F, class... Args>
    requires detail::thread_target<F, Args...>
  explicit Thread(F&& target, Args&&... args)
      : Thread(ThreadOptions{}, std::forward<F>(target), std::forward<Args>(args)...) {}

  /// A thread that will call `target()`, with options: `Thread t(fn, {.name = "Payment"});`
  template <class F>
    requires detail::thread_target<F>
  Thread(F&& target, ThreadOptions options) : Thread(std::move(options), std::forward<F>(target)) {}

  /// A thread with options that will call `target(args...)`.
  template <class F, class... Args>
    requires detail::thread_target<F, Args...>
  Thread(ThreadOptions options, F&& target, Args&&... args)
      : m_state(std::make_shared<detail::TargetState<std::decay_t<F>, std::decay_t<Args>...>>(
            std::move(options), std::forward<F>(target), std::forward<Args>(args)...)) {
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                  "threading::Thread copies its arguments (as std::thread does): wrap an argument the "
                  "target takes by reference in std::ref(x) (or std::cref(x))");
  }

  /// Moves the handle. Aborts (see the lifetime notes) if `other` is a subclass thread whose
  /// run() may be executing.
  Thread(Thread&& other) noexcept;
  /// Moves the handle; same check for both sides.
  Thread& operator=(Thread&& other) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  /// Never waits for the thread (an OS thread nobody joins is detached once its last handle and
  /// the thread itself are done with it). Aborts if this is a subclass thread whose run() may
  /// execute.
  virtual ~Thread();

  /// Starts the thread. Throws RuntimeError if it was already started; std::system_error if the
  /// OS cannot create a thread (it may then be started again).
  void start();

  /// Waits until the thread ends (its target/run() returned, the excepthook ran if needed, and
  /// its thread_local objects, local<T> values included, were destroyed) and its OS thread has
  /// exited, as Python 3.13's join waits for the thread itself; or until `timeout` passes
  /// (forever when nullopt). Returns either way: check is_alive() after a timed join. A timed
  /// join that gives up leaves the thread joinable, and join() may be called again, from any
  /// number of threads. Throws RuntimeError if the thread was not started, is the calling
  /// thread, or is a dummy thread.
  void join(std::optional<Timeout> timeout = std::nullopt);

  /// True from start() until the thread ended: its target/run() returned and its thread_local
  /// objects were destroyed (main thread: always; dummy: until its OS thread exits).
  [[nodiscard]] bool is_alive() const;

  /// The thread's name (not necessarily unique).
  [[nodiscard]] std::string name() const;
  /// Renames the thread (allowed at any time, as in Python).
  void set_name(std::string name);

  /// get_ident() of the thread; nullopt before start(). May wait briefly for a just-started
  /// thread to begin.
  [[nodiscard]] std::optional<std::uint64_t> ident() const;
  /// The kernel's id of the thread; nullopt before start(). May wait briefly like ident().
  [[nodiscard]] std::optional<std::uint64_t> native_id() const;

  /// Whether it is a daemon thread.
  [[nodiscard]] bool daemon() const;
  /// Sets the daemon flag. Throws RuntimeError once the thread is started.
  void set_daemon(bool daemon);

  /// Whether both handles refer to the same thread.
  friend bool operator==(const Thread& a, const Thread& b) noexcept { return a.m_state == b.m_state; }

 protected:
  /// For subclasses that override run(). The object must outlive run() (see above).
  explicit Thread(ThreadOptions options = {});

  /// The thread's activity. In subclass mode the thread calls it; the default does nothing
  /// (target mode never calls run(): the target is called directly).
  virtual void run();

 private:
  friend struct detail::ThreadAccess;
  /// A further handle on an existing thread (never an owner).
  explicit Thread(std::shared_ptr<detail::ThreadState> state) noexcept : m_state(std::move(state)) {}
  [[nodiscard]] detail::ThreadState& state() const;
  void check_not_running_owner() const noexcept;

  std::shared_ptr<detail::ThreadState> m_state;  // null only when moved from
};

/// The Thread object of the calling thread (a daemon "Dummy-N" one for threads concur did not
/// start).
[[nodiscard]] CONCUR_API Thread current_thread();
/// The main thread: the one that ran concur's static initialization.
[[nodiscard]] CONCUR_API Thread main_thread();
/// A non-zero number identifying the calling thread among live threads (may be reused later).
[[nodiscard]] inline std::uint64_t get_ident() noexcept { return detail::thread_key(); }
/// The kernel's id of the calling thread.
[[nodiscard]] inline std::uint64_t get_native_id() noexcept { return detail::native_thread_id(); }
/// The number of threads alive: the main thread, started concur Threads, and dummies (plain
/// threads that called current_thread()).
[[nodiscard]] CONCUR_API std::size_t active_count();
/// Every thread alive, in the order they were started (or first seen).
[[nodiscard]] CONCUR_API std::vector<Thread> enumerate();

/// What an excepthook receives (Python's threading.ExceptHookArgs, without the traceback).
struct ExceptHookArgs {
  std::exception_ptr exc_value;  ///< the exception that escaped the thread
  std::string exc_type;          ///< its demangled type name (concur::exception_type_name)
  Thread thread;                 ///< the thread it escaped from
};

/// Called, in the failing thread, with an exception that escaped a Thread's target or run().
using ExceptHook = std::function<void(const ExceptHookArgs&)>;

/// Installs `hook` as the excepthook (an empty function restores the default) and returns the
/// previous one. An exception thrown by the hook is reported on stderr and otherwise ignored.
CONCUR_API ExceptHook set_excepthook(ExceptHook hook);
/// Calls the installed excepthook with `args` (Python's threading.excepthook(args)).
CONCUR_API void excepthook(const ExceptHookArgs& args);
/// The default hook (Python's threading.__excepthook__): prints
/// "Exception in thread NAME: TYPE: MESSAGE" to stderr.
CONCUR_API void default_excepthook(const ExceptHookArgs& args);

}  // namespace concur::threading
