// SPDX-License-Identifier: MIT
// concur/multiprocessing/process.hpp — Process, current_process, parent_process,
// active_children, cpu_count, process_cpu_count: multiprocessing.Process and friends.
//
//     void worker(std::string name, int n) { ... }           // runs in the child
//     mp::Process p(worker, std::string("Process-1"), 5);
//     p.start();
//     p.join();
//     assert(p.exitcode() == 0);
//
// What runs in the child. The target is a plain function or a capture-less lambda, and its
// arguments are values that serialize.hpp can encode, or IPC objects — Queue, JoinableQueue,
// SimpleQueue, Lock, RLock, Semaphore, Event, Condition, Barrier, Value, Array, SharedMemory,
// Connection — which the child receives as its own handle of the same object, taken by
// reference (`void worker(mp::Queue<int>& q, mp::Lock& lock)`; see reduction.hpp). They are
// encoded when the Process is made and decoded in the child, whatever the start method, so a
// program behaves the same under "fork" and "forkserver". `std::move(conn)` hands a
// Connection over: the caller's end is closed, and the parent's last copy of it is closed once
// start() has given it to the child. A stateful callable (a lambda with
// captures, a std::function, a functor with data) is refused at compile time: what it refers
// to lives in the parent's memory, which the child does not share. The child runs the target
// and then ends with _exit: no static destructors and no atexit handlers of the parent run in
// it (as Python's os._exit after a forked target). An exception escaping the target is
// printed to stderr ("Process NAME: TYPE: MESSAGE") and the exit code is 1; a target that
// calls std::exit(n) or _exit(n) ends with n; a signal ends it with exitcode -signum.
//
// Start methods (context.hpp): "fork" (the default, as on Linux before Python 3.14) forks the
// calling process; "forkserver" asks the fork server — a single-threaded fork of this
// program, started once — to fork the child. See context.hpp and docs/multiprocessing.md.
// A forkserver child's exit status comes from a reporter process of its own, so it stays
// true if the fork server dies (Python's reads 255 then); only if someone kills that
// reporter is the status lost, and exitcode() reads 255 once the child ended.
//
// Lifetime: Process is a copyable handle to one child (copies refer to the same process, as
// Python references do). A started child that is never joined is reaped by active_children()
// and at exit; at exit, as in Python, daemonic children still running are terminated and
// non-daemonic ones are joined.
//
// Thread safety: every member may be called from any thread; join() from several threads at
// once is allowed. start() itself is a fork: with "fork", a parent that runs other threads
// gets a child in which only the calling thread exists (use "forkserver" there).
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/reduction.hpp>
#include <concur/multiprocessing/serialize.hpp>
#include <concur/timeout.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur::multiprocessing {

namespace detail {

/// A function that can cross a process boundary: a plain function (pointer) or a capture-less
/// lambda / empty functor that the child can default-construct.
template <class F>
concept PlainCallable = (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>) ||
                        (std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F> &&
                         std::is_trivially_copyable_v<F>);

/// The type a value argument crosses as: string literals and char pointers become std::string.
template <class T>
using wire_type_t = std::conditional_t<std::is_same_v<std::decay_t<T>, const char*> || std::is_same_v<std::decay_t<T>, char*>,
                                       std::string, std::decay_t<T>>;

/// How make_target holds a value argument while encoding it: by const reference, except char
/// pointers, which become std::string.
template <class T>
using arg_ref_t = std::conditional_t<std::is_same_v<wire_type_t<T>, std::decay_t<T>>, const std::decay_t<T>&, std::string>;

/// Whether an argument is an IPC object that crosses as a handle (reduction.hpp).
template <class A>
inline constexpr bool is_handle_arg_v = Reducible<std::remove_cvref_t<A>>;

/// What an argument occupies in the child's decoded tuple (`slot`: a rebuilt handle, or a
/// value) and what the parent encodes for it (`encoder`: a handle by reduction, a value by
/// reference).
template <class A, bool Handle = is_handle_arg_v<A>>
struct ArgKind {
  using slot = wire_type_t<A>;
  using encoder = arg_ref_t<A>;
};
template <class A>
struct ArgKind<A, true> {
  using slot = Rebuilt<std::remove_cvref_t<A>>;
  using encoder = ReducedRef<std::remove_cvref_t<A>>;
};
template <class A>
using slot_t = typename ArgKind<A>::slot;
template <class A>
using encoder_t = typename ArgKind<A>::encoder;

/// Whether make_target takes the argument over: a movable handle passed as an rvalue
/// (`std::move(conn)`), which is closed in the parent once the child has its copy.
template <class A>
inline constexpr bool takes_over_v = !std::is_reference_v<A> && !std::is_const_v<A> && is_handle_arg_v<A> &&
                                     std::is_move_constructible_v<A>;

/// An argument while make_target encodes it: the taken-over handle, or a reference.
template <class A, bool Take = takes_over_v<A>>
struct HeldArg {
  const std::remove_reference_t<A>& object;
  explicit HeldArg(A&& a) : object(a) {}
};
template <class A>
struct HeldArg<A, true> {
  A object;
  explicit HeldArg(A&& a) : object(std::move(a)) {}
};

template <class A>
encoder_t<A> encoder_of(const HeldArg<A>& held) {
  if constexpr (is_handle_arg_v<A>) {
    return ReducedRef<std::remove_cvref_t<A>>{&held.object};
  } else {
    return encoder_t<A>(held.object);
  }
}

/// How the child passes a slot to the target: values as rvalues (moved from the decoded
/// tuple); handles as lvalues (form 1) or, for a movable handle the target takes by value or
/// by rvalue reference, as rvalues (form 2).
template <class S>
struct SlotTraits {
  static constexpr bool handle = false;
  static constexpr bool movable_handle = false;
  template <int Form>
  using passed = S&&;
};
template <Reducible H>
struct SlotTraits<Rebuilt<H>> {
  static constexpr bool handle = true;
  static constexpr bool movable_handle = std::is_move_constructible_v<H>;
  template <int Form>
  using passed = std::conditional_t<Form == 2, H&&, H&>;
};

/// Every handle as an lvalue: the usual case (`mp::Queue<int>&`, `const mp::Lock&`).
template <class F, class... S>
inline constexpr bool all_lvalues_v = std::is_invocable_v<F, typename SlotTraits<S>::template passed<1>...>;

/// The form of slot K: 1 (lvalue) unless it is a movable handle that the target does not take
/// as an lvalue while the other movable handles are rvalues; then 2 (rvalue).
template <class F, std::size_t K, class Tuple, class Seq>
struct FormOf;
template <class F, std::size_t K, class... S, std::size_t... I>
struct FormOf<F, K, std::tuple<S...>, std::index_sequence<I...>> {
  using SK = std::tuple_element_t<K, std::tuple<S...>>;
  static constexpr int value =
      (!SlotTraits<SK>::movable_handle || all_lvalues_v<F, S...> ||
       std::is_invocable_v<F, typename SlotTraits<S>::template passed<(I == K || !SlotTraits<S>::movable_handle) ? 1 : 2>...>)
          ? 1
          : 2;
};

/// Calls the target with the decoded slots, each in its form.
template <class F, class Tuple, class Seq = std::make_index_sequence<std::tuple_size_v<Tuple>>>
struct CallForms;
template <class F, class... S, std::size_t... I>
struct CallForms<F, std::tuple<S...>, std::index_sequence<I...>> {
  using Seq = std::index_sequence<I...>;
  static constexpr int forms[sizeof...(S) + 1] = {FormOf<F, I, std::tuple<S...>, Seq>::value..., 0};
  static constexpr bool invocable = std::is_invocable_v<F, typename SlotTraits<S>::template passed<forms[I]>...>;

  static void call(F fn, std::tuple<S...>& slots) { std::invoke(fn, pass<forms[I]>(std::get<I>(slots))...); }

 private:
  template <int Form, class Slot>
  static decltype(auto) pass(Slot& slot) {
    if constexpr (!SlotTraits<Slot>::handle) {
      return std::move(slot);
    } else if constexpr (Form == 2) {
      return std::move(*slot.object);
    } else {
      return (*slot.object);
    }
  }
};

template <class F>
std::uintptr_t function_word(F fn) noexcept {
  if constexpr (std::is_pointer_v<F>) {
    return reinterpret_cast<std::uintptr_t>(fn);
  } else {
    return 0;
  }
}
template <class F>
F callable_from_word(std::uintptr_t word) noexcept {
  if constexpr (std::is_pointer_v<F>) {
    return reinterpret_cast<F>(word);
  } else {
    return F{};
  }
}

/// What a child runs: decodes the arguments from `args` and calls the target.
using ProcessEntry = void (*)(std::uintptr_t fn, Payload& args);

/// How long the decoded arguments live: until the target returns, or (a Pool's initializer)
/// until the process ends, so that the initializer may keep pointers to the handles.
enum class ArgsLifetime { call, process };

template <class F, class Tuple, ArgsLifetime Lifetime>
void process_entry(std::uintptr_t fn, Payload& args) {
  if constexpr (Lifetime == ArgsLifetime::call) {
    Tuple values = deserialize<Tuple>(args);
    CallForms<F, Tuple>::call(callable_from_word<F>(fn), values);
  } else {
    // Never freed: the process ends with _exit, and what the initializer kept must stay valid.
    auto* values = new Tuple(deserialize<Tuple>(args));
    CallForms<F, Tuple>::call(callable_from_word<F>(fn), *values);
  }
}

/// The target of a Process, ready to cross the boundary.
struct ProcessTarget {
  ProcessEntry entry = nullptr;
  std::uintptr_t fn = 0;
  Payload args;
};

template <class>
inline constexpr bool dependent_false_v = false;

template <ArgsLifetime Lifetime = ArgsLifetime::call, class F, class... Args>
ProcessTarget make_target(F fn, Args&&... args) {
  using Tuple = std::tuple<slot_t<Args>...>;
  if constexpr (!PlainCallable<F>) {
    static_assert(dependent_false_v<F>,
                  "concur::multiprocessing: the target must be a plain function or a capture-less lambda. "
                  "A lambda with captures, a std::function or a functor with data refers to the parent's "
                  "memory, which a child process does not share: pass what it needs as arguments instead.");
    return {};
  } else if constexpr (!CallForms<F, Tuple>::invocable) {
    static_assert(dependent_false_v<F>,
                  "concur::multiprocessing: the target cannot be called with these arguments. The child "
                  "passes values as rvalues and IPC objects (Queue, Lock, Event, Value, Array, Connection, "
                  "...) as its own handle of the same object: take an IPC object by reference, "
                  "e.g. `void worker(mp::Queue<int>& q)` (see concur/multiprocessing/reduction.hpp).");
    return {};
  } else {
    // Encoded from references (a handle by reduce()), decoded as Tuple. A movable handle passed
    // as an rvalue is taken over here: the caller's object is left closed at once, and the
    // duplicate in the payload is closed when the Process is started (or destroyed).
    const std::tuple<HeldArg<Args>...> held(HeldArg<Args>(std::forward<Args>(args))...);
    return std::apply(
        [&](const HeldArg<Args>&... h) {
          const std::tuple<encoder_t<Args>...> refs(encoder_of<Args>(h)...);
          return ProcessTarget{&process_entry<F, Tuple, Lifetime>, function_word(fn), serialize_as<Tuple>(refs)};
        },
        held);
  }
}

struct ProcessData;

}  // namespace detail

/// Keyword arguments of Process (Python: name=, daemon=) plus the start method.
struct ProcessOptions {
  std::string name = {};                ///< default "Process-N"
  std::optional<bool> daemon = std::nullopt;  ///< default: inherited from the creating process
  std::string start_method = {};        ///< "fork", "forkserver"; empty: get_start_method()
};

/// A child process running a function, Python's multiprocessing.Process (see the file comment).
class CONCUR_API Process {
 public:
  /// A process that will run fn(args...) once started. See the header comment for what fn
  /// and args may be (checked at compile time).
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>)
  explicit Process(F fn, Args&&... args) : Process(ProcessOptions{}, fn, std::forward<Args>(args)...) {}
  template <class F, class... Args>
  /// As above, with a name, daemon flag or start method.
  Process(ProcessOptions options, F fn, Args&&... args)
      : Process(std::move(options), detail::make_target(fn, std::forward<Args>(args)...)) {}

  /// Starts the child. Throws RuntimeError when started twice, OSError when fork fails,
  /// ValueError for an unknown start method, ProcessError when the fork server does not
  /// answer within forkserver::set_start_timeout (context.hpp).
  void start();
  /// Waits until the child ends, or `timeout` elapsed (then check is_alive()), sleeping in
  /// poll(). Throws RuntimeError when not started or when a process joins itself.
  void join(std::optional<Timeout> timeout = std::nullopt);
  /// Whether the child has started and not yet ended.
  [[nodiscard]] bool is_alive() const;
  /// The exit code: nullopt while running or before start; -N when ended by signal N.
  [[nodiscard]] std::optional<int> exitcode() const;
  /// The child's pid; nullopt before start.
  [[nodiscard]] std::optional<int> pid() const;
  /// The same as pid(), as in Python.
  [[nodiscard]] std::optional<int> ident() const { return pid(); }
  /// Sends SIGTERM (no effect once it ended). Signals go through a pidfd: never to another
  /// process that reused the pid of a reaped child.
  void terminate();
  /// Sends SIGKILL (no effect once it ended), as terminate().
  void kill();
  /// A descriptor that becomes readable when the child ends (for poll/select on several).
  /// Throws ValueError before start.
  [[nodiscard]] int sentinel() const;
  /// Releases the resources of an ended process. ValueError while it runs.
  void close();

  /// The name given in ProcessOptions, or "Process-N" (Python: `name`).
  [[nodiscard]] std::string name() const;
  /// Renames the process (Python: `p.name = ...`).
  void set_name(std::string name);
  /// Whether the process is a daemon: terminated when its parent exits (Python: `daemon`).
  [[nodiscard]] bool daemon() const;
  /// RuntimeError after start.
  void set_daemon(bool daemon);

  /// Handles compare equal when they refer to the same process.
  bool operator==(const Process& other) const noexcept { return m_data == other.m_data; }

  /// Internal: a handle over existing data (current_process, active_children).
  explicit Process(std::shared_ptr<detail::ProcessData> data) noexcept : m_data(std::move(data)) {}
  /// Internal: the shared state.
  [[nodiscard]] const std::shared_ptr<detail::ProcessData>& data() const noexcept { return m_data; }

 private:
  Process(ProcessOptions options, detail::ProcessTarget target);

  std::shared_ptr<detail::ProcessData> m_data;  // never null
};

/// The Process object of the calling process ("MainProcess" in the parent).
CONCUR_API Process current_process();
/// The process that started this one; nullopt in the main process.
CONCUR_API std::optional<Process> parent_process();
/// The children of this process that are still alive (reaps those that ended, as Python).
CONCUR_API std::vector<Process> active_children();
/// Number of CPUs in the system (std::thread::hardware_concurrency, at least 1).
CONCUR_API std::size_t cpu_count();
/// Number of CPUs this process may run on: those in the calling thread's affinity mask
/// (sched_getaffinity, as Python 3.13's os.process_cpu_count()), at least 1. The default
/// number of workers of Pool and ProcessPoolExecutor; in a container limited to 2 CPUs of a
/// 64-CPU host (cpusets, taskset), it is 2 where cpu_count() is 64.
CONCUR_API std::size_t process_cpu_count();

}  // namespace concur::multiprocessing
