// SPDX-License-Identifier: MIT
// tools/concur/compare/plot.cpp — `--plot FILE`: the figures as four charts, C++ and Python side
// by side, drawn by gnuplot.
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
#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
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

/// The languages drawn: C++ always, Python when it was measured.
std::vector<Language> languages(const Results& r) {
  return r.python ? std::vector<Language>{Language::cpp, Language::python} : std::vector<Language>{Language::cpp};
}

std::string language_title(const Results& r, Language l) {
  return l == Language::cpp ? "C++ (concur)" : "Python " + r.python->version;
}

const char* kColours[2] = {"#4a7ebb", "#e08a2c"};  // C++, Python

/// A y range that leaves room above the tallest bar for its label, inside the plot area: on a
/// log scale, a decade above the largest value and a third of the smallest below it.
std::string y_range(double low, double high, bool log) {
  if (log) return fmt::format("set yrange [{}:{}]\n", low / 3, high * 10);
  return fmt::format("set yrange [0:{}]\n", high * 1.25);
}

/// A clustered bar chart of one figure per model, one bar per language, each labelled with its
/// value: a data block and the commands that plot it.
std::string bar_chart(std::string_view block, std::string_view title, std::string_view ylabel, double scale,
                      const Results& r, const std::function<std::optional<double>(const ModelResults&)>& value, bool log,
                      std::string_view label_format, std::optional<double> ideal = std::nullopt) {
  const std::vector<Language> langs = languages(r);
  std::string data = fmt::format("${} << EOD\n", block);
  double low = 0, high = 0;
  int values = 0;
  for (Model m : kModels) {
    data += fmt::format("\"{}\"", model_key(m));
    for (Language l : langs) {
      const std::optional<double> v = value(r.of(m, l));
      if (v && *v > 0) {
        const double x = *v * scale;
        low = values == 0 ? x : std::min(low, x);
        high = values == 0 ? x : std::max(high, x);
        ++values;
        data += fmt::format(" {}", x);
      } else {
        data += " NaN";
      }
    }
    data += "\n";
  }
  data += "EOD\n";
  if (ideal) high = std::max(high, *ideal);
  std::string plot = fmt::format("set title {}\nset ylabel {}\n{}set style fill solid 0.7\nset xrange [-0.6:2.6]\n"
                                 "set xtics ('threads' 0, 'processes' 1, 'asyncio' 2)\nset key top left font ',9'\n",
                                 gp_string(title), gp_string(ylabel), log ? "set logscale y\n" : "unset logscale y\n");
  if (values == 0) {
    return data + plot +
           "unset logscale y\nset yrange [0:1]\nset label 1 'not measured' at graph 0.4,0.5\nplot -1 notitle\nunset label 1\n";
  }
  plot += y_range(low, high, log);
  // Bars of width 0.35 side by side around each model's x position, each with its value above.
  const double width = langs.size() == 1 ? 0.6 : 0.35;
  std::string parts;
  for (std::size_t k = 0; k < langs.size(); ++k) {
    const double offset = langs.size() == 1 ? 0.0 : (static_cast<double>(k) - 0.5) * width;
    const int column = static_cast<int>(k) + 2;
    if (!parts.empty()) parts += ", ";
    // Values of 100 and more without decimals, never in e-notation.
    const std::string label = label_format == "%.3g" ? fmt::format("(${0} >= 100 ? sprintf('%.0f', ${0}) : sprintf('%.3g', ${0}))", column)
                                                     : fmt::format("(sprintf('{}', ${}))", label_format, column);
    parts += fmt::format("${0} using ($0+({1})):{2}:({3}) with boxes lc rgb '{4}' title {5}, "
                         "'' using ($0+({1})):{2}:{6} with labels offset 0,0.7 font ',9' notitle",
                         block, offset, column, width, kColours[k], gp_string(language_title(r, langs[k])), label);
  }
  if (ideal) parts += fmt::format(", {} with lines dt 2 lc rgb 'black' title 'ideal'", *ideal);
  return data + plot + "plot " + parts + "\n";
}

/// The I/O-bound chart: wall time of N units at once against N, every model, both languages
/// (over sockets when measured, else on timers).
std::string io_chart(const Results& r) {
  bool sockets = false;
  for (Model m : kModels) sockets = sockets || !r.of(m).sockets.empty();
  const auto points = [&](const ModelResults& mr) -> const std::vector<IoPoint>& { return sockets ? mr.sockets : mr.io; };
  std::string s, plots;
  const char* model_colours[3] = {"#4a7ebb", "#c0504d", "#9bbb59"};
  for (Language l : languages(r)) {
    for (Model m : kModels) {
      const std::vector<IoPoint>& pts = points(r.of(m, l));
      if (pts.empty()) continue;
      const std::string block = fmt::format("io_{}_{}", l == Language::cpp ? "cpp" : "python", model_key(m));
      s += fmt::format("${} << EOD\n", block);
      for (const IoPoint& p : pts) s += fmt::format("{} {}\n", p.units, p.wall);
      s += "EOD\n";
      if (!plots.empty()) plots += ", ";
      plots += fmt::format("${} using 1:2 with linespoints lw 2 {} lc rgb '{}' title '{}: {}'", block,
                           l == Language::cpp ? "dt 1 pt 7" : "dt 2 pt 6", model_colours[static_cast<int>(m)],
                           l == Language::cpp ? "C++" : "Python", model_key(m));
    }
  }
  s += fmt::format("set title {}\nset xlabel 'N (units at once)'\nset ylabel 'seconds (wall)'\nunset style\n"
                   "set logscale xy\nset xrange [*:*]\nset yrange [*:*]\nset xtics autofreq\nset key top left font ',8'\n",
                   gp_string(sockets ? "I/O-bound: N units each making 4 echo exchanges over TCP"
                                     : "I/O-bound: N units each waiting on a timer"));
  if (plots.empty()) {
    s += "unset logscale\nset xrange [0:1]\nset yrange [0:1]\nset label 1 'not measured' at graph 0.4,0.5\nplot -1 notitle\n"
         "unset label 1\n";
  } else {
    s += "plot " + plots + "\n";
  }
  return s + "unset xlabel\nunset logscale\n";
}

}  // namespace

std::string gnuplot_script(const Results& r, std::string_view terminal, const std::string& file) {
  std::string s;
  if (terminal == "svg") {
    s += "set terminal svg size 1200,860 dynamic noenhanced font 'sans,11' background rgb 'white'\n";
  } else {
    s += "set terminal pngcairo size 1200,860 noenhanced font 'sans,10' background rgb 'white'\n";
  }
  s += fmt::format("set output {}\n", gp_string(file));
  s += fmt::format("set multiplot layout 2,2 title {}\n",
                   gp_string(fmt::format("concur compare: {} cores, {}{}{}", r.cpus, r.system,
                                         r.python ? ", C++ and Python " + r.python->version : ", C++",
                                         r.complete ? "" : " (partial)")));
  s += "set grid ytics\nset xtics nomirror\n";
  s += bar_chart("startup", "Start-up cost per unit (create, run nothing, join)", "microseconds", 1e6, r,
                 [](const ModelResults& m) { return m.startup; }, true, "%.3g");
  s += bar_chart("memory", "Memory per unit (resident; a process: unshared)", "KiB", 1.0 / 1024, r,
                 [](const ModelResults& m) { return m.memory_per_unit; }, true, "%.3g");
  s += io_chart(r);
  s += bar_chart("cpu", fmt::format("CPU-bound: the same work split over {} units", r.cpus), "speedup over one serial run",
                 1.0, r,
                 [](const ModelResults& m) { return m.cpu ? std::optional<double>(m.cpu->speedup()) : std::nullopt; }, false,
                 "%.2fx", static_cast<double>(r.cpus));
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
