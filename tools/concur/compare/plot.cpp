// SPDX-License-Identifier: MIT
// tools/concur/compare/plot.cpp — `--plot FILE`: the figures as four charts, drawn by gnuplot.
//
// Why gnuplot: it is a well-kept plotter packaged by every distribution (Debian: gnuplot-nox,
// no X11 needed), it writes SVG and PNG itself, and it takes its data inline in the script, so
// concur only writes text. The alternatives were a Python stack (matplotlib is not installed
// with the project's Python, and would tie a C++ tool to a Python environment) or an SVG writer
// of our own (code to maintain for what a plotter already does well).
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "compare.hpp"

namespace concur::tool::compare {

namespace {

/// `s` as a gnuplot single-quoted string (a quote is written twice).
std::string gp_string(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

/// A bar chart of one figure per model: a data block and the commands that plot it.
std::string bar_chart(std::string_view block, std::string_view title, std::string_view ylabel, double scale,
                      const Results& r, const std::optional<double> ModelResults::*member) {
  std::string data = fmt::format("${} << EOD\n", block);
  int rows = 0;
  for (Model m : kModels) {
    if (const std::optional<double>& v = r.of(m).*member) {
      data += fmt::format("\"{}\" {}\n", model_key(m), *v * scale);
      ++rows;
    }
  }
  data += "EOD\n";
  std::string plot = fmt::format("set title {}\nset ylabel {}\nset logscale y\nset style fill solid 0.6\nset boxwidth 0.6\n"
                                 "set xrange [-0.6:2.6]\nset yrange [*:*]\nunset key\n",
                                 gp_string(title), gp_string(ylabel));
  if (rows == 0) {
    plot += "unset logscale y\nset yrange [0:1]\nset label 1 'not measured' at graph 0.4,0.5\nplot -1 notitle\nunset label 1\n";
  } else {
    plot += fmt::format("plot ${} using 0:2:xtic(1) with boxes lc rgb '#4a7ebb', '' using 0:2:(sprintf('%.3g',$2)) "
                        "with labels offset 0,0.8 notitle\n",
                        block);
  }
  return data + plot;
}

}  // namespace

std::string gnuplot_script(const Results& r, std::string_view terminal, const std::string& file) {
  std::string s;
  if (terminal == "svg") {
    s += "set terminal svg size 1100,800 dynamic noenhanced font 'sans,11' background rgb 'white'\n";
  } else {
    s += "set terminal pngcairo size 1100,800 noenhanced font 'sans,10' background rgb 'white'\n";
  }
  s += fmt::format("set output {}\n", gp_string(file));
  s += fmt::format("set multiplot layout 2,2 title {}\n",
                   gp_string(fmt::format("concur compare: {} cores, {}{}", r.cpus, r.system, r.complete ? "" : " (partial)")));
  s += "set grid ytics\n";
  s += bar_chart("startup", "Start-up cost per unit (create, run nothing, join)", "microseconds", 1e6, r,
                 &ModelResults::startup);
  s += bar_chart("memory", "Memory per unit (resident; a process: unshared)", "KiB", 1.0 / 1024, r,
                 &ModelResults::memory_per_unit);

  // I/O-bound scaling: wall time of N concurrent units, and the serial sum, against N.
  std::string plots;
  const char* colours[3] = {"#4a7ebb", "#c0504d", "#9bbb59"};
  for (Model m : kModels) {
    const ModelResults& mr = r.of(m);
    if (mr.io.empty()) continue;
    std::string block = fmt::format("io_{}", model_key(m));
    s += fmt::format("${} << EOD\n", block);
    for (const IoPoint& p : mr.io) s += fmt::format("{} {} {}\n", p.units, p.wall, p.serial_sum);
    s += "EOD\n";
    const auto colour = colours[static_cast<int>(m)];
    if (!plots.empty()) plots += ", ";
    plots += fmt::format("${0} using 1:2 with linespoints lw 2 lc rgb '{1}' title '{2}: concurrent', "
                         "${0} using 1:3 with lines dt 2 lc rgb '{1}' title '{2}: serial sum'",
                         block, colour, model_key(m));
  }
  s += "set title 'I/O-bound: N units each waiting on a timer'\nset xlabel 'N (units at once)'\nset ylabel 'seconds'\n"
       "set logscale xy\nset xrange [*:*]\nset yrange [*:*]\nset key top left font ',9'\nunset xtics\nset xtics\n";
  if (plots.empty()) {
    s += "unset logscale\nset xrange [0:1]\nset yrange [0:1]\nset label 1 'not measured' at graph 0.4,0.5\nplot -1 notitle\n"
         "unset label 1\n";
  } else {
    s += "plot " + plots + "\n";
  }
  s += "unset xlabel\nunset logscale\n";

  // CPU-bound speedup, with the ideal (the core count) as a line.
  s += "$cpu << EOD\n";
  int rows = 0;
  for (Model m : kModels) {
    if (const auto& c = r.of(m).cpu) {
      s += fmt::format("\"{}\" {}\n", model_key(m), c->speedup());
      ++rows;
    }
  }
  s += "EOD\n";
  s += fmt::format("set title {}\nset ylabel 'speedup over one serial run'\nset xrange [-0.6:2.6]\nset yrange [0:{}]\n"
                   "set style fill solid 0.6\nset boxwidth 0.6\nunset key\n",
                   gp_string(fmt::format("CPU-bound: the same work split over {} units", r.cpus)), static_cast<double>(r.cpus) * 1.3);
  if (rows == 0) {
    s += "set label 1 'not measured' at graph 0.4,0.5\nplot -1 notitle\nunset label 1\n";
  } else {
    s += fmt::format("plot $cpu using 0:2:xtic(1) with boxes lc rgb '#4a7ebb', '' using 0:2:(sprintf('%.2fx',$2)) with labels "
                     "offset 0,0.8 notitle, {} with lines dt 2 lc rgb 'black' notitle\n",
                     r.cpus);
  }
  s += "unset multiplot\nset output\n";
  return s;
}

void write_plot(const Results& results, const std::string& file) {
  const std::string ext = std::filesystem::path(file).extension().string();
  std::string terminal;
  if (ext == ".svg") {
    terminal = "svg";
  } else if (ext == ".png") {
    terminal = "png";
  } else {
    throw std::invalid_argument(fmt::format("--plot {}: the file name must end in .svg or .png", file));
  }
  // Find gnuplot first, for a clear message rather than a shell's "command not found".
  bool found = false;
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && ::access((dir + "/gnuplot").c_str(), X_OK) == 0) found = true;
    }
  }
  if (!found) throw std::runtime_error("--plot needs gnuplot, which is not in PATH (Debian package: gnuplot-nox)");

  const std::string script = gnuplot_script(results, terminal, file);
  // A gnuplot that dies early must give a write error here, not kill us with SIGPIPE.
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &previous);
  std::FILE* pipe = ::popen("gnuplot", "w");
  if (pipe == nullptr) {
    const int error = errno;
    ::sigaction(SIGPIPE, &previous, nullptr);
    throw std::system_error(error, std::generic_category(), "cannot start gnuplot");
  }
  const bool written = std::fwrite(script.data(), 1, script.size(), pipe) == script.size();
  const int status = ::pclose(pipe);
  ::sigaction(SIGPIPE, &previous, nullptr);
  if (!written || status != 0) throw std::runtime_error(fmt::format("gnuplot failed to write {} (status {})", file, status));
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || st.st_size == 0) throw std::runtime_error(fmt::format("gnuplot wrote nothing to {}", file));
}

}  // namespace concur::tool::compare
