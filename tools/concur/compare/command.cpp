// SPDX-License-Identifier: MIT
// tools/concur/compare/command.cpp — the `concur compare` subcommand: options, progress on
// stderr, Ctrl-C, and the choice of output.
//
//   concur compare                 the full run (under 3 minutes on 2 cores), a terminal table
//   concur compare --quick         smaller sizes and fewer repetitions (under 30 s)
//   concur compare --markdown      the same table in Markdown
//   concur compare --json          the figures as JSON (tools/concur/compare/schema.json)
//   concur compare --plot F.svg    also draws the charts (SVG or PNG) with gnuplot
//   concur compare --python PATH   measures Python with that interpreter (default: python3 in PATH)
//   concur compare --no-python     measures C++ alone
//
// Ctrl-C stops after the repetition under way (every one is bounded), prints what was measured
// so far, marked as partial, and exits with status 130; a second Ctrl-C kills at once.
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/App.hpp>
#include <CLI/TypeTools.hpp>
#include <CLI/Validators.hpp>
#include <fmt/core.h>

#include "../command.hpp"
#include "compare.hpp"

namespace concur::tool {

namespace {

// Set by the SIGINT handler; read by the measurements between repetitions.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler stores to it");

extern "C" void on_sigint(int) { g_stop.store(true); }

/// Installs on_sigint for SIGINT for its lifetime (one-shot: a second Ctrl-C has the default
/// effect) and restores the previous disposition afterwards.
class SigintGuard {
 public:
  SigintGuard() {
    g_stop.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    ::sigaction(SIGINT, &sa, &m_previous);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  ~SigintGuard() { ::sigaction(SIGINT, &m_previous, nullptr); }

 private:
  struct sigaction m_previous {};
};

struct CompareOptions {
  bool quick = false;
  bool markdown = false;
  bool json = false;
  bool quiet = false;
  std::string plot;
  double budget_mib = 1024;
  int repetitions = 0;
  std::string python;
  bool no_python = false;
};

/// `name` if it contains a slash, else the first executable `name` in PATH; "" if none.
std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string{};
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

/// Progress on stderr: a bar redrawn in place on a terminal, one line per step otherwise.
void show_progress(std::size_t step, std::size_t steps, std::string_view what) {
  constexpr std::size_t kBar = 24;
  const std::size_t filled = steps == 0 ? 0 : step * kBar / steps;
  const std::string bar = std::string(filled, '#') + std::string(kBar - filled, '.');
  if (::isatty(STDERR_FILENO) != 0) {
    fmt::print(stderr, "\r\033[K[{}] {:>2}/{} {}", bar, step + 1, steps, what);
  } else {
    fmt::print(stderr, "[{}] {:>2}/{} {}\n", bar, step + 1, steps, what);
  }
  std::fflush(stderr);
}

int run_compare(const CompareOptions& options) {
  if (options.markdown && options.json) {
    fmt::print(stderr, "concur compare: --markdown and --json cannot be used together\n");
    return 2;
  }
  if (options.no_python && !options.python.empty()) {
    fmt::print(stderr, "concur compare: --python and --no-python cannot be used together\n");
    return 2;
  }
  compare::Settings settings = compare::Settings::make(options.quick);
  settings.memory_budget = static_cast<std::uint64_t>(options.budget_mib * 1024 * 1024);
  if (options.repetitions > 0) settings.repetitions = options.repetitions;
  if (!options.no_python) {
    const std::string wanted = options.python.empty() ? "python3" : options.python;
    settings.python = find_in_path(wanted);
    if (settings.python.empty()) {
      if (!options.python.empty()) {
        fmt::print(stderr, "concur compare: --python {}: no such executable\n", options.python);
        return 2;
      }
      fmt::print(stderr, "concur compare: no python3 in PATH: measuring C++ alone (--python PATH names one)\n");
    }
  }

  compare::Results results;
  {
    SigintGuard guard;
    compare::ProgressFn progress;
    if (!options.quiet) progress = show_progress;
    results = compare::run_all(settings, g_stop, progress);
  }
  if (!options.quiet && ::isatty(STDERR_FILENO) != 0) fmt::print(stderr, "\r\033[K");
  if (!results.complete) fmt::print(stderr, "concur compare: interrupted; these are the figures measured so far\n");

  if (options.json) {
    fmt::print("{}", compare::render_json(results));
  } else if (options.markdown) {
    fmt::print("{}", compare::render_markdown(results));
  } else {
    // The terminal's width when stdout is one (the figure tables need 80 columns), else 100.
    std::size_t columns = 100;
    winsize ws{};
    if (::isatty(STDOUT_FILENO) != 0 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) columns = ws.ws_col;
    fmt::print("{}", compare::render_terminal(results, columns));
  }
  std::fflush(stdout);
  if (!options.plot.empty()) {
    compare::write_plot(results, options.plot);
    fmt::print(stderr, "concur compare: charts written to {}\n", options.plot);
  }
  if (!results.complete) return 130;
  return results.notes.empty() ? 0 : 1;
}

}  // namespace

Command add_compare_command(CLI::App& parent) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* app = parent.add_subcommand(
      "compare",
      "Measure threads, processes and asyncio tasks on this machine, in C++ and in Python: the classic "
      "threads / processes / asyncio comparison, with figures");
  app->add_flag("--quick", options->quick, "Smaller sizes and fewer repetitions (under 30 s on 2 cores)");
  app->add_flag("--markdown", options->markdown, "Print the table as Markdown");
  app->add_flag("--json", options->json, "Print the figures as JSON (schema: docs/compare.md)");
  app->add_option("--python", options->python, "Python interpreter to measure beside C++ (default: python3 in PATH)")
      ->type_name("PATH");
  app->add_flag("--no-python", options->no_python, "Measure C++ alone");
  app->add_option("--plot", options->plot, "Also write charts to FILE (.svg or .png), drawn by gnuplot")
      ->type_name("FILE")
      ->check([](const std::string& file) -> std::string {
        const std::string_view f(file);
        if (f.size() > 4 && (f.ends_with(".svg") || f.ends_with(".png"))) return {};
        return "the file name must end in .svg or .png";
      });
  // Plain checks with messages of our own: CLI11's validators print their ranges into --help
  // ("MIB:FLOAT in [1 - 1.04858e+06]").
  app->add_option("--budget", options->budget_mib, "Memory budget in MiB for 'how many units fit' (1 to 1048576; default 1024)")
      ->type_name("MIB")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(text, v) || !(v >= 1 && v <= 1048576)) return "must be a number of MiB from 1 to 1048576";
            return {};
          },
          "", "budget"));
  app->add_option("--repetitions", options->repetitions, "Runs per figure, whose median is reported (1 to 50; default 5, --quick 3)")
      ->type_name("N")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            int v = 0;
            if (!CLI::detail::lexical_cast(text, v) || v < 1 || v > 50) return "must be a whole number from 1 to 50";
            return {};
          },
          "", "repetitions"));
  app->add_flag("--quiet", options->quiet, "No progress on stderr");
  return Command{app, [options] { return run_compare(*options); }};
}

}  // namespace concur::tool
