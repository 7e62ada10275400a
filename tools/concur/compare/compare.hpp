// SPDX-License-Identifier: MIT
// tools/concur/compare/compare.hpp — `concur compare`: the classic threads / processes / asyncio
// comparison, measured for C++ and for Python.
//
// The classic comparison of Python's threading, multiprocessing and asyncio is a table of words
// ("overhead: low / high / very low"). `concur compare` puts numbers in every cell, measured on
// the machine it runs on, in one run: with concur's own API (threading::Thread/Event/Lock,
// multiprocessing::Process/Pipe/Lock/Value, asyncio::run/create_task/Queue/Event/Lock), and with
// the same workload and method in Python 3 (python/compare_python.py, run once per figure right
// after the C++ measurement of the same figure):
//
//   start-up cost per unit       create + start + finish + join a unit that does nothing
//   memory per unit              resident memory a blocked unit adds (a process: its unshared
//                                memory), and how many such units fit in a memory budget
//   hand-off latency             half a ping-pong round trip (Event / Pipe / asyncio Queue)
//   I/O-bound scaling            N units each waiting on a timer, wall time against the serial sum
//   I/O-bound over sockets       N units each making request/response exchanges with an echo peer
//                                on 127.0.0.1, wall time against the serial sum
//   CPU-bound speedup            fixed work split over every core, against one serial run: pure
//                                arithmetic, and allocation-heavy work (512 KiB buffers), the
//                                latter with glibc's malloc defaults and after tune_malloc()
//   synchronization cost         an uncontended Lock; a counter incremented by competing units
//
// Every figure is the median of several repetitions; every measurement is bounded in count and
// time and stops by itself. docs/compare.md says how each one is made; schema.json is the JSON
// output's schema.
//
// Layout: measure_*.cpp measure one model each (measure_sockets.cpp and measure_alloc.cpp one
// row for every model), python_side.cpp runs the Python script, run.cpp runs the steps in order with progress
// on stderr and stops between steps on request (Ctrl-C), report.cpp renders the results, plot.cpp
// draws them with gnuplot, command.cpp is the CLI11 subcommand.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace concur::tool {

struct Command;

/// `concur compare [--quick] [--markdown | --json] [--plot FILE] [--budget MIB]
/// [--python PATH | --no-python]`.
Command add_compare_command(CLI::App& parent);

namespace compare {

/// The three models, in the classic table's column order.
enum class Model { threads, processes, asyncio };
inline constexpr Model kModels[] = {Model::threads, Model::processes, Model::asyncio};
/// The two languages measured: C++ (concur) and Python 3.
enum class Language { cpp, python };
/// "threads", "processes", "asyncio" (the JSON keys).
std::string_view model_key(Model model) noexcept;

/// How much to measure.
struct Settings {
  bool quick = false;                  ///< the --quick sizes (under 30 s on 2 cores)
  int repetitions = 5;                 ///< medians are taken over this many runs
  std::uint64_t memory_budget = 1ull << 30;  ///< bytes, for "units that fit"
  double io_wait = 0.05;               ///< seconds each I/O-bound unit waits
  std::vector<std::size_t> io_counts_threads;    ///< N values for threads
  std::vector<std::size_t> io_counts_processes;  ///< N values for processes (bounded: forks)
  std::vector<std::size_t> io_counts_asyncio;    ///< N values for asyncio tasks
  std::vector<std::size_t> socket_counts_threads;    ///< N values of the socket row, threads
  std::vector<std::size_t> socket_counts_processes;  ///< ... processes
  std::vector<std::size_t> socket_counts_asyncio;    ///< ... asyncio tasks
  double cpu_serial_seconds = 1.0;     ///< size of the CPU-bound work, as serial run time
  double alloc_serial_seconds = 0.5;   ///< size of the allocation-heavy work, as serial run time
  /// The Python interpreter to measure beside C++ ("" = C++ alone).
  std::string python;

  /// The default sizes, or the --quick ones.
  static Settings make(bool quick);
};

/// One point of the I/O-bound curve.
struct IoPoint {
  std::size_t units = 0;    ///< N: units waiting at once
  double wall = 0;          ///< seconds for all N, run concurrently (median)
  double serial_sum = 0;    ///< seconds N units take one after the other (N x one unit's median)
  [[nodiscard]] double speedup() const { return serial_sum / wall; }
};

/// The CPU-bound run of one model.
struct CpuRun {
  std::size_t workers = 0;  ///< units the work was split over
  double wall = 0;          ///< seconds (median)
  double serial = 0;        ///< seconds for the same work in one thread (median)
  double work = 0;          ///< units of work done (iterations, or tasks), for rates
  [[nodiscard]] double speedup() const { return serial / wall; }
  /// Units of work per second of wall time.
  [[nodiscard]] double rate() const { return work / wall; }
};

/// What was measured for one model; an empty optional was not measured (interrupted, or failed:
/// see Results::notes).
struct ModelResults {
  std::optional<double> startup;              ///< seconds per unit
  std::optional<double> memory_per_unit;      ///< bytes
  std::optional<double> units_in_budget;      ///< Settings::memory_budget / memory_per_unit
  std::optional<double> handoff;              ///< seconds, one direction
  std::vector<IoPoint> io;                    ///< by increasing N (timers)
  std::vector<IoPoint> sockets;               ///< by increasing N (echo exchanges over TCP)
  std::optional<CpuRun> cpu;
  std::optional<CpuRun> alloc;                ///< allocation-heavy work, malloc's defaults
  std::optional<CpuRun> alloc_tuned;          ///< the same after tune_malloc() (C++ only)
  std::optional<double> lock_uncontended;     ///< seconds per acquire + release
  std::optional<double> counter_contended;    ///< seconds per increment, units competing
  std::size_t counter_units = 0;              ///< how many units competed for the counter
};

/// The Python interpreter measured beside C++.
struct PythonInfo {
  std::string executable;  ///< as given or found in PATH
  std::string version;     ///< "3.11.2"
};

/// Everything `concur compare` reports.
struct Results {
  Settings settings;
  std::size_t cpus = 0;          ///< cores the CPU-bound runs used
  std::string system;            ///< "Linux 6.1.0 x86_64"
  std::string compiler;          ///< "g++ 12.2.0"
  double load_average = -1;      ///< one-minute load average when the run began; -1: unknown
  bool complete = false;         ///< every step ran (false: interrupted)
  double elapsed = 0;            ///< seconds the whole run took
  std::vector<std::string> notes;  ///< steps that failed, and why
  ModelResults models[3];        ///< C++, indexed by Model
  std::optional<PythonInfo> python;  ///< absent: Python was not measured (notes say why)
  ModelResults python_models[3];     ///< Python, indexed by Model

  [[nodiscard]] ModelResults& of(Model m, Language l = Language::cpp) {
    return (l == Language::cpp ? models : python_models)[static_cast<int>(m)];
  }
  [[nodiscard]] const ModelResults& of(Model m, Language l = Language::cpp) const {
    return (l == Language::cpp ? models : python_models)[static_cast<int>(m)];
  }
};

/// Reports progress: called before each step with its index (from 0), the number of steps and
/// what it measures.
using ProgressFn = std::function<void(std::size_t step, std::size_t steps, std::string_view what)>;

/// Runs every measurement in order. Between steps (and between repetitions) it checks `stop`;
/// once set, it returns what was measured so far with complete = false. A step that throws is
/// recorded in notes and the run goes on.
Results run_all(const Settings& settings, const std::atomic<bool>& stop, const ProgressFn& progress);

/// The figures, one block per model with C++ and Python side by side, as aligned text for a
/// terminal no wider than `columns` (at least 80).
std::string render_terminal(const Results& results, std::size_t columns = 100);
/// The same as a Markdown table, followed by the detail tables.
std::string render_markdown(const Results& results);
/// The results as JSON, following schema.json.
std::string render_json(const Results& results);

/// Writes the four charts (start-up, memory, I/O-bound scaling, CPU-bound speedup), C++ and
/// Python side by side, to `file`
/// through gnuplot: SVG when the name ends in .svg, PNG when it ends in .png. Throws
/// std::invalid_argument for another extension, std::runtime_error when gnuplot is missing or
/// fails.
void write_plot(const Results& results, const std::string& file);

/// The gnuplot script write_plot feeds to gnuplot (data inline), for `terminal` ("svg" or "png").
std::string gnuplot_script(const Results& results, std::string_view terminal, const std::string& file);

/// "1.23 µs", "45.6 ms", "2.00 s": a duration with three significant digits.
std::string format_seconds(double seconds);
/// "8.0 KiB", "1.5 MiB": a size with binary prefixes.
std::string format_bytes(double bytes);
/// "12,345": a count with thousands separators (rounded down).
std::string format_count(double count);

}  // namespace compare
}  // namespace concur::tool
