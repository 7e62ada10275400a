// SPDX-License-Identifier: MIT
#include "process.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <system_error>

extern char** environ;

namespace concur::tool {

namespace {

// Set by the SIGINT handler while a child runs; read after the child ended.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void note_interrupt(int /*signo*/) { g_interrupted = 1; }

// Installs note_interrupt for SIGINT for the lifetime of the object, unless SIGINT was ignored
// when we started (e.g. `concur tour &` from a script): then it stays ignored, as it will in
// the child.
class InterruptNoter {
 public:
  InterruptNoter() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = note_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: waitpid() returns EINTR and we simply wait again
    if (::sigaction(SIGINT, nullptr, &m_previous) == 0 && m_previous.sa_handler != SIG_IGN) {
      m_installed = ::sigaction(SIGINT, &action, nullptr) == 0;
    }
  }
  ~InterruptNoter() {
    if (m_installed) ::sigaction(SIGINT, &m_previous, nullptr);
  }
  InterruptNoter(const InterruptNoter&) = delete;
  InterruptNoter& operator=(const InterruptNoter&) = delete;

 private:
  struct sigaction m_previous {};
  bool m_installed = false;
};

}  // namespace

std::vector<std::filesystem::path> example_dirs() {
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::filesystem::path bin = self.parent_path();
  return {bin, (bin / ".." / "libexec" / "concur").lexically_normal()};
}

std::optional<std::filesystem::path> find_program(std::string_view name,
                                                  const std::vector<std::filesystem::path>& dirs) {
  for (const std::filesystem::path& dir : dirs) {
    const std::filesystem::path candidate = dir / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string ChildStatus::describe() const {
  if (signal != 0) {
    const char* what = ::strsignal(signal);
    return fmt::format("killed by signal {} ({})", signal, what != nullptr ? what : "unknown");
  }
  return fmt::format("exit status {}", exit_code);
}

ChildStatus run_program(const std::filesystem::path& program, const std::vector<std::string>& args) {
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(program.string());
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(storage.size() + 1);
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);

  InterruptNoter noter;  // before the spawn, so a Ctrl-C right after it is not lost
  ::pid_t pid = 0;
  // A caught signal's handler is reset to the default in the child by exec, so the child sees
  // SIGINT as an ordinary program would.
  if (const int err = ::posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ); err != 0) {
    throw std::system_error(err, std::generic_category(), fmt::format("cannot start {}", program.string()));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  ChildStatus result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.interrupted = g_interrupted != 0 || result.signal == SIGINT;
  return result;
}

}  // namespace concur::tool
