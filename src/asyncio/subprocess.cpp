// SPDX-License-Identifier: MIT
// Child processes on the loop: uv_spawn, the exit callback, pipes as stream transports.
#include "concur/asyncio/subprocess.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cassert>
#include <csignal>

#include "concur/asyncio/tasks.hpp"
#include "loop_impl.hpp"
#include "net_uv.hpp"
#include "stream_transport.hpp"

namespace concur::asyncio {

namespace detail {

/// One child: its uv_process_t (kept until the child has exited and been reaped), its exit
/// status and the tasks waiting for it. Deleted when the handle is closed and no Process
/// refers to it, whichever comes last.
class ProcessState {
 public:
  explicit ProcessState(EventLoop& loop) noexcept : m_loop(&loop) { m_handle.data = this; }
  ProcessState(const ProcessState&) = delete;
  ProcessState& operator=(const ProcessState&) = delete;

  struct Deleter {
    void operator()(ProcessState* s) const noexcept { s->release_handles(); }
  };

  static void on_exit(uv_process_t* h, std::int64_t status, int term_signal) noexcept {
    auto* s = static_cast<ProcessState*>(h->data);
    s->m_returncode = term_signal != 0 ? -term_signal : static_cast<int>(status);
    s->m_waiters.fire_all();
    uv_close(reinterpret_cast<uv_handle_t*>(&s->m_handle), &on_close);
  }
  static void on_close(uv_handle_t* h) noexcept {
    auto* s = static_cast<ProcessState*>(h->data);
    LoopImpl::detach(*s->m_loop, s->m_loop_handle);
    s->m_closed = true;
    if (s->m_orphan) delete s;
  }
  /// The child was spawned: EventLoop::close() kills it if it still runs then.
  void attach() noexcept {
    m_spawned = true;
    m_loop->impl().attach(m_loop_handle);
  }
  void release_handles() noexcept {
    m_orphan = true;
    if (m_closed) {
      delete this;
    } else if (!m_returncode) {
      kill_and_reap();
    }
  }
  void send_signal(int sig) {
    if (m_returncode || m_closed) return;
    if (const int err = uv_process_kill(&m_handle, sig); err != 0 && err != UV_ESRCH) {
      throw_uv_error(err, fmt::format("kill({}, {})", m_handle.pid, sig));
    }
  }

  uv_process_t m_handle{};
  EventLoop* m_loop;                // only dereferenced while the handle is open
  LoopHandle m_loop_handle{&on_loop_close, this};  // linked from attach() to on_close
  std::optional<int> m_returncode;  // set by on_exit
  IoWaitList m_waiters;             // wait(): fired by on_exit
  bool m_spawned = false;           // uv_spawn succeeded (the handle then lives until on_exit)
  bool m_closed = false;            // the handle is closed (after on_exit, or a failed spawn)
  bool m_orphan = false;            // no Process refers to it any more

 private:
  ~ProcessState() { assert(m_waiters.empty()); }

  /// Nobody can wait for the child any more (the last Process went, or the loop closes): kill
  /// it (Python's subprocess transport kills its child when closed) and reap it now. Waiting
  /// for SIGCHLD on the loop is not enough: this runs as the loop closes too, when no iteration
  /// is left to deliver it. waitpid() after SIGKILL returns as soon as the kernel has torn the
  /// child down.
  void kill_and_reap() noexcept {
    uv_process_kill(&m_handle, SIGKILL);
    int status = 0;
    while (::waitpid(m_handle.pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_returncode = -SIGKILL;
    uv_close(reinterpret_cast<uv_handle_t*>(&m_handle), &on_close);  // leaves libuv's child list
  }
  /// EventLoop::close() with the child still running (a Process outlives the loop): the same
  /// as when the last Process goes; returncode() is then -SIGKILL.
  static void on_loop_close(LoopHandle* h) noexcept {
    auto* s = static_cast<ProcessState*>(h->m_owner);
    if (s->m_returncode) return;  // exited: on_exit closed the handle already
    s->kill_and_reap();
    s->m_waiters.fire_all();  // tasks the loop destroyed: not resumed (IoWait::fire)
  }
};

bool ExitAwaiter::await_ready() const noexcept { return m_state->m_returncode.has_value(); }

void ExitAwaiter::register_wait() {
  m_wait.m_source = m_state.get();
  m_state->m_waiters.push(&m_wait);
  m_wait.m_detach = [](IoWait* w) noexcept { static_cast<ProcessState*>(w->m_source)->m_waiters.remove(w); };
}

int ExitAwaiter::await_resume() {
  m_wait.resume();
  return *m_state->m_returncode;
}

namespace {

Task<void> feed_stdin(std::optional<StreamWriter> writer, std::optional<std::string> input) {
  if (!writer) co_return;
  if (input) {
    writer->write(*input);
    try {
      co_await writer->drain();
    } catch (const ConnectionError&) {
      // The child exited without reading it all (Python ignores BrokenPipe/ConnectionReset).
    }
  }
  writer->close();
}

Task<std::string> read_all(std::optional<StreamReader> reader) {
  if (!reader) co_return std::string();
  co_return co_await reader->read();
}

Task<std::pair<std::string, std::string>> communicate_impl(Process p, std::optional<std::string> input) {
  if (input && !p.stdin_) throw ValueError("communicate(input): stdin is not a PIPE");
  auto [fed, out, err] = co_await gather(feed_stdin(p.stdin_, std::move(input)), read_all(p.stdout_), read_all(p.stderr_));
  co_await p.wait();
  co_return std::pair{std::move(out), std::move(err)};
}

Task<Process> spawn(std::vector<std::string> argv, SubprocessOptions options) {
  EventLoop& loop = get_running_loop();
  if (argv.empty() || argv[0].empty()) throw ValueError("create_subprocess_exec() needs a program");
  if (options.stdin_ == Redirect::to_stdout) throw ValueError("STDOUT can only be used for stderr (stdin_ = STDOUT)");
  if (options.stdout_ == Redirect::to_stdout) throw ValueError("STDOUT can only be used for stderr (stdout_ = STDOUT)");
  const Redirect redirects[3] = {options.stdin_, options.stdout_, options.stderr_};
  std::shared_ptr<StreamTransport> pipes[3];
  uv_stdio_container_t stdio[3];
  int devnull = -1;
  int shared_out = -1;  // stdout = PIPE, stderr = STDOUT: the child's end of the one pipe
  struct CloseFd {
    int& fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_devnull{devnull}, close_shared_out{shared_out};
  for (int i = 0; i < 3; ++i) {
    if (i == 1 && redirects[1] == Redirect::pipe && redirects[2] == Redirect::to_stdout) {
      // libuv's UV_CREATE_PIPE makes the child's end itself, out of reach for fd 2; so the pipe
      // is made here and its write end given to the child as both fd 1 and fd 2 (it is
      // close-on-exec in the parent, and closed there once the child has it).
      uv_file fds[2] = {-1, -1};
      if (const int err = uv_pipe(fds, 0, 0); err != 0) throw_uv_error(err, "creating a pipe");
      shared_out = fds[1];
      int read_end = fds[0];
      const CloseFd close_read_end{read_end};
      pipes[1] = StreamTransport::create(loop, StreamTransport::Kind::pipe, options.limit);
      if (const int err = uv_pipe_open(pipes[1]->pipe(), read_end); err != 0) throw_uv_error(err, "opening a pipe");
      read_end = -1;  // the pipe handle owns it now
      stdio[1].flags = UV_INHERIT_FD;
      stdio[1].data.fd = shared_out;
      continue;
    }
    switch (redirects[i]) {
      case Redirect::to_stdout:  // stderr only (checked above): wherever stdout goes
        stdio[i] = stdio[1];
        break;
      case Redirect::inherit:
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
        break;
      case Redirect::devnull:
        if (devnull < 0 && (devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
          throw_uv_error(-errno, "opening /dev/null");
        }
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = devnull;
        break;
      case Redirect::pipe:
        pipes[i] = StreamTransport::create(loop, StreamTransport::Kind::pipe, options.limit);
        // The flags say what the child does with its end.
        stdio[i].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
        stdio[i].data.stream = pipes[i]->stream();
        break;
    }
  }
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> env;
  if (options.env) {
    for (const auto& [k, v] : *options.env) env_strings.push_back(k + "=" + v);
    for (std::string& e : env_strings) env.push_back(e.data());
    env.push_back(nullptr);
  }
  uv_process_options_t uv_options{};
  uv_options.exit_cb = &ProcessState::on_exit;
  uv_options.file = args[0];
  uv_options.args = args.data();
  uv_options.env = options.env ? env.data() : nullptr;
  uv_options.cwd = options.cwd ? options.cwd->c_str() : nullptr;
  uv_options.stdio_count = 3;
  uv_options.stdio = stdio;

  auto* raw = new ProcessState(loop);
  if (const int err = uv_spawn(uv_loop_of(loop), &raw->m_handle, &uv_options); err != 0) {
    // libuv initialised the handle: it must still be closed.
    raw->m_orphan = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->m_handle), &ProcessState::on_close);
    throw_uv_error(err, fmt::format("cannot run '{}'", argv[0]));
  }
  raw->attach();
  Process p(std::shared_ptr<ProcessState>(raw, ProcessState::Deleter{}));
  if (pipes[0]) p.stdin_ = StreamWriter(pipes[0]);
  for (int i = 1; i < 3; ++i) {
    if (!pipes[i]) continue;
    pipes[i]->on_connected();  // start reading the child's output
    (i == 1 ? p.stdout_ : p.stderr_) = StreamReader(pipes[i]);
  }
  co_return p;
}

}  // namespace
}  // namespace detail

Process::Process(std::shared_ptr<detail::ProcessState> s) noexcept : m_state(std::move(s)) {}

const std::shared_ptr<detail::ProcessState>& Process::state() const {
  if (!m_state) throw RuntimeError("empty Process (default-constructed or moved from)");
  return m_state;
}

int Process::pid() const { return state()->m_handle.pid; }
std::optional<int> Process::returncode() const { return state()->m_returncode; }
void Process::send_signal(int sig) { state()->send_signal(sig); }
void Process::terminate() { send_signal(SIGTERM); }
void Process::kill() { send_signal(SIGKILL); }

Task<std::pair<std::string, std::string>> Process::communicate(std::optional<std::string> input) {
  (void)state();  // RuntimeError now for an empty Process
  return detail::communicate_impl(*this, std::move(input));
}

Task<Process> create_subprocess_exec(std::string program, std::vector<std::string> args, SubprocessOptions options) {
  args.insert(args.begin(), std::move(program));
  return detail::spawn(std::move(args), std::move(options));
}

Task<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options) {
  return detail::spawn({"/bin/sh", "-c", std::move(cmd)}, std::move(options));
}

}  // namespace concur::asyncio
