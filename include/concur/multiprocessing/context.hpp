// SPDX-License-Identifier: MIT
// concur/multiprocessing/context.hpp — start methods: set_start_method, get_start_method,
// get_all_start_methods, get_context, and the fork server.
//
// Two start methods, with Python's names:
//
//   "fork"        start() forks the calling process. Fast (close to a raw fork + waitpid).
//                 Only the calling thread exists in the child: if the parent runs other
//                 threads (a thread pool, an asyncio loop's executor), a lock one of them
//                 held at that instant stays locked forever in the child. The default, as
//                 on Linux up to Python 3.13.
//   "forkserver"  start() asks the fork server to fork the child. The server is a
//                 single-threaded process, itself a fork of this program made once — at the
//                 first need, or explicitly by forkserver::ensure_running() at the top of
//                 main, before any thread exists (recommended: then it is a copy of a
//                 single-threaded program by construction). Since the server is a fork of the
//                 same binary, function pointers stay valid in its children, and arguments
//                 cross as serialized values with their descriptors passed over a Unix
//                 socket. Safe from a parent that runs threads. The server keeps no
//                 descriptor of the parent but its control socket; it ends when the parent's
//                 end of that socket closes (parent exit or crash), terminating daemonic
//                 children it started. Each child has a small reporter process of its own
//                 (a fork of the server) that waits for it and reports its exit status, so
//                 children outlive a server that dies (killed, out of memory) and still
//                 report their true exit code; the next start() starts a new server. A
//                 server that does not answer within forkserver::set_start_timeout (20 s by
//                 default: stopped by SIGSTOP, wedged) is killed and start() raises
//                 ProcessError, where Python's start() would block forever.
//
// "spawn" (a fresh interpreter) has no C++ counterpart: a fresh program would have to be told
// which function to run by name, and C++ has no such registry. It is refused with ValueError.
//
// A Context is a value naming a start method, with the same API as the module:
// `mp::get_context("forkserver").Process(fn, args...)`, `.Pool({...})`.
//
// Thread safety: all functions are thread-safe. set_start_method is meant for the top of main.
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/connection.hpp>
#include <concur/multiprocessing/pool.hpp>
#include <concur/multiprocessing/process.hpp>
#include <concur/timeout.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur::multiprocessing {

/// Sets the default start method, once (Python's rule): RuntimeError("context has already
/// been set") if it was set before, unless `force`. ValueError for an unknown method.
CONCUR_API void set_start_method(std::string_view method, bool force = false);
/// The default start method. Python fixes it on the first call; so does concur. With
/// `allow_none`, returns "" instead when it was never set or used.
CONCUR_API std::string get_start_method(bool allow_none = false);
/// {"fork", "forkserver"}; the default first.
CONCUR_API std::vector<std::string> get_all_start_methods();

/// A start method bound to an object, Python's multiprocessing.get_context(method): its Process
/// and Pool use that method whatever set_start_method() says.
class CONCUR_API Context {
 public:
  /// ValueError for an unknown method.
  explicit Context(std::string method);
  /// The start method of this context ("fork" or "forkserver").
  [[nodiscard]] const std::string& get_start_method() const noexcept { return m_method; }

  /// A Process started with this context's method.
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>)
  concur::multiprocessing::Process Process(F fn, Args&&... args) const {
    return concur::multiprocessing::Process(ProcessOptions{.start_method = m_method}, fn, std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  /// As above, with options; their start_method is replaced by this context's.
  concur::multiprocessing::Process Process(ProcessOptions options, F fn, Args&&... args) const {
    options.start_method = m_method;
    return concur::multiprocessing::Process(std::move(options), fn, std::forward<Args>(args)...);
  }
  /// A Pool whose workers are started with this context's method.
  concur::multiprocessing::Pool Pool(PoolOptions options = {}) const {
    options.start_method = m_method;
    return concur::multiprocessing::Pool(std::move(options));
  }
  /// As the module's Pipe().
  std::pair<Connection, Connection> Pipe(bool duplex = true) const { return concur::multiprocessing::Pipe(duplex); }

 private:
  std::string m_method;  // "fork" or "forkserver"
};

/// The context of `method`, or of the default start method when nullopt. ValueError for an
/// unknown method.
CONCUR_API Context get_context(std::optional<std::string_view> method = std::nullopt);

namespace forkserver {
/// Starts the fork server if it is not running (Python: multiprocessing.forkserver
/// .ensure_running). Call it at the top of main, before any thread exists. OSError on failure.
CONCUR_API void ensure_running();
/// How long start() waits for the fork server to fork a child before it gives up (default
/// 20 s; a healthy server answers in well under a millisecond, a loaded machine may need
/// more). On expiry the server is killed, start() raises ProcessError, and the next start()
/// starts a new server. Also the time a server gets to end at exit before it is killed.
/// ValueError unless positive. Not in Python, whose start() waits forever.
CONCUR_API void set_start_timeout(Timeout timeout);
}  // namespace forkserver

namespace detail {
/// Internal (tests): the running fork server's pid; 0 when none runs.
CONCUR_API int forkserver_pid();
}  // namespace detail

}  // namespace concur::multiprocessing
