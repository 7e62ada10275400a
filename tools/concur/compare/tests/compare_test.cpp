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

#include "compare.hpp"
#include "measure.hpp"

namespace cmp = concur::tool::compare;

namespace {

cmp::Results full_results() {
  cmp::Results r;
  r.settings = cmp::Settings::make(true);
  r.cpus = 2;
  r.system = "Linux 6.1.0 x86_64";
  r.compiler = "g++ 12.2.0";
  r.load_average = 0.5;
  r.complete = true;
  r.elapsed = 21.5;
  double scale = 1;
  for (cmp::Model m : cmp::kModels) {
    cmp::ModelResults& mr = r.of(m);
    mr.startup = 20e-6 * scale;
    mr.memory_per_unit = 16384 * scale;
    mr.units_in_budget = static_cast<double>(r.settings.memory_budget) / *mr.memory_per_unit;
    mr.handoff = 5e-6 * scale;
    mr.io = {{10, 0.021, 0.2}, {100, 0.025, 2.0}};
    mr.cpu = cmp::CpuRun{2, 0.13 * scale, 0.25};
    mr.lock_uncontended = 15e-9 * scale;
    mr.counter_contended = 60e-9 * scale;
    mr.counter_units = 2;
    scale *= 2;
  }
  return r;
}

/// Runs validate_json.py on `json`; returns its exit status.
int validate(const std::string& json, bool complete) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("concur-compare-test-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(file);
    out << json;
  }
  const std::string command = std::string("python3 ") + CONCUR_COMPARE_VALIDATOR + " " + CONCUR_COMPARE_SCHEMA + " " +
                              file.string() + (complete ? " --complete" : "") + " > /dev/null";
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

TEST(CompareTerminal, every_aspect_of_the_seed_has_its_claim_and_a_figure) {
  const std::string out = cmp::render_terminal(full_results());
  for (const char* s : {"Execution model", "Memory", "GIL", "Best for", "Overhead", "Synchronization", "Complexity",
                        "Where C++ differs", "Multiple separate processes", "start-up 20.0 us per thread",
                        "hand-off 10.0 us", "CPU-bound 1.92x serial (2 threads)", "No GIL: threads scale on CPU-bound work"}) {
    EXPECT_NE(out.find(s), std::string::npos) << "missing '" << s << "' in\n" << out;
  }
  EXPECT_EQ(out.find("INTERRUPTED"), std::string::npos);
}

TEST(CompareTerminal, missing_figures_say_not_measured_and_the_header_says_partial) {
  cmp::Results r = full_results();
  r.complete = false;
  r.of(cmp::Model::asyncio) = {};
  const std::string out = cmp::render_terminal(r);
  EXPECT_NE(out.find("(not measured)"), std::string::npos);
  EXPECT_NE(out.find("INTERRUPTED"), std::string::npos);
}

TEST(CompareTerminal, every_line_of_the_main_table_has_the_same_width) {
  const std::string out = cmp::render_terminal(full_results());
  std::size_t width = 0;
  std::size_t pos = out.find("\n+") + 1;
  const std::size_t end = out.find("(each cell");
  while (pos < end) {
    const std::size_t nl = out.find('\n', pos);
    const std::size_t len = nl - pos;
    if (width == 0) width = len;
    EXPECT_EQ(len, width) << out.substr(pos, len);
    pos = nl + 1;
  }
}

TEST(CompareMarkdown, renders_a_markdown_table_with_details) {
  const std::string out = cmp::render_markdown(full_results());
  EXPECT_NE(out.find("| Aspect | Threading | Multiprocessing | Asyncio | Where C++ differs |"), std::string::npos) << out;
  EXPECT_NE(out.find("| --- |"), std::string::npos);
  EXPECT_NE(out.find("| I/O-bound | N | wall | serial sum | speedup |"), std::string::npos) << out;
}

TEST(ComparePlot, the_script_draws_four_charts_into_the_file) {
  const std::string s = cmp::gnuplot_script(full_results(), "svg", "out'put.svg");
  EXPECT_NE(s.find("set terminal svg"), std::string::npos);
  EXPECT_NE(s.find("set output 'out''put.svg'"), std::string::npos) << s;
  EXPECT_NE(s.find("set multiplot layout 2,2"), std::string::npos);
  for (const char* block : {"$startup << EOD", "$memory << EOD", "$io_threads << EOD", "$io_asyncio << EOD", "$cpu << EOD"}) {
    EXPECT_NE(s.find(block), std::string::npos) << block;
  }
}

TEST(ComparePlot, missing_figures_become_a_not_measured_label) {
  cmp::Results r = full_results();
  for (cmp::Model m : cmp::kModels) r.of(m) = {};
  const std::string s = cmp::gnuplot_script(r, "png", "x.png");
  EXPECT_NE(s.find("set terminal pngcairo"), std::string::npos);
  EXPECT_NE(s.find("not measured"), std::string::npos);
  EXPECT_EQ(s.find("$io_threads"), std::string::npos);
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
  EXPECT_EQ(seen[0], "threads: memory per thread");
  ASSERT_TRUE(r.of(cmp::Model::threads).memory_per_unit.has_value());
  EXPECT_GT(*r.of(cmp::Model::threads).memory_per_unit, 0);
  EXPECT_GT(*r.of(cmp::Model::threads).units_in_budget, 0);
  EXPECT_FALSE(r.of(cmp::Model::processes).memory_per_unit.has_value());
  EXPECT_FALSE(r.of(cmp::Model::threads).startup.has_value());
  EXPECT_TRUE(r.notes.empty());
  EXPECT_EQ(validate(cmp::render_json(r), false), 0);
}

TEST(CompareMarkdown, a_busy_machine_is_named_beside_the_cpu_bound_speedups) {
  cmp::Results r = full_results();
  EXPECT_EQ(cmp::render_markdown(r).find("the cores were busy"), std::string::npos);
  r.load_average = 3.0;
  const std::string out = cmp::render_markdown(r);
  EXPECT_NE(out.find("here 1.92x and 0.96x on 2 cores (load average 3.0: the cores were busy)"), std::string::npos) << out;
  EXPECT_NE(out.find("load average 3.00 at start"), std::string::npos) << out;
}
