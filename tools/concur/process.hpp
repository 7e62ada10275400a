// SPDX-License-Identifier: MIT
// tools/concur/process.hpp — finding the example programs and running one as a child process.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace concur::tool {

/// The directories where example programs are looked for, in order: the directory of the
/// running `concur` executable (found through /proc/self/exe: a build tree's bin/, where the
/// examples land beside it), then `../libexec/concur` relative to it (an installed tree).
/// Throws std::filesystem::filesystem_error if /proc/self/exe cannot be read.
[[nodiscard]] std::vector<std::filesystem::path> example_dirs();

/// The first regular, executable file called `name` in `dirs`, or nullopt.
[[nodiscard]] std::optional<std::filesystem::path> find_program(std::string_view name,
                                                               const std::vector<std::filesystem::path>& dirs);

/// How a child process ended.
struct ChildStatus {
  int exit_code = 0;          ///< its exit status when it exited normally
  int signal = 0;             ///< the signal that killed it, or 0
  bool interrupted = false;   ///< the user pressed Ctrl-C (SIGINT reached us) while it ran

  [[nodiscard]] bool ok() const noexcept { return signal == 0 && exit_code == 0; }
  /// "exit status 3", "killed by signal 9 (Killed)", ...
  [[nodiscard]] std::string describe() const;
};

/// Runs `program` with `args` as a child process sharing our stdout, stderr and process group,
/// and waits for it. Our own buffered output is flushed first so that the two interleave in
/// order. While the child runs, SIGINT does not kill `concur`: the terminal delivers Ctrl-C to
/// the child as well, which handles it (or dies of it), and the returned status says it
/// happened so the caller can stop. Throws std::system_error if the child cannot be started.
[[nodiscard]] ChildStatus run_program(const std::filesystem::path& program, const std::vector<std::string>& args);

}  // namespace concur::tool
