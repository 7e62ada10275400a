// SPDX-License-Identifier: MIT
// Tests of concur/asyncio/subprocess.hpp: pipes both ways, exit codes and signals, DEVNULL,
// errors, and no child left behind (the leak check counts children).
#include "concur/asyncio/subprocess.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using asyncio::Task;

namespace {

class Subprocess : public asyncio::testing_support::AsyncioTest {};

TEST_F(Subprocess, ReadsAChildsOutputAndItsExitCode) {
  asyncio::run([]() -> Task<void> {
    // (Initializer lists are built outside the co_await expression: GCC 12 cannot keep their
    // arrays in a coroutine frame.)
    std::vector<std::string> args{"hello", "world"};
    asyncio::Process p = co_await asyncio::create_subprocess_exec("echo", args, {.stdout_ = asyncio::PIPE});
    EXPECT_GT(p.pid(), 0);
    EXPECT_FALSE(p.stdin_.has_value());
    const std::string line = co_await p.stdout_->readline();
    EXPECT_EQ(line, "hello world\n");
    const int code = co_await p.wait();
    EXPECT_EQ(code, 0);
    EXPECT_EQ(p.returncode(), 0);
  }());
}

TEST_F(Subprocess, CommunicateSendsInputAndCollectsBothOutputs) {
  asyncio::run([]() -> Task<void> {
    asyncio::Process p = co_await asyncio::create_subprocess_shell(
        "cat; echo to-stderr >&2; exit 3",
        {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::PIPE});
    auto [out, err] = co_await p.communicate("line one\nline two\n");
    EXPECT_EQ(out, "line one\nline two\n");
    EXPECT_EQ(err, "to-stderr\n");
    EXPECT_EQ(p.returncode(), 3);
  }());
}

TEST_F(Subprocess, AMegabyteGoesThroughCatBothWaysWithoutDeadlock) {
  asyncio::run([]() -> Task<void> {
    std::string input;
    for (int i = 0; input.size() < (1 << 20); ++i) input += std::to_string(i) + "\n";
    asyncio::Process p = co_await asyncio::create_subprocess_exec("cat", {}, {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE});
    auto [out, err] = co_await p.communicate(input);
    EXPECT_EQ(out.size(), input.size());
    EXPECT_TRUE(out == input);
    EXPECT_EQ(err, "");
    EXPECT_EQ(p.returncode(), 0);
  }());
}

TEST_F(Subprocess, KillAndTerminateGiveMinusTheSignal) {
  asyncio::run([]() -> Task<void> {
    const std::vector<std::string> args{"30"};
    asyncio::Process a = co_await asyncio::create_subprocess_exec("sleep", args);
    asyncio::Process b = co_await asyncio::create_subprocess_exec("sleep", args);
    EXPECT_FALSE(a.returncode().has_value());
    a.kill();
    b.terminate();
    const int code_a = co_await a.wait();
    const int code_b = co_await b.wait();
    EXPECT_EQ(code_a, -SIGKILL);
    EXPECT_EQ(code_b, -SIGTERM);
    a.send_signal(SIGTERM);  // after the exit: nothing happens
  }());
}

TEST_F(Subprocess, DevnullGivesEmptyInputAndSwallowsOutput) {
  asyncio::run([]() -> Task<void> {
    asyncio::Process p = co_await asyncio::create_subprocess_shell(
        "wc -c; echo discarded >&2", {.stdin_ = asyncio::DEVNULL, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::DEVNULL});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "0\n");
    EXPECT_EQ(err, "");
    EXPECT_EQ(p.returncode(), 0);
  }());
}

TEST_F(Subprocess, EnvironmentAndWorkingDirectoryAreApplied) {
  asyncio::run([]() -> Task<void> {
    // Options with strings are built outside the co_await expression (GCC 12 destroys such
    // temporaries of a co_await expression twice).
    const asyncio::SubprocessOptions options{
        .stdout_ = asyncio::PIPE,
        .cwd = "/tmp",
        .env = std::map<std::string, std::string>{{"GREETING", "hi"}, {"PATH", "/usr/bin:/bin"}}};
    asyncio::Process p = co_await asyncio::create_subprocess_shell("echo \"$GREETING\"; pwd", options);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "hi\n/tmp\n");
  }());
}

TEST_F(Subprocess, AMissingProgramRaisesFileNotFoundError) {
  asyncio::run([]() -> Task<void> {
    EXPECT_THROW(co_await asyncio::create_subprocess_exec("/no/such/program"), concur::FileNotFoundError);
    try {
      co_await asyncio::create_subprocess_exec("/no/such/program");
    } catch (const concur::FileNotFoundError& e) {  // the reason once, not twice
      EXPECT_STREQ(e.what(), "cannot run '/no/such/program': No such file or directory");
    }
    asyncio::Process p = co_await asyncio::create_subprocess_exec("true");
    EXPECT_THROW(co_await p.communicate("input"), concur::ValueError);
    co_await p.wait();
  }());
}

TEST_F(Subprocess, AChildWhoseProcessHandleIsDroppedIsKilledAndReaped) {
  asyncio::run([]() -> Task<void> {
    int pid = 0;
    {
      const std::vector<std::string> args{"30"};
      asyncio::Process p = co_await asyncio::create_subprocess_exec("sleep", args);
      pid = p.pid();
    }
    EXPECT_GT(pid, 0);
    // The leak check of the test main fails the test if the child is still there.
    co_return;
  }());
}

TEST_F(Subprocess, StderrToStdoutDeliversBothStreamsThroughTheStdoutPipe) {
  asyncio::run([]() -> Task<void> {
    asyncio::Process p = co_await asyncio::create_subprocess_shell(
        "echo to-stdout; echo to-stderr >&2; echo again-stdout", {.stdout_ = asyncio::PIPE, .stderr_ = asyncio::STDOUT});
    EXPECT_TRUE(p.stdout_.has_value());
    EXPECT_FALSE(p.stderr_.has_value());
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "to-stdout\nto-stderr\nagain-stdout\n");  // one pipe: in the order written
    EXPECT_EQ(err, "");
    EXPECT_EQ(p.returncode(), 0);
  }());
}

TEST_F(Subprocess, StderrToStdoutFollowsStdoutToDevnull) {
  asyncio::run([]() -> Task<void> {
    asyncio::Process p = co_await asyncio::create_subprocess_shell(
        "echo out; echo err >&2; exit 4", {.stdout_ = asyncio::DEVNULL, .stderr_ = asyncio::STDOUT});
    EXPECT_FALSE(p.stdout_.has_value());
    EXPECT_FALSE(p.stderr_.has_value());
    EXPECT_EQ(co_await p.wait(), 4);
  }());
}

TEST_F(Subprocess, StdoutForStdinOrStdoutIsAValueError) {
  asyncio::run([]() -> Task<void> {
    EXPECT_THROW(co_await asyncio::create_subprocess_exec("true", {}, {.stdin_ = asyncio::STDOUT}), concur::ValueError);
    EXPECT_THROW(co_await asyncio::create_subprocess_exec("true", {}, {.stdout_ = asyncio::STDOUT}), concur::ValueError);
    EXPECT_THROW(co_await asyncio::create_subprocess_shell("true", {.stdout_ = asyncio::STDOUT, .stderr_ = asyncio::STDOUT}),
                 concur::ValueError);
  }());
}

TEST_F(Subprocess, AProcessThatOutlivesItsLoopHasItsChildKilledAndReapedAndItsPipesClosed) {
  asyncio::Process p;
  asyncio::run([&]() -> Task<void> {
    const std::vector<std::string> args{"30"};
    p = co_await asyncio::create_subprocess_exec("sleep", args, {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE});
    EXPECT_FALSE(p.returncode().has_value());
  }());
  // The leak check of the test main fails the test if the child is still there.
  EXPECT_EQ(p.returncode(), -SIGKILL);
  EXPECT_TRUE(p.stdin_->is_closing());
  EXPECT_TRUE(p.stdout_->at_eof());
  EXPECT_THROW(p.stdin_->write("late"), concur::RuntimeError);
  p.kill();  // exited: nothing to do
}

}  // namespace
