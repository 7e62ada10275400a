// SPDX-License-Identifier: MIT
// concur/asyncio/cleanup.hpp — clean-up that awaits, on every path: try_finally and closing
// (Python's `try: ... finally: await ...` and `async with contextlib.aclosing(...)`).
//
// C++ forbids co_await inside a catch handler, so Python's
//
//     try:
//         await handle(reader, writer)
//     finally:
//         writer.close()
//         await writer.wait_closed()
//
// cannot be written with try/catch directly: the exception has to be caught into an
// exception_ptr, the clean-up awaited after the handler, and the exception rethrown. These
// helpers do exactly that:
//
//   co_await asyncio::closing(writer, handle(reader, writer));   // close + wait_closed, always
//   int n = co_await asyncio::try_finally(work(), [&]() -> asyncio::Task<> {
//     co_await release(resource);                                 // any awaitable clean-up
//   });
//
// Semantics are Python's try/finally: the body runs to its end (value, exception or
// CancelledError), then the clean-up runs and is awaited, then the body's value is returned or
// its exception rethrown — with its own type, CancelledError included, so a cancelled task
// still ends cancelled. An exception from the clean-up replaces the body's (as one raised in a
// `finally:` block does). The clean-up runs even when the task was cancelled: the cancellation
// was delivered as the body's CancelledError, so the clean-up's own awaits are not interrupted
// (a second cancel() does interrupt them, as in Python).
//
// Thread safety and lifetime: as for any coroutine; `closing` keeps a reference to the object
// it closes, which must outlive the awaited call.
#pragma once

#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/asyncio/task.hpp"

namespace concur::asyncio {

/// Awaits `body`, then — on every path — awaits `cleanup()` (a callable returning an awaitable,
/// e.g. a coroutine lambda), then returns the body's value or rethrows its exception. See the
/// file comment.
template <class T, std::invocable Cleanup>
[[nodiscard]] Task<T> try_finally(Task<T> body, Cleanup cleanup) {
  std::exception_ptr error;
  std::optional<detail::value_t<T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
    } else {
      value.emplace(co_await std::move(body));
    }
  } catch (...) {
    error = std::current_exception();  // CancelledError too: rethrown below, after the clean-up
  }
  co_await std::invoke(cleanup);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

/// Something with Python's close() and an awaitable wait_closed(): StreamWriter, Server.
template <class C>
concept async_closable = requires(C& c) {
  c.close();
  c.wait_closed();
};

/// Awaits `body`, then closes `thing` (close(), then co_await wait_closed()) on every path,
/// then returns the body's value or rethrows its exception: Python's
/// `try: await body finally: thing.close(); await thing.wait_closed()`.
template <async_closable C, class T>
[[nodiscard]] Task<T> closing(C& thing, Task<T> body) {
  return try_finally(std::move(body), [&thing]() -> Task<void> {
    thing.close();
    co_await thing.wait_closed();
  });
}

}  // namespace concur::asyncio
