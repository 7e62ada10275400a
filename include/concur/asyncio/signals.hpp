// SPDX-License-Identifier: MIT
// concur/asyncio/signals.hpp — Unix signal handlers that run on the event loop
// (Python's loop.add_signal_handler / loop.remove_signal_handler).
//
//   asyncio::add_signal_handler(loop, SIGINT, [&] { server.close(); });
//   loop.add_signal_handler(SIGINT, [&] { server.close(); });      // the same, as in Python
//   ...
//   asyncio::remove_signal_handler(loop, SIGINT);
//
// The callback runs on the loop's thread, scheduled with call_soon after the signal arrives,
// never inside the signal handler itself, so it may do anything a callback may do. Several
// signals arriving before the loop runs the callback may be merged into one call (as in
// Python: signals are not queued).
//
// Thread safety: loop thread only. A signal is handled by one loop at a time in the process
// (libuv delivers it to every loop watching it; concur keeps one handler per loop and signal).
// Lifetime: a handler lasts until remove_signal_handler() or until its loop closes
// (EventLoop::close() removes the handlers still installed). Removing the last handler of a
// signal restores the disposition the process had before the first one was added.
// Both spellings do the same: EventLoop's add_signal_handler/remove_signal_handler methods
// (Python's) and these functions taking the loop. Differences from Python: removing a SIGINT handler restores the previous disposition instead of
// installing Python's KeyboardInterrupt handler.
#pragma once

#include <functional>

#include "concur/asyncio/events.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// Runs `callback` on `loop` whenever signal `sig` arrives; replaces a previous handler of
/// `sig` on this loop. ValueError for an invalid signal number; RuntimeError for a signal that
/// cannot be caught (SIGKILL, SIGSTOP) or if the loop is closed.
CONCUR_API void add_signal_handler(EventLoop& loop, int sig, std::function<void()> callback);

/// Removes the handler of `sig` on `loop`; returns false if there was none.
CONCUR_API bool remove_signal_handler(EventLoop& loop, int sig);

}  // namespace concur::asyncio
