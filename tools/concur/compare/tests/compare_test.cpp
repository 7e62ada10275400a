// SPDX-License-Identifier: MIT
// tools/concur/compare: rendering, JSON against schema.json, the plot script and the helpers,
// on results made up for the purpose (the measuring itself is tested end to end through the
// `concur compare` command: see CMakeLists.txt).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <concur/asyncio.hpp>

#include "compare.hpp"
#include "measure.hpp"

namespace cmp = concur::tool::compare;

namespace {

// libuv opens a process-wide pipe the first time a loop is created (the Python side runs as an
// asyncio subprocess) and keeps it until exit; one loop before any test keeps the leak check
// from counting it.
const bool g_libuv_warmed_up = [] {
  concur::asyncio::EventLoop loop;
  loop.close();
  return true;
}();

cmp::Results full_results() {
  cmp::Results r;
  r.settings = cmp::Settings::make(true);
  r.cpus = 2;
  r.system = "Linux 6.1.0 x86_64";
  r.compiler = "g++ 12.2.0";
  r.load_average = 0.5;
  r.complete = true;
  r.elapsed = 21.5;
  r.python = cmp::PythonInfo{"/usr/bin/python3", "3.11.2"};
  for (cmp::Language l : {cmp::Language::cpp, cmp::Language::python}) {
    // Python's figures are ten times C++'s (its CPU-bound runs, five times slower).
    double scale = l == cmp::Language::cpp ? 1 : 10;
    const double slow = l == cmp::Language::cpp ? 1 : 5;
    for (cmp::Model m : cmp::kModels) {
      cmp::ModelResults& mr = r.of(m, l);
      mr.startup = 20e-6 * scale;
      mr.memory_per_unit = 16384 * scale;
      mr.units_in_budget = static_cast<double>(r.settings.memory_budget) / *mr.memory_per_unit;
      mr.handoff = 5e-6 * scale;
      mr.io = {{10, 0.021, 0.2}, {100, 0.025, 2.0}};
      mr.sockets = {{10, 0.002, 0.01}, {100, 0.01, 0.1}};
      mr.cpu = cmp::CpuRun{2, 0.13 * scale, 0.25 * scale, 1e6 / slow};
      mr.alloc = cmp::CpuRun{2, 0.3, 0.5, 1000};
      if (l == cmp::Language::cpp && m != cmp::Model::asyncio) mr.alloc_tuned = cmp::CpuRun{2, 0.1, 0.18, 1000};
      mr.lock_uncontended = 15e-9 * scale;
      mr.counter_contended = 60e-9 * scale;
      mr.counter_units = 2;
      scale *= 2;
    }
  }
  return r;
}

/// Runs validate_json.py on `json` (with `flags`); returns its exit status.
int validate(const std::string& json, bool complete, const std::string& flags = "") {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("concur-compare-test-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(file);
    out << json;
  }
  const std::string command = std::string("python3 ") + CONCUR_COMPARE_VALIDATOR + " " + CONCUR_COMPARE_SCHEMA + " " +
                              file.string() + (complete ? " --complete" : "") + " " + flags + " > /dev/null";
  const int status = std::system(command.c_str());
  std::filesystem::remove(file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(CompareJson, a_complete_run_validates_against_the_schema) {
  EXPECT_EQ(validate(cmp::render_json(full_results()), true), 0);
}

TEST(CompareJson, an_interrupted_run_validates_but_is_not_complete) {
  cmp::Results r = full_results();
  r.complete = false;
  r.of(cmp::Model::asyncio) = {};
  r.of(cmp::Model::processes).cpu.reset();
  const std::string json = cmp::render_json(r);
  EXPECT_EQ(validate(json, false), 0);
  EXPECT_EQ(validate(json, true), 1);
}

TEST(CompareJson, a_non_finite_figure_is_rejected) {
  cmp::Results r = full_results();
  r.of(cmp::Model::threads).handoff = std::numeric_limits<double>::infinity();
  EXPECT_EQ(validate(cmp::render_json(r), false), 1);
}

TEST(CompareJson, a_zero_figure_is_rejected) {
  cmp::Results r = full_results();
  r.of(cmp::Model::processes).startup = 0.0;
  EXPECT_EQ(validate(cmp::render_json(r), false), 1);
}

TEST(CompareJson, concurrency_slower_than_the_serial_sum_fails_the_complete_check) {
  cmp::Results r = full_results();
  r.of(cmp::Model::threads).io.push_back({1000, 3.0, 2.0});
  const std::string json = cmp::render_json(r);
  EXPECT_EQ(validate(json, false), 0);
  EXPECT_EQ(validate(json, true), 1);
}

TEST(CompareJson, notes_are_escaped_and_make_the_run_incomplete_for_the_check) {
  cmp::Results r = full_results();
  r.notes.push_back("step \"x\": failed: a\\b\nc");
  const std::string json = cmp::render_json(r);
  EXPECT_NE(json.find(R"("step \"x\": failed: a\\b\nc")"), std::string::npos) << json;
  EXPECT_EQ(validate(json, false), 0);
  EXPECT_EQ(validate(json, true), 1);
}

TEST(CompareJson, the_python_section_is_there_only_when_python_was_measured) {
  cmp::Results r = full_results();
  EXPECT_EQ(validate(cmp::render_json(r), true, "--with-python"), 0);
  EXPECT_EQ(validate(cmp::render_json(r), true, "--without-python"), 1);
  r.python.reset();
  const std::string json = cmp::render_json(r);
  EXPECT_EQ(json.find("\"python\""), std::string::npos) << json;
  EXPECT_EQ(validate(json, true, "--without-python"), 0);
  EXPECT_EQ(validate(json, true, "--with-python"), 1);
}

TEST(CompareJson, a_missing_python_figure_fails_the_complete_check) {
  cmp::Results r = full_results();
  r.of(cmp::Model::threads, cmp::Language::python).alloc.reset();
  const std::string json = cmp::render_json(r);
  EXPECT_EQ(validate(json, false), 0);
  EXPECT_EQ(validate(json, true), 1);
}

TEST(CompareTerminal, each_model_shows_both_languages_and_how_python_compares) {
  const std::string out = cmp::render_terminal(full_results());
  for (const char* s : {"Threading (threads)", "Multiprocessing (processes)", "Asyncio (tasks)", "C++ (concur)", "Python 3.11.2",
                        "Python vs C++", "start-up per thread", "20.0 us", "200 us", "10x slower", "memory per process",
                        "10x more", "I/O on sockets, N=100: wall", "about equal", "CPU-bound: work done per second",
                        "50x lower",
                        "allocating: speedup, tune_malloc()", "The classic claims about Python:",
                        "GIL: Limited by Global Interpreter Lock", "Where C++ differs:",
                        "No GIL: C++ threads scale on CPU-bound work"}) {
    EXPECT_NE(out.find(s), std::string::npos) << "missing '" << s << "' in\n" << out;
  }
  EXPECT_EQ(out.find("INTERRUPTED"), std::string::npos);
  EXPECT_EQ(out.find("seed"), std::string::npos) << "the word means nothing to a reader";
}

TEST(CompareTerminal, without_python_there_is_one_column_of_figures) {
  cmp::Results r = full_results();
  r.python.reset();
  const std::string out = cmp::render_terminal(r);
  EXPECT_NE(out.find("C++ alone"), std::string::npos) << out;
  EXPECT_EQ(out.find("Python vs C++"), std::string::npos) << out;
}

TEST(CompareTerminal, missing_figures_show_a_dash_and_the_header_says_partial) {
  cmp::Results r = full_results();
  r.complete = false;
  r.of(cmp::Model::asyncio) = {};
  const std::string out = cmp::render_terminal(r);
  const std::size_t at = out.find("  start-up per task");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string line = out.substr(at, out.find('\n', at) - at);
  EXPECT_NE(line.find(" -"), std::string::npos) << line;
  EXPECT_NE(out.find("INTERRUPTED"), std::string::npos);
}

TEST(CompareTerminal, no_line_is_wider_than_the_terminal) {
  cmp::Results r = full_results();
  r.notes.push_back(std::string(150, 'n') + " and a long note that has to be wrapped at the width of the terminal, word by word");
  for (std::size_t columns : {80u, 100u, 120u}) {
    const std::string out = cmp::render_terminal(r, columns);
    std::size_t pos = 0;
    while (pos < out.size()) {
      const std::size_t nl = out.find('\n', pos);
      const std::string line = out.substr(pos, nl - pos);
      // A single word longer than the width cannot be broken; every other line fits.
      if (line.find(std::string(150, 'n')) == std::string::npos) {
        EXPECT_LE(line.size(), columns) << line;
      }
      pos = nl + 1;
    }
  }
}

TEST(CompareMarkdown, renders_the_classic_table_with_both_languages_and_details) {
  const std::string out = cmp::render_markdown(full_results());
  EXPECT_NE(out.find("| Aspect | Threading | Multiprocessing | Asyncio | Where C++ differs |"), std::string::npos) << out;
  EXPECT_NE(out.find("start-up per thread: C++ **20.0 us**, Python **200 us**"), std::string::npos) << out;
  EXPECT_NE(out.find("| figure | C++ (concur) | Python 3.11.2 | Python vs C++ |"), std::string::npos) << out;
  EXPECT_NE(out.find("| model | waits on | N | C++ wall | speedup | Python wall | speedup |"), std::string::npos) << out;
  EXPECT_NE(out.find("| threads | allocating, tuned |"), std::string::npos) << out;
}

TEST(ComparePlot, the_script_draws_four_charts_into_the_file) {
  const std::string s = cmp::gnuplot_script(full_results(), "svg", "out'put.svg");
  EXPECT_NE(s.find("set terminal svg"), std::string::npos);
  EXPECT_NE(s.find("set output 'out''put.svg'"), std::string::npos) << s;
  EXPECT_NE(s.find("set multiplot layout 2,2"), std::string::npos);
  for (const char* block : {"$startup << EOD", "$memory << EOD", "$io_cpp_threads << EOD", "$io_python_asyncio << EOD",
                            "$cpu << EOD", "title 'C++ (concur)'", "title 'Python 3.11.2'", "over TCP"}) {
    EXPECT_NE(s.find(block), std::string::npos) << block;
  }
  // The bars' value labels stay inside the plot area: on the log scales the y range reaches a
  // decade above the largest bar (memory: 16 KiB for C++ threads ... 640 KiB for Python tasks).
  EXPECT_NE(s.find("set yrange [5.333333333333333:6400]"), std::string::npos) << s;
}

TEST(ComparePlot, without_python_only_cpp_is_drawn) {
  cmp::Results r = full_results();
  r.python.reset();
  const std::string s = cmp::gnuplot_script(r, "svg", "x.svg");
  EXPECT_NE(s.find("title 'C++ (concur)'"), std::string::npos);
  EXPECT_EQ(s.find("Python"), std::string::npos) << s;
}

TEST(ComparePlot, missing_figures_become_a_not_measured_label) {
  cmp::Results r = full_results();
  for (cmp::Model m : cmp::kModels) {
    r.of(m) = {};
    r.of(m, cmp::Language::python) = {};
  }
  const std::string s = cmp::gnuplot_script(r, "png", "x.png");
  EXPECT_NE(s.find("set terminal pngcairo"), std::string::npos);
  EXPECT_NE(s.find("not measured"), std::string::npos);
  EXPECT_EQ(s.find("$io_cpp_threads"), std::string::npos);
}

TEST(ComparePlot, an_unknown_extension_is_refused_before_anything_runs) {
  EXPECT_THROW(cmp::write_plot(full_results(), "chart.pdf"), std::invalid_argument);
  EXPECT_THROW(cmp::write_plot(full_results(), "chart"), std::invalid_argument);
}

TEST(CompareFormat, durations_sizes_and_counts_read_naturally) {
  EXPECT_EQ(cmp::format_seconds(15e-9), "15.0 ns");
  EXPECT_EQ(cmp::format_seconds(2.5e-6), "2.50 us");
  EXPECT_EQ(cmp::format_seconds(0.125), "125 ms");
  EXPECT_EQ(cmp::format_seconds(3.0), "3.00 s");
  EXPECT_EQ(cmp::format_bytes(512), "512 B");
  EXPECT_EQ(cmp::format_bytes(16384), "16.0 KiB");
  EXPECT_EQ(cmp::format_bytes(1.5 * 1024 * 1024), "1.5 MiB");
  EXPECT_EQ(cmp::format_count(1234567.9), "1,234,567");
  EXPECT_EQ(cmp::format_count(999), "999");
}

TEST(CompareMeasure, the_median_is_the_middle_value) {
  namespace d = cmp::detail;
  EXPECT_EQ(d::median({3, 1, 2}), 2);
  EXPECT_EQ(d::median({4, 1, 3, 2}), 2.5);
  EXPECT_THROW(d::median({}), std::invalid_argument);
}

TEST(CompareMeasure, median_of_stops_repeating_once_asked_but_keeps_the_first_run) {
  std::atomic<bool> stop{true};
  int runs = 0;
  EXPECT_EQ(cmp::detail::median_of(5, stop, [&] { return static_cast<double>(++runs); }), 1);
  EXPECT_EQ(runs, 1);
}

TEST(CompareMeasure, the_cpu_work_depends_on_its_inputs_and_calibration_is_positive) {
  namespace d = cmp::detail;
  EXPECT_NE(d::cpu_work(1, 1000), d::cpu_work(2, 1000));
  EXPECT_NE(d::cpu_work(1, 1000), d::cpu_work(1, 1001));
  EXPECT_GT(d::calibrate_cpu_work(0.01), 0u);
}

TEST(CompareMeasure, memory_readings_are_positive) {
  EXPECT_GT(cmp::detail::resident_bytes(), 0u);
  EXPECT_GT(cmp::detail::private_bytes(::getpid()), 0u);
  EXPECT_THROW((void)cmp::detail::private_bytes(-1), std::runtime_error);
}

TEST(CompareSettings, quick_is_smaller_than_the_default_and_spans_ten_to_ten_thousand) {
  const cmp::Settings q = cmp::Settings::make(true);
  const cmp::Settings d = cmp::Settings::make(false);
  EXPECT_LT(q.repetitions, d.repetitions);
  EXPECT_LT(q.cpu_serial_seconds, d.cpu_serial_seconds);
  EXPECT_EQ(d.io_counts_asyncio.front(), 10u);
  EXPECT_EQ(d.io_counts_asyncio.back(), 10000u);
  EXPECT_EQ(d.io_counts_threads.back(), 10000u);
  EXPECT_EQ(d.socket_counts_asyncio.front(), 10u);
  EXPECT_EQ(d.socket_counts_asyncio.back(), 10000u);
  EXPECT_LT(q.socket_counts_asyncio.back(), d.socket_counts_asyncio.back());
  EXPECT_LT(q.alloc_serial_seconds, d.alloc_serial_seconds);
}

TEST(CompareRun, a_stop_requested_before_the_start_measures_nothing) {
  std::atomic<bool> stop{true};
  int calls = 0;
  const cmp::Results r = cmp::run_all(cmp::Settings::make(true), stop, [&](std::size_t, std::size_t, std::string_view) { ++calls; });
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(calls, 0);
  for (cmp::Model m : cmp::kModels) {
    EXPECT_FALSE(r.of(m).memory_per_unit.has_value());
    EXPECT_TRUE(r.of(m).io.empty());
  }
  EXPECT_GT(r.cpus, 0u);
}

TEST(CompareRun, a_stop_during_a_step_keeps_that_step_and_skips_the_rest) {
  std::atomic<bool> stop{false};
  std::vector<std::string> seen;
  cmp::Settings settings = cmp::Settings::make(true);
  settings.repetitions = 1;
  // Ctrl-C arriving while the first step (threads' memory) runs.
  const cmp::Results r = cmp::run_all(settings, stop, [&](std::size_t step, std::size_t steps, std::string_view what) {
    EXPECT_LT(step, steps);
    seen.emplace_back(what);
    stop = true;
  });
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "C++ threads: memory per unit");
  ASSERT_TRUE(r.of(cmp::Model::threads).memory_per_unit.has_value());
  EXPECT_GT(*r.of(cmp::Model::threads).memory_per_unit, 0);
  EXPECT_GT(*r.of(cmp::Model::threads).units_in_budget, 0);
  EXPECT_FALSE(r.of(cmp::Model::processes).memory_per_unit.has_value());
  EXPECT_FALSE(r.of(cmp::Model::threads).startup.has_value());
  EXPECT_TRUE(r.notes.empty());
  EXPECT_EQ(validate(cmp::render_json(r), false), 0);
}

TEST(CompareMarkdown, a_busy_machine_is_named) {
  cmp::Results r = full_results();
  EXPECT_EQ(cmp::render_markdown(r).find("the cores were busy"), std::string::npos);
  r.load_average = 3.0;
  const std::string out = cmp::render_markdown(r);
  EXPECT_NE(out.find("The load average (3.0) was at least the number of cores"), std::string::npos) << out;
  EXPECT_NE(out.find("load average 3.00 at start"), std::string::npos) << out;
  EXPECT_NE(cmp::render_terminal(r).find("the cores were busy"), std::string::npos);
}

TEST(CompareMeasure, the_allocating_work_is_done_and_calibrated) {
  namespace d = cmp::detail;
  EXPECT_EQ(d::alloc_work(3), 3u * d::kAllocBuffers);  // each buffer reads back the byte set in it
  EXPECT_GT(d::calibrate_alloc_work(0.01), 0u);
}

TEST(ComparePython, the_script_answers_with_json_and_rejects_an_unknown_step) {
  const std::string script = cmp::detail::python_script_path();
  ASSERT_FALSE(script.empty()) << "share/concur/compare_python.py is not beside the build's bin/";
  const cmp::detail::PythonSide py("python3");
  EXPECT_FALSE(py.info().version.empty());
  EXPECT_GT(cmp::detail::PythonSide::number(py.run("threads.lock", {"--quick", "--repetitions", "1"}, 60)), 0);
  const std::string point = py.run("asyncio.io", {"--units", "10", "--seconds", "0.01", "--repetitions", "1"}, 60);
  EXPECT_EQ(cmp::detail::PythonSide::number(point, "units"), 10);
  EXPECT_GT(cmp::detail::PythonSide::number(point, "serial_sum_s"), cmp::detail::PythonSide::number(point, "wall_s"));
  try {
    (void)py.run("no.such_step", {}, 60);
    FAIL() << "an unknown step must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown step"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cmp::detail::PythonSide("/no/such/python"), std::runtime_error);
}
