// SPDX-License-Identifier: MIT
// examples/cookbook/subprocesses.cpp — run several programs at once with
// asyncio::create_subprocess_exec: feed one its standard input, read their output, get their
// exit codes, kill one that overruns its timeout, and report one that does not exist.
// docs/cookbook/subprocesses.md shows it beside the Python original.
//
//   cookbook_subprocesses
//
// The children are sort, sh and sleep from the system (searched in PATH) and a program that
// does not exist. The program checks each outcome and that the overrunning child was killed
// and reaped; it exits with 1 otherwise.
#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <concur/asyncio.hpp>

namespace asyncio = concur::asyncio;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

struct Completed {  // Python's subprocess.CompletedProcess, the parts used here
  int returncode = 0;
  std::string stdout_;
};

Task<Completed> communicate(asyncio::Process& proc, std::optional<std::string> input) {
  auto [out, err] = co_await proc.communicate(std::move(input));
  co_return Completed{.returncode = *proc.returncode(), .stdout_ = std::move(out)};
}

/// Runs `program args...`, gives it `input`, returns its exit code and output. On timeout (or
/// cancellation, or any error) the child is killed and reaped before the exception goes on:
/// Python's `try: ... finally:` around communicate(), which C++ cannot write with co_await in
/// a catch handler; asyncio::try_finally does it.
Task<Completed> run(std::string program, std::vector<std::string> args, std::optional<std::string> input,
                    std::chrono::milliseconds timeout, std::vector<int>& killed) {
  asyncio::Process proc = co_await asyncio::create_subprocess_exec(
      std::move(program), std::move(args),
      {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::PIPE});
  co_return co_await asyncio::try_finally(asyncio::wait_for(communicate(proc, std::move(input)), timeout),
                                          [&proc, &killed]() -> Task<void> {
                                            if (!proc.returncode()) {  // still running: timed out
                                              proc.kill();
                                              killed.push_back(co_await proc.wait());
                                            }
                                          });
}

Task<int> main_task() {
  std::vector<int> killed;
  std::vector<Task<Completed>> runs;
  runs.push_back(run("sort", {}, "pear\napple\nfig\n", 5s, killed));
  runs.push_back(run("sh", {"-c", "echo partial; exit 3"}, std::nullopt, 5s, killed));
  runs.push_back(run("sleep", {"30"}, std::nullopt, 200ms, killed));
  runs.push_back(run("no-such-program-here", {}, std::nullopt, 5s, killed));
  const auto results = co_await asyncio::gather(asyncio::return_exceptions, std::move(runs));

  const char* names[] = {"sort", "sh -c 'echo partial; exit 3'", "sleep 30", "no-such-program-here"};
  std::vector<std::string> outcomes;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (const Completed* done = std::get_if<Completed>(&results[i])) {
      fmt::print("{}: exit code {}, output {:?}\n", names[i], done->returncode, done->stdout_);
      outcomes.push_back(fmt::format("{} {}", done->returncode, done->stdout_));
    } else {
      const std::exception_ptr& error = std::get<std::exception_ptr>(results[i]);
      fmt::print("{}: {}: {}\n", names[i], concur::exception_type_name(error), concur::exception_message(error));
      outcomes.push_back(concur::exception_type_name(error));
    }
  }
  fmt::print("killed after its timeout: {} child (exit code {})\n", killed.size(), killed.empty() ? 0 : killed.front());

  const bool as_expected =
      outcomes == std::vector<std::string>{"0 apple\nfig\npear\n", "3 partial\n", "concur::TimeoutError",
                                           "concur::FileNotFoundError"} &&
      killed == std::vector<int>{-SIGKILL};
  if (!as_expected) fmt::print("UNEXPECTED outcome\n");
  co_return as_expected ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return asyncio::run(main_task());
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_subprocesses: {}\n", e.what());
    return 1;
  }
}
