// SPDX-License-Identifier: MIT
// examples/common/speed.hpp — the pace of an example: `--speed N` and the timestamps it prints.
//
// Every example of concur reproduces a scenario whose point is *time*: threads that sleep at
// different intervals, a task that holds a lock for seconds. Run as they are, the classic guide's
// programs take 10 to 20 seconds each; the tour (`concur tour --fast`) and the smoke tests run
// them faster by dividing every delay by N:
//
//     int main(int argc, char** argv) {
//       const examples::Speed speed = examples::parse_speed(argc, argv);
//       speed.sleep(1s);                        // 1 s normally, 10 ms with --speed 100
//       fmt::print("{}: {}\n", name, examples::ctime_now());
//     }
//
// Command line: `--speed N` or `--speed=N` (N a positive, finite number; default 1) and `-h` /
// `--help`. An example may accept more numeric options (graceful_shutdown's `--run-for`) by
// passing them as `extra`. As Python's argparse does, a bad value or an unknown argument
// prints a clear message and exits with status 2; `--help` prints the usage and exits with 0.
//
// Thread safety: a Speed is an immutable value; share it freely. ctime_now() is thread-safe.
#pragma once

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace examples {

/// How fast an example runs: every delay is divided by factor().
class Speed {
 public:
  using Seconds = std::chrono::duration<double>;

  constexpr Speed() = default;
  /// A speed of `factor` (must be positive and finite; parse_speed() checks user input).
  constexpr explicit Speed(double factor) : m_factor(factor) {}

  /// The divisor applied to every delay (1 = the scenario's real pace).
  [[nodiscard]] constexpr double factor() const noexcept { return m_factor; }

  /// `delay` divided by the speed factor, in (fractional) seconds.
  [[nodiscard]] constexpr Seconds operator()(Seconds delay) const noexcept { return delay / m_factor; }

  /// Sleeps the calling thread for `delay` divided by the speed factor.
  void sleep(Seconds delay) const { std::this_thread::sleep_for((*this)(delay)); }

 private:
  double m_factor = 1.0;  // > 0 and finite
};

/// A numeric option an example accepts beside --speed, e.g.
/// `{"--run-for", "SECONDS", "stop by itself after SECONDS (divided by --speed)", &run_for}`.
/// `*value` keeps its default unless the option is given; it must be >= 0 and finite.
struct NumberOption {
  std::string_view flag;
  std::string_view metavar;
  std::string_view help;
  double* value;
};

namespace detail {

[[noreturn]] inline void usage_error(std::string_view program, const std::string& message) {
  fmt::print(stderr, "{}: error: {}\n(try '{} --help')\n", program, message, program);
  std::exit(2);
}

inline void print_usage(std::string_view program, std::initializer_list<NumberOption> extra) {
  fmt::print("usage: {} [--speed N]", program);
  for (const NumberOption& o : extra) fmt::print(" [{} {}]", o.flag, o.metavar);
  fmt::print("\n\noptions:\n");
  fmt::print("  {:<22}{}\n", "-h, --help", "show this help and exit");
  fmt::print("  {:<22}{}\n", "--speed N", "divide every delay by N (a positive number; default 1)");
  for (const NumberOption& o : extra) {
    fmt::print("  {:<22}{}\n", fmt::format("{} {}", o.flag, o.metavar), o.help);
  }
}

/// Stores the number spelled by `text` in `out` and returns true; returns false (leaving `out`
/// alone) unless the whole text is a finite number ("1e3", "0.5" yes; "", "2x", "nan", "inf" no).
inline bool parse_number(std::string_view text, double& out) {
  if (text.empty()) return false;
  double value = 0.0;
  const char* const end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return false;
  out = value;
  return true;
}

}  // namespace detail

/// Parses an example's command line: `--speed N` / `--speed=N`, `-h` / `--help`, and the
/// `extra` numeric options. Returns the speed (1 when not given). Exits with status 0 after
/// printing the usage for --help, and with status 2 after a clear message on stderr for a
/// missing, non-numeric, non-positive or non-finite value or an unknown argument.
inline Speed parse_speed(int argc, char** argv, std::initializer_list<NumberOption> extra = {}) {
  std::string_view program = argc > 0 && argv[0] != nullptr ? argv[0] : "example";
  if (const auto slash = program.rfind('/'); slash != std::string_view::npos) program.remove_prefix(slash + 1);

  double speed = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      detail::print_usage(program, extra);
      std::exit(0);
    }
    // Split "--flag=value"; otherwise the value is the next argument.
    std::string_view flag = arg;
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const NumberOption* option = nullptr;
    for (const NumberOption& o : extra) {
      if (flag == o.flag) option = &o;
    }
    if (flag != "--speed" && option == nullptr) {
      detail::usage_error(program, fmt::format("unrecognized argument '{}'", arg));
    }
    if (!has_value) {
      if (i + 1 >= argc) detail::usage_error(program, fmt::format("{} expects a number", flag));
      value = argv[++i];
    }
    double number = 0.0;
    if (!detail::parse_number(value, number)) {
      detail::usage_error(program, fmt::format("{} expects a finite number, not '{}'", flag, value));
    }
    if (option == nullptr) {
      if (number <= 0.0) {
        detail::usage_error(program, fmt::format("--speed must be greater than 0, not '{}'", value));
      }
      speed = number;
    } else {
      if (number < 0.0) detail::usage_error(program, fmt::format("{} must not be negative, not '{}'", flag, value));
      *option->value = number;
    }
  }
  return Speed(speed);
}

/// The current local time as Python's time.ctime() prints it, with milliseconds added so that
/// a sped-up run still shows the order of events: "Tue Nov 24 02:09:02.123 2026".
inline std::string ctime_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::tm local = fmt::localtime(seconds);
  return fmt::format("{:%a %b %e %H:%M:%S}.{:03} {:%Y}", local, millis, local);
}

}  // namespace examples
