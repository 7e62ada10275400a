// SPDX-License-Identifier: MIT
// concur/errors.hpp — every exception type of every concur module, in one place.
//
// The names mirror Python's exceptions so a Python programmer can guess them: what Python
// raises as RuntimeError, concur throws as concur::RuntimeError, and so on. Each type derives
// from the standard exception that is closest in meaning, so generic handlers keep working:
//
//   Python                               concur                                  derives from
//   RuntimeError                         RuntimeError                            std::runtime_error
//   ValueError                           ValueError                              std::invalid_argument
//   IndexError                           IndexError                              std::out_of_range
//   TimeoutError                         TimeoutError                            std::runtime_error
//   EOFError                             EOFError                                std::runtime_error
//   OSError, its Connection* family,     OSError, ConnectionError, ...           std::system_error
//   FileExistsError, FileNotFoundError
//   threading.BrokenBarrierError         BrokenBarrierError                      RuntimeError
//   asyncio/futures InvalidStateError    InvalidStateError                       RuntimeError
//   asyncio/futures CancelledError       CancelledError                          BaseException (!)
//   ExceptionGroup                       ExceptionGroup                          std::exception
//   queue.Empty / Full / ShutDown        queue::Empty / Full / ShutDown          std::runtime_error
//   futures BrokenExecutor (+ Thread/Process pool variants)                      RuntimeError
//   multiprocessing ProcessError, AuthenticationError, BufferTooShort, RemoteError
//   pickle.UnpicklingError              multiprocessing::SerializationError     ValueError
//   asyncio QueueEmpty / QueueFull / QueueShutDown, IncompleteReadError, LimitOverrunError
//
// Cancellation is deliberately *not* a std::exception. In Python, CancelledError is a
// BaseException so that `except Exception:` cannot swallow it by accident; here
// `catch (const std::exception&)` cannot swallow it either. Catch it by name
// (`catch (const concur::CancelledError&)`) or as `concur::BaseException`, and rethrow it
// unless you really mean to stop the cancellation.
//
// OS failures are std::system_error (or a Python-named subclass) carrying the errno as a
// std::error_code in std::generic_category().
#pragma once

#include <cerrno>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "concur/export.hpp"

namespace concur {

/// Root of the exceptions that must not be caught by `catch (const std::exception&)`,
/// as Python's BaseException is not caught by `except Exception`. Only CancelledError is one.
class CONCUR_API BaseException {
 public:
  /// An exception whose what() is `message`.
  explicit BaseException(std::string message) : m_message(std::move(message)) {}
  virtual ~BaseException() = default;
  /// The message given at construction (may be empty).
  [[nodiscard]] virtual const char* what() const noexcept { return m_message.c_str(); }

 private:
  std::string m_message;
};

/// A task, future or coroutine was cancelled. Thrown by `result()` of a cancelled future and
/// at the await point of a cancelled asyncio task. Not a std::exception (see above).
class CONCUR_API CancelledError : public BaseException {
 public:
  /// Python's `CancelledError(msg)`: the message given to cancel(), if any.
  explicit CancelledError(std::string message = {}) : BaseException(std::move(message)) {}
};

/// Python's RuntimeError: an operation that the object's state does not allow.
class CONCUR_API RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python's ValueError: an argument of the right type with a wrong value.
class CONCUR_API ValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A sequence index out of range (multiprocessing.Array, ...).
class CONCUR_API IndexError : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

/// Python's TimeoutError: a wait with a timeout ran out of time (Future::result, wait_for, ...).
class CONCUR_API TimeoutError : public std::runtime_error {
 public:
  /// A timeout, "timed out" unless a message says more.
  explicit TimeoutError(const std::string& message = "timed out") : std::runtime_error(message) {}
};

/// Python's EOFError: the other end closed before the data asked for arrived.
class CONCUR_API EOFError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An operation on a future or task that its state does not allow (e.g. result() before done).
class CONCUR_API InvalidStateError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

/// threading.Barrier (and the asyncio/multiprocessing barriers) was aborted, reset or timed out.
class CONCUR_API BrokenBarrierError : public RuntimeError {
 public:
  /// A broken barrier, "barrier is broken" unless a message says more.
  explicit BrokenBarrierError(const std::string& message = "barrier is broken") : RuntimeError(message) {}
};

/// Several exceptions raised together (asyncio.TaskGroup). `exceptions()` holds them in the
/// order they happened.
class CONCUR_API ExceptionGroup : public std::exception {
 public:
  /// A group of `exceptions` (in the order they happened) with a summary `message`.
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
      : m_message(std::move(message)), m_exceptions(std::move(exceptions)) {}
  /// The summary message.
  [[nodiscard]] const char* what() const noexcept override { return m_message.c_str(); }
  /// The exceptions of the group, in the order they happened.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept { return m_exceptions; }

 private:
  std::string m_message;
  std::vector<std::exception_ptr> m_exceptions;
};

// ---- OSError and its Python-named family ---------------------------------------------------

/// An operating-system failure, carrying the errno.
///   OSError(errno, "what")   what() is "what: <the errno's message>" (just the errno's message
///                            when `what` is empty)
///   OSError("message")       as Python's OSError("message"): no errno (errno_value() is 0 and
///                            code() the empty error_code, where Python's errno is None);
///                            what() is the message alone
class CONCUR_API OSError : public std::system_error {
 public:
  /// The failure `err` (an errno value) of the operation `what`.
  explicit OSError(int err, const std::string& what = {})
      : std::system_error(what.empty() ? std::system_error(err, std::generic_category())
                                       : std::system_error(err, std::generic_category(), what)) {}
  /// Python's OSError("message"): no errno; what() is the message alone.
  explicit OSError(const std::string& message) : std::system_error(std::error_code(), message), m_message(message) {}
  /// As OSError(std::string).
  explicit OSError(const char* message) : OSError(std::string(message)) {}
  /// The errno value (Python: `e.errno`).
  [[nodiscard]] int errno_value() const noexcept { return code().value(); }
  /// The message: "what: <the errno's message>", or OSError("message")'s message alone.
  [[nodiscard]] const char* what() const noexcept override {
    return m_message ? m_message->what() : std::system_error::what();
  }

 private:
  // Only for OSError("message"): std::system_error would append the empty code's "Success".
  // A std::runtime_error keeps copies of the exception nothrow.
  std::optional<std::runtime_error> m_message;
};
/// Python's ConnectionError: the base of the connection failures below.
class CONCUR_API ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
/// The peer reset the connection (ECONNRESET).
class CONCUR_API ConnectionResetError : public ConnectionError {
 public:
  /// ECONNRESET during `what`.
  explicit ConnectionResetError(const std::string& what = {}) : ConnectionError(ECONNRESET, what) {}
};
/// Nothing listens at the address connected to (ECONNREFUSED).
class CONCUR_API ConnectionRefusedError : public ConnectionError {
 public:
  /// ECONNREFUSED during `what`.
  explicit ConnectionRefusedError(const std::string& what = {}) : ConnectionError(ECONNREFUSED, what) {}
};
/// The connection was aborted on this side (ECONNABORTED).
class CONCUR_API ConnectionAbortedError : public ConnectionError {
 public:
  /// ECONNABORTED during `what`.
  explicit ConnectionAbortedError(const std::string& what = {}) : ConnectionError(ECONNABORTED, what) {}
};
/// Writing to a connection or pipe whose reading end is closed (EPIPE).
class CONCUR_API BrokenPipeError : public ConnectionError {
 public:
  /// EPIPE during `what`.
  explicit BrokenPipeError(const std::string& what = {}) : ConnectionError(EPIPE, what) {}
};
/// A file (or named shared-memory segment) that must not exist already does (EEXIST).
class CONCUR_API FileExistsError : public OSError {
 public:
  /// EEXIST during `what`.
  explicit FileExistsError(const std::string& what = {}) : OSError(EEXIST, what) {}
};
/// A file (or named shared-memory segment) that must exist does not (ENOENT).
class CONCUR_API FileNotFoundError : public OSError {
 public:
  /// ENOENT during `what`.
  explicit FileNotFoundError(const std::string& what = {}) : OSError(ENOENT, what) {}
};

/// Throws the most specific Python-named OSError for `err` (ConnectionResetError for
/// ECONNRESET, ...; TimeoutError-like errno ETIMEDOUT stays an OSError with that code).
[[noreturn]] CONCUR_API void throw_os_error(int err, const std::string& what = {});

// ---- queue ------------------------------------------------------------------------------

namespace queue {
/// get_nowait() on an empty queue, or get(timeout) that timed out.
class CONCUR_API Empty : public std::runtime_error {
 public:
  Empty() : std::runtime_error("queue is empty") {}
};
/// put_nowait() on a full queue, or put(timeout) that timed out.
class CONCUR_API Full : public std::runtime_error {
 public:
  Full() : std::runtime_error("queue is full") {}
};
/// put() or get() on a queue that was shut down (Python 3.13).
class CONCUR_API ShutDown : public std::runtime_error {
 public:
  ShutDown() : std::runtime_error("queue is shut down") {}
};
}  // namespace queue

// ---- futures ----------------------------------------------------------------------------

namespace futures {
using concur::CancelledError;
using concur::InvalidStateError;
using concur::TimeoutError;
/// The executor can no longer run work (a worker failed to start or died).
class CONCUR_API BrokenExecutor : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};
/// A ThreadPoolExecutor can no longer run work (Python: concurrent.futures.thread.BrokenThreadPool).
class CONCUR_API BrokenThreadPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};
/// A ProcessPoolExecutor can no longer run work (Python: concurrent.futures.process.BrokenProcessPool).
class CONCUR_API BrokenProcessPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};
}  // namespace futures

// ---- multiprocessing --------------------------------------------------------------------

/// A child process failed: it crashed, was killed, or could not be started. The message names
/// the pid, the signal or exit code, and the task it held.
class CONCUR_API ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace multiprocessing {
using concur::ProcessError;
/// Python's multiprocessing.AuthenticationError, for code that names it: concur's connections
/// do not authenticate, so concur itself never throws it.
class CONCUR_API AuthenticationError : public ProcessError {
 public:
  using ProcessError::ProcessError;
};
/// Connection::recv_bytes_into() was given a buffer too small for the message (Python's
/// multiprocessing.BufferTooShort).
class CONCUR_API BufferTooShort : public ProcessError {
 public:
  using ProcessError::ProcessError;
};
/// A message that cannot be decoded: truncated, corrupt, or holding another type than the one
/// asked for (Python: pickle.UnpicklingError).
class CONCUR_API SerializationError : public ValueError {
 public:
  using ValueError::ValueError;
};
/// An exception thrown in a worker process whose type the parent does not know how to
/// rebuild. Carries the remote exception's type name and message.
class CONCUR_API RemoteError : public ProcessError {
 public:
  /// The remote exception of type `type_name` with `message`; what() is "type_name: message".
  RemoteError(std::string type_name, std::string message)
      : ProcessError(type_name + ": " + message), m_type_name(std::move(type_name)), m_message(std::move(message)) {}
  /// The remote exception's type name, as exception_type_name() gave it in the worker.
  [[nodiscard]] const std::string& type_name() const noexcept { return m_type_name; }
  /// The remote exception's message.
  [[nodiscard]] const std::string& message() const noexcept { return m_message; }

 private:
  std::string m_type_name;
  std::string m_message;
};
}  // namespace multiprocessing

// ---- asyncio ----------------------------------------------------------------------------

namespace asyncio {
using concur::CancelledError;
using concur::InvalidStateError;
using concur::TimeoutError;
/// asyncio.QueueEmpty: get_nowait() on an empty asyncio queue.
class CONCUR_API QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("asyncio queue is empty") {}
};
/// asyncio.QueueFull: put_nowait() on a full asyncio queue.
class CONCUR_API QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("asyncio queue is full") {}
};
/// asyncio.QueueShutDown: put() or get() on an asyncio queue that was shut down.
class CONCUR_API QueueShutDown : public std::runtime_error {
 public:
  QueueShutDown() : std::runtime_error("asyncio queue is shut down") {}
};
/// readexactly()/readuntil() reached EOF first; `partial()` holds the bytes read before it.
class CONCUR_API IncompleteReadError : public EOFError {
 public:
  /// EOF after `partial` when `expected` bytes were asked for (0: unknown).
  IncompleteReadError(std::string partial, std::size_t expected)
      : EOFError(std::to_string(partial.size()) + " bytes read on a total of " +
                 (expected == 0 ? std::string("undefined") : std::to_string(expected)) + " expected bytes"),
        m_partial(std::move(partial)), m_expected(expected) {}
  /// The bytes read before EOF.
  [[nodiscard]] const std::string& partial() const noexcept { return m_partial; }
  /// Bytes that were expected; 0 when unknown (readuntil).
  [[nodiscard]] std::size_t expected() const noexcept { return m_expected; }

 private:
  std::string m_partial;
  std::size_t m_expected;
};
/// readline()/readuntil() found no separator within the limit. The data stays in the buffer;
/// `consumed()` is how many bytes would have to be consumed to make progress.
class CONCUR_API LimitOverrunError : public std::runtime_error {
 public:
  /// No separator within the limit; `consumed` as consumed() returns it.
  LimitOverrunError(const std::string& message, std::size_t consumed)
      : std::runtime_error(message), m_consumed(consumed) {}
  /// How many bytes must be consumed (read) before the separator can be found.
  [[nodiscard]] std::size_t consumed() const noexcept { return m_consumed; }

 private:
  std::size_t m_consumed;
};
}  // namespace asyncio

// ---- helpers ----------------------------------------------------------------------------

/// The demangled dynamic type name of the exception held by `e` ("std::out_of_range",
/// "concur::CancelledError", ...), or "unknown exception" for a non-class exception.
[[nodiscard]] CONCUR_API std::string exception_type_name(const std::exception_ptr& e);
/// The exception's message (`what()`), or "" when it has none.
[[nodiscard]] CONCUR_API std::string exception_message(const std::exception_ptr& e);

}  // namespace concur
