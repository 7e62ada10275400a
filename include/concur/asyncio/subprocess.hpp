// SPDX-License-Identifier: MIT
// concur/asyncio/subprocess.hpp — child processes with pipes on the event loop
// (Python's asyncio.create_subprocess_exec / create_subprocess_shell and asyncio.subprocess.Process).
//
//   asyncio::Process p = co_await asyncio::create_subprocess_exec(
//       "sort", {"-r"}, {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE});
//   auto [out, err] = co_await p.communicate("b\na\n");   // out == "b\na\n"
//   int code = co_await p.wait();                         // 0
//
// Semantics are Python's: each standard stream is inherited (the default), a PIPE (a
// StreamWriter for stdin, a StreamReader for stdout/stderr, in stdin_ / stdout_ / stderr_), or
// DEVNULL; stderr may also be STDOUT (it then goes wherever stdout goes, into the same pipe). communicate(input) writes `input` and closes stdin while it reads stdout and stderr to
// their ends, then waits for the exit: no pipe can fill up and deadlock. returncode() is the exit
// status, or -N when signal N killed the child. send_signal / terminate (SIGTERM) / kill
// (SIGKILL) do nothing once the child has exited.
//
// No zombie: libuv reaps the child when it exits (its SIGCHLD watcher), while the loop runs.
// When the last Process handle goes and the child still runs, it is killed (SIGKILL) and reaped
// (Python's transport close does the same); so is every child of a task that asyncio::run
// cancels at shutdown.
//
// Thread safety: loop thread only. Lifetime: a Process and its pipes may outlive their loop:
// EventLoop::close() (the end of asyncio::run()) kills and reaps a child still running
// (returncode() is then -SIGKILL) and closes its pipes (writes to stdin_ raise RuntimeError).
// Differences from Python: stdin/stdout/stderr are macros in C, hence the trailing underscore;
// communicate() returns two strings, empty for a stream that is not a PIPE (Python: None).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "concur/asyncio/streams.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/asyncio/transports.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// Where a child's standard stream goes.
enum class Redirect : unsigned char {
  inherit,  ///< the parent's own stream (Python: None)
  pipe,     ///< a pipe to the parent (Python: asyncio.subprocess.PIPE)
  devnull,  ///< /dev/null (Python: asyncio.subprocess.DEVNULL)
  /// stderr only: the same place as stdout — with stdout_ = PIPE, both streams arrive through
  /// stdout_ and stderr_ is nullopt (Python: asyncio.subprocess.STDOUT). ValueError elsewhere.
  to_stdout,
};
inline constexpr Redirect PIPE = Redirect::pipe;
inline constexpr Redirect DEVNULL = Redirect::devnull;
inline constexpr Redirect STDOUT = Redirect::to_stdout;

/// Keyword arguments of create_subprocess_exec / create_subprocess_shell.
struct SubprocessOptions {
  /// The child's stdin: inherit, PIPE (written through Process::stdin_) or DEVNULL.
  /// ValueError for STDOUT.
  Redirect stdin_ = Redirect::inherit;
  /// The child's stdout: inherit, PIPE (read through Process::stdout_) or DEVNULL.
  /// ValueError for STDOUT.
  Redirect stdout_ = Redirect::inherit;
  /// The child's stderr: inherit, PIPE (read through Process::stderr_), DEVNULL, or STDOUT
  /// (wherever stdout goes).
  Redirect stderr_ = Redirect::inherit;
  std::optional<std::string> cwd = std::nullopt;                          ///< working directory
  std::optional<std::map<std::string, std::string>> env = std::nullopt;   ///< the whole environment
  std::size_t limit = default_stream_limit;                               ///< the pipes' reader limit
};

namespace detail {
class ProcessState;  // the uv_process_t and the exit waiters (src/asyncio/subprocess.cpp)

/// co_await on a process's exit.
class [[nodiscard]] CONCUR_API ExitAwaiter {
 public:
  explicit ExitAwaiter(std::shared_ptr<ProcessState> s) noexcept : m_state(std::move(s)) {}
  bool await_ready() const noexcept;
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    register_wait();
    m_wait.suspend(h);
  }
  int await_resume();

 private:
  void register_wait();
  std::shared_ptr<ProcessState> m_state;
  IoWait m_wait;
};
}  // namespace detail

/// A child process (Python's asyncio.subprocess.Process). A handle: copies share the child.
class CONCUR_API Process {
 public:
  Process() = default;
  /// A handle on the child `s` (internal: create_subprocess_exec() and
  /// create_subprocess_shell() make it, then set its pipes).
  explicit Process(std::shared_ptr<detail::ProcessState> s) noexcept;

  /// The writing end of the child's stdin when created with stdin_ = PIPE; else nullopt.
  std::optional<StreamWriter> stdin_;
  /// The reading end of the child's stdout when created with stdout_ = PIPE (with stderr_ =
  /// STDOUT, its stderr arrives here too); else nullopt.
  std::optional<StreamReader> stdout_;
  /// The reading end of the child's stderr when created with stderr_ = PIPE; else nullopt.
  std::optional<StreamReader> stderr_;

  /// The child's process id.
  [[nodiscard]] int pid() const;
  /// The exit status, -N if killed by signal N, or nullopt while it runs.
  [[nodiscard]] std::optional<int> returncode() const;
  /// Waits for the exit; returns returncode(). (With PIPEs, prefer communicate(): a child
  /// blocked on a full pipe never exits.)
  detail::ExitAwaiter wait() const { return detail::ExitAwaiter(state()); }
  /// Sends `input` to stdin (then closes it), reads stdout and stderr to EOF, waits for the
  /// exit; returns {stdout, stderr}. ValueError if `input` is given and stdin is not a PIPE.
  Task<std::pair<std::string, std::string>> communicate(std::optional<std::string> input = std::nullopt);
  /// Sends signal `sig` (nothing once the child has exited).
  void send_signal(int sig);
  /// SIGTERM.
  void terminate();
  /// SIGKILL.
  void kill();
  /// The process (internal).
  [[nodiscard]] const std::shared_ptr<detail::ProcessState>& state() const;

 private:
  std::shared_ptr<detail::ProcessState> m_state;
};

/// Starts `program` (searched in PATH) with `args`. FileNotFoundError if it does not exist,
/// PermissionError-like OSError if it cannot be run; ValueError for stdin_ or stdout_ = STDOUT.
CONCUR_API Task<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                     SubprocessOptions options = {});
/// Starts `/bin/sh -c cmd`.
CONCUR_API Task<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options = {});

}  // namespace concur::asyncio
