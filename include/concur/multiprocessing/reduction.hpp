// SPDX-License-Identifier: MIT
// concur/multiprocessing/reduction.hpp — how an IPC object reaches a child process as a handle
// to the same object (Python's multiprocessing.reduction, for Process and Pool arguments).
//
//     void worker(mp::Queue<int>& q, mp::Value<int>& counter, mp::Lock& lock) { ... }
//     mp::Queue<int> q;
//     mp::Value<int> counter(0);
//     mp::Lock lock;
//     mp::Process p(worker, q, counter, lock);   // the child works on the same q, counter, lock
//
// Python pickles a Queue, a Lock or a Connection handed to a Process as a *handle*: the child
// gets its own object that refers to the same pipe, semaphore or shared memory. concur does the
// same with a per-type *reduction*: a type is Reducible when it has
//
//     void reduce(detail::OutputArchive& ar) const;            // in the parent, at Process()
//     T(from_reduction_t, detail::InputArchive& ar);          // in the child, before the target
//
// reduce() turns the handle into a list of descriptors (ar.attach_fd(fd) duplicates one and
// records its index) plus bytes (ar(values...): sizes, flags, names); the tagged constructor
// takes the descriptors back (ar.take_fd(index)) and maps or wraps them. The descriptors travel
// as a Process argument's always do: a "fork" child inherits them, a "forkserver" child receives
// them from the parent over the fork server's socket (SCM_RIGHTS). So a handle works the same
// under both start methods, and whatever the start method the child's object is a new handle
// of the same shared thing, never a copy of the parent's object.
//
// Reducible in concur: Connection, Queue, JoinableQueue, SimpleQueue, Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition (with its lock), Barrier (without an action: see
// synchronize.hpp), Value, Array (with their lock) and SharedMemory (by name, as Python).
// A type of your own made of such handles opts in with the same two members.
//
// How the child receives it. The child decodes each Reducible argument into an object of its own
// and passes it to the target as an lvalue: the target takes `mp::Queue<int>&` (or a const
// reference). A movable handle (Connection, SharedMemory) may also be taken by value or as an
// rvalue reference: it is then moved into the parameter. Taking a non-movable one (Queue, Lock,
// Value, ...) by value is a compile-time error that says to take it by reference. The child's
// objects live until the target returns — for a Pool's initializer, until the worker ends, so
// the initializer may keep a pointer to them for the tasks (Python keeps them in a global).
//
// Moving. `mp::Process p(worker, std::move(conn))` moves a movable handle into the Process: the
// caller's object is left closed at once, and the parent's duplicate of its descriptor is closed
// by start() once the child has it — so when the child ends, the other end of the Pipe sees EOF
// (recv() raises EOFError). Passing an lvalue hands the child a handle and keeps the caller's
// open, as in Python. A non-movable handle passed with std::move is passed as a handle.
//
// Handles cross into a Process (as its arguments) and into Pool workers (as initializer
// arguments) only; they are not values a Connection, a Queue or a Pool task can carry (Python
// raises "... should only be shared between processes through inheritance" there).
//
// Thread safety: reduce() reads the handle: call it (construct the Process) while no other
// thread destroys the object.
#pragma once

#include <concepts>
#include <memory>
#include <type_traits>

namespace concur::multiprocessing {

namespace detail {
class OutputArchive;
class InputArchive;
}  // namespace detail

/// The tag of the constructor that rebuilds a handle in a child (see the file comment).
struct from_reduction_t {
  explicit from_reduction_t() = default;
};
/// The value of from_reduction_t.
inline constexpr from_reduction_t from_reduction{};

/// A type whose objects reach a child process as handles to the same object: it has
/// `void reduce(detail::OutputArchive&) const` and a constructor from
/// `(from_reduction_t, detail::InputArchive&)`.
template <class T>
concept Reducible = std::is_class_v<T> && std::is_constructible_v<T, from_reduction_t, detail::InputArchive&> &&
                    requires(const T& object, detail::OutputArchive& out) {
                      { object.reduce(out) } -> std::same_as<void>;
                    };

namespace detail {

/// The parent's side of a Reducible argument: encodes the object by reduce().
template <Reducible H>
struct ReducedRef {
  const H* object = nullptr;
  void save(OutputArchive& ar) const { object->reduce(ar); }
};

/// The child's side: the handle rebuilt from the same encoding (ReducedRef<H> and Rebuilt<H>
/// encode alike, so a tuple of the first decodes as a tuple of the second).
template <Reducible H>
struct Rebuilt {
  std::unique_ptr<H> object;  // null until loaded
  void save(OutputArchive& ar) const { object->reduce(ar); }
  void load(InputArchive& ar) { object = std::make_unique<H>(from_reduction, ar); }
};

}  // namespace detail
}  // namespace concur::multiprocessing
