// SPDX-License-Identifier: MIT
// tools/concur/compare/report.cpp — the results as text for a terminal (one block per model, C++
// and Python side by side), as Markdown (the classic table with both languages' figures in its
// cells) and as JSON (schema.json).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "compare.hpp"
#include "measure.hpp"

namespace concur::tool::compare {

std::string format_seconds(double seconds) {
  const double a = std::fabs(seconds);
  const auto sig3 = [](double v, std::string_view unit) {
    const int decimals = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return fmt::format("{:.{}f} {}", v, decimals, unit);
  };
  if (a < 1e-6) return sig3(seconds * 1e9, "ns");
  if (a < 1e-3) return sig3(seconds * 1e6, "us");
  if (a < 1) return sig3(seconds * 1e3, "ms");
  return sig3(seconds, "s");
}

std::string format_bytes(double bytes) {
  static constexpr std::string_view units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(units)) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string format_count(double count) {
  std::string digits = fmt::format("{}", static_cast<std::uint64_t>(std::max(0.0, std::floor(count))));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

namespace {

constexpr std::string_view kNotMeasured = "-";

const char* kModelTitles[3] = {"Threading", "Multiprocessing", "Asyncio"};
const char* kUnit[3] = {"thread", "process", "task"};
const char* kUnits[3] = {"threads", "processes", "tasks"};

/// One row of the classic comparison table: its claim for each model (about Python), and
/// where C++ differs.
struct ClassicRow {
  std::string aspect;
  std::string claim[3];
  std::string differs;
};

std::vector<ClassicRow> classic_rows() {
  return {
      {"Execution model",
       {"Multiple threads in single process", "Multiple separate processes", "Single thread with event loop"},
       "Same three models; a C++ thread carries no interpreter state, so it starts in microseconds"},
      {"Memory",
       {"Shared memory space", "Separate memory per process", "Shared memory (single thread)"},
       "Copy-on-write: a process's unshared memory is small; its real cost is its start-up"},
      {"GIL",
       {"Limited by Global Interpreter Lock", "No GIL limitation", "No GIL needed (single thread)"},
       "No GIL: C++ threads scale on CPU-bound work as processes do"},
      {"Best for",
       {"I/O-bound tasks", "CPU-bound tasks", "I/O-bound tasks (network, files)"},
       "Threads also hold thousands of waiting units; any model but one loop suits CPU-bound work"},
      {"Overhead", {"Low", "High", "Very low"}, "Threads hand off in microseconds; a Pipe crosses the kernel twice"},
      {"Synchronization",
       {"Locks, semaphores, events", "Pipes, queues", "No synchronization needed (usually)"},
       "An uncontended Lock is one atomic instruction pair: no system call, no interpreter"},
      {"Complexity",
       {"Medium", "High", "Medium"},
       "Process targets must be plain functions with serializable arguments (checked at compile time)"},
  };
}

/// Whether a larger figure is better (counts, rates, speedups) or worse (times, sizes).
enum class Sense { cost_time, cost_size, benefit };

/// One figure of a model's block: a label and the value in each language.
struct Figure {
  std::string label;
  std::optional<double> value[2];  // indexed by Language
  std::string (*format)(double);
  Sense sense;
};

std::string format_speedup(double v) { return fmt::format("{:.2f}x", v); }
std::string format_rate(double v) {
  if (v >= 1e9) return fmt::format("{:.3g} G/s", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.3g} M/s", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.3g} k/s", v / 1e3);
  return fmt::format("{:.3g} /s", v);
}

/// How Python's figure compares with C++'s, in words: "8.7x slower", "1.6x more", "2.0x lower".
std::string ratio_text(const Figure& f) {
  if (!f.value[0] || !f.value[1] || *f.value[0] <= 0 || *f.value[1] <= 0) return {};
  const double r = *f.value[1] / *f.value[0];  // Python / C++
  if (r >= 0.95 && r <= 1.05) return "about equal";
  const auto say = [](double x, const char* up, const char* down) {
    return x >= 1 ? fmt::format("{:.{}f}x {}", x, x >= 10 ? 0 : 1, up) : fmt::format("{:.{}f}x {}", 1 / x, 1 / x >= 10 ? 0 : 1, down);
  };
  switch (f.sense) {
    case Sense::cost_time: return say(r, "slower", "faster");
    case Sense::cost_size: return say(r, "more", "less");
    case Sense::benefit: return say(r, "higher", "lower");
  }
  return {};
}

/// The point of `points` with the largest N that `others` also has (so both languages compare
/// at the same N); the largest of `points` when `others` is empty.
const IoPoint* common_largest(const std::vector<IoPoint>& points, const std::vector<IoPoint>& others) {
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (others.empty()) return &*it;
    for (const IoPoint& o : others) {
      if (o.units == it->units) return &*it;
    }
  }
  return nullptr;
}

std::vector<Figure> model_figures(const Results& r, Model m) {
  const int i = static_cast<int>(m);
  const ModelResults& c = r.of(m, Language::cpp);
  const ModelResults& p = r.of(m, Language::python);
  const bool py = r.python.has_value();
  std::vector<Figure> out;
  const auto add = [&](std::string label, std::optional<double> cv, std::optional<double> pv, std::string (*f)(double), Sense s) {
    out.push_back(Figure{std::move(label), {cv, py ? pv : std::nullopt}, f, s});
  };
  add(fmt::format("start-up per {}", kUnit[i]), c.startup, p.startup, format_seconds, Sense::cost_time);
  add(fmt::format("memory per {}", kUnit[i]), c.memory_per_unit, p.memory_per_unit, format_bytes, Sense::cost_size);
  add(fmt::format("{} that fit in {}", kUnits[i], format_bytes(static_cast<double>(r.settings.memory_budget))), c.units_in_budget,
      p.units_in_budget, format_count, Sense::benefit);
  add("hand-off latency", c.handoff, p.handoff, format_seconds, Sense::cost_time);
  const auto io_figure = [&](const char* what, const std::vector<IoPoint>& cv, const std::vector<IoPoint>& pv) {
    const IoPoint* a = common_largest(cv, py ? pv : std::vector<IoPoint>{});
    if (a == nullptr) a = cv.empty() ? nullptr : &cv.back();
    const IoPoint* b = nullptr;
    if (a != nullptr) {
      for (const IoPoint& q : pv) {
        if (q.units == a->units) b = &q;
      }
    }
    const std::string n = a != nullptr ? format_count(static_cast<double>(a->units)) : "N";
    add(fmt::format("I/O on {}, N={}: wall", what, n), a ? std::optional<double>(a->wall) : std::nullopt,
        b ? std::optional<double>(b->wall) : std::nullopt, format_seconds, Sense::cost_time);
  };
  io_figure("timers", c.io, p.io);
  io_figure("sockets", c.sockets, p.sockets);
  const auto cpu = [](const std::optional<CpuRun>& run, double (CpuRun::*fn)() const) {
    return run ? std::optional<double>(((*run).*fn)()) : std::nullopt;
  };
  add("CPU-bound: work done per second", cpu(c.cpu, &CpuRun::rate), cpu(p.cpu, &CpuRun::rate), format_rate, Sense::benefit);
  add(fmt::format("CPU-bound: speedup, {} {}", r.cpus, kUnits[i]), cpu(c.cpu, &CpuRun::speedup), cpu(p.cpu, &CpuRun::speedup),
      format_speedup, Sense::benefit);
  add("allocating: speedup, defaults", cpu(c.alloc, &CpuRun::speedup), cpu(p.alloc, &CpuRun::speedup), format_speedup,
      Sense::benefit);
  if (m != Model::asyncio) {
    add("allocating: speedup, tune_malloc()", cpu(c.alloc_tuned, &CpuRun::speedup), std::nullopt, format_speedup, Sense::benefit);
    add("allocating: defaults / tuned wall", c.alloc && c.alloc_tuned ? std::optional<double>(c.alloc->wall / c.alloc_tuned->wall)
                                                                       : std::nullopt,
        std::nullopt, format_speedup, Sense::benefit);
  }
  add("uncontended Lock", c.lock_uncontended, p.lock_uncontended, format_seconds, Sense::cost_time);
  add(fmt::format("contended counter, {} {}", std::max(c.counter_units, p.counter_units), kUnits[i]), c.counter_contended,
      p.counter_contended, format_seconds, Sense::cost_time);
  return out;
}

std::string header_line(const Results& r) {
  const std::string load = r.load_average >= 0 ? fmt::format(", load average {:.2f} at start", r.load_average) : "";
  const std::string python = r.python ? fmt::format(", Python {}", r.python->version) : ", C++ alone";
  return fmt::format("concur compare: {} cores{}, {}, {}{}{}; medians of {} runs; {} in all{}", r.cpus, load, r.system,
                     r.compiler, python, r.settings.quick ? ", --quick" : "", r.settings.repetitions,
                     format_seconds(r.elapsed), r.complete ? "" : " (INTERRUPTED: partial results)");
}

/// `text` broken at spaces into lines of at most `width` characters, each after `indent`.
std::string wrap(std::string_view text, std::size_t width, std::string_view indent = "") {
  std::string out, line(indent);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(pos, end - pos);
    if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line += ' ';
    line += word;
    pos = end + 1;
  }
  if (line.size() > indent.size()) out += line + "\n";
  return out;
}

/// A warning when the machine was busy, or "".
std::string busy_note(const Results& r) {
  if (r.load_average < static_cast<double>(r.cpus)) return {};
  return fmt::format("The load average ({:.1f}) was at least the number of cores when the run began: the cores were busy, "
                     "so CPU-bound speedups understate what an idle machine gives.",
                     r.load_average);
}

std::string python_title(const Results& r) { return r.python ? "Python " + r.python->version : "Python"; }

struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> body;
  std::vector<bool> right;  // right-aligned columns
};

std::string text_table(const Table& t, std::string_view indent) {
  std::vector<std::size_t> widths(t.head.size(), 0);
  for (std::size_t i = 0; i < t.head.size(); ++i) widths[i] = t.head[i].size();
  for (const auto& row : t.body) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s(indent);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string& cell = i < cells.size() ? cells[i] : std::string();
      const bool right = i < t.right.size() && t.right[i];
      s += right ? fmt::format("{:>{}}", cell, widths[i]) : fmt::format("{:<{}}", cell, widths[i]);
      if (i + 1 < widths.size()) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(t.head);
  for (const auto& row : t.body) out += line(row);
  return out;
}

std::string markdown_table(const Table& t) {
  std::string out = "|";
  for (const auto& h : t.head) out += " " + h + " |";
  out += "\n|";
  for (std::size_t i = 0; i < t.head.size(); ++i) out += (i < t.right.size() && t.right[i]) ? " ---: |" : " --- |";
  out += "\n";
  for (const auto& row : t.body) {
    out += "|";
    for (const auto& cell : row) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

/// The figures of one model as a table: figure, C++, Python, Python vs C++.
Table model_table(const Results& r, Model m) {
  Table t;
  t.head = {"figure", "C++ (concur)"};
  t.right = {false, true};
  if (r.python) {
    t.head.insert(t.head.end(), {python_title(r), "Python vs C++"});
    t.right.insert(t.right.end(), {true, true});
  }
  for (const Figure& f : model_figures(r, m)) {
    std::vector<std::string> row{f.label, f.value[0] ? f.format(*f.value[0]) : std::string(kNotMeasured)};
    if (r.python) {
      row.push_back(f.value[1] ? f.format(*f.value[1]) : std::string(kNotMeasured));
      row.push_back(ratio_text(f));
    }
    t.body.push_back(std::move(row));
  }
  return t;
}

/// The I/O-bound points and the CPU-bound runs, both languages.
std::vector<std::pair<std::string, Table>> detail_tables(const Results& r) {
  std::vector<std::pair<std::string, Table>> out;
  Table io;
  io.head = {"model", "waits on", "N", "C++ wall", "speedup"};
  io.right = {false, false, true, true, true};
  if (r.python) {
    io.head.insert(io.head.end(), {"Python wall", "speedup"});
    io.right.insert(io.right.end(), {true, true});
  }
  const auto find = [](const std::vector<IoPoint>& v, std::size_t n) -> const IoPoint* {
    for (const IoPoint& p : v) {
      if (p.units == n) return &p;
    }
    return nullptr;
  };
  for (Model m : kModels) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<IoPoint>& cv = kind == 0 ? r.of(m).io : r.of(m).sockets;
      const std::vector<IoPoint>& pv = kind == 0 ? r.of(m, Language::python).io : r.of(m, Language::python).sockets;
      for (const IoPoint& p : cv) {
        std::vector<std::string> row{std::string(model_key(m)), kind == 0 ? "timers" : "sockets",
                                     format_count(static_cast<double>(p.units)), format_seconds(p.wall),
                                     fmt::format("{:.1f}x", p.speedup())};
        if (r.python) {
          const IoPoint* q = find(pv, p.units);
          row.push_back(q ? format_seconds(q->wall) : std::string(kNotMeasured));
          row.push_back(q ? fmt::format("{:.1f}x", q->speedup()) : std::string(kNotMeasured));
        }
        io.body.push_back(std::move(row));
      }
    }
  }
  out.emplace_back("I/O-bound: N units at once against the serial sum of N single units", std::move(io));
  Table cpu;
  cpu.head = {"model", "work", "units", "C++ wall", "speedup"};
  cpu.right = {false, false, true, true, true};
  if (r.python) {
    cpu.head.insert(cpu.head.end(), {"Python wall", "speedup"});
    cpu.right.insert(cpu.right.end(), {true, true});
  }
  for (Model m : kModels) {
    const ModelResults& c = r.of(m);
    const ModelResults& p = r.of(m, Language::python);
    const std::pair<const char*, std::pair<const std::optional<CpuRun>*, const std::optional<CpuRun>*>> kinds[] = {
        {"arithmetic", {&c.cpu, &p.cpu}},
        {"allocating", {&c.alloc, &p.alloc}},
        {"allocating, tuned", {&c.alloc_tuned, nullptr}},
    };
    for (const auto& [what, runs] : kinds) {
      const std::optional<CpuRun>& run = *runs.first;
      if (!run) continue;
      std::vector<std::string> row{std::string(model_key(m)), what, fmt::format("{}", run->workers), format_seconds(run->wall),
                                   fmt::format("{:.2f}x", run->speedup())};
      if (r.python) {
        const bool has = runs.second != nullptr && runs.second->has_value();
        row.push_back(has ? format_seconds((*runs.second)->wall) : std::string(kNotMeasured));
        row.push_back(has ? fmt::format("{:.2f}x", (*runs.second)->speedup()) : std::string(kNotMeasured));
      }
      cpu.body.push_back(std::move(row));
    }
  }
  out.emplace_back("CPU-bound: the same work split over the units, against one serial run", std::move(cpu));
  return out;
}

std::string notes_text(const Results& r, std::string_view bullet, std::size_t width) {
  std::string out;
  for (const std::string& n : r.notes) {
    const std::string wrapped = wrap(n, width, std::string(bullet.size(), ' '));
    out += std::string(bullet) + wrapped.substr(bullet.size());
  }
  return out;
}

std::string claims_of(Model m) {
  const int i = static_cast<int>(m);
  std::string s;
  for (const ClassicRow& row : classic_rows()) {
    if (!s.empty()) s += "; ";
    s += row.aspect + ": " + row.claim[i];
  }
  return s;
}

}  // namespace

std::string render_terminal(const Results& r, std::size_t columns) {
  columns = std::max<std::size_t>(columns, 80);  // the figure tables are 80 wide
  std::string out = wrap(header_line(r), columns);
  if (const std::string busy = busy_note(r); !busy.empty()) out += wrap(busy, columns);
  out += "\n";
  for (Model m : kModels) {
    const int i = static_cast<int>(m);
    out += fmt::format("{} ({})\n", kModelTitles[i], kUnits[i]);
    out += wrap("The classic claims about Python: " + claims_of(m) + ".", columns, "  ");
    out += text_table(model_table(r, m), "  ") + "\n";
  }
  for (const auto& [title, table] : detail_tables(r)) {
    if (table.body.empty()) continue;
    out += wrap(title, columns) + text_table(table, "  ") + "\n";
  }
  out += "Where C++ differs:\n";
  for (const ClassicRow& row : classic_rows()) out += wrap(row.aspect + ": " + row.differs + ".", columns, "  ");
  if (!r.notes.empty()) out += "\nNotes:\n" + notes_text(r, "  - ", columns);
  return out;
}

std::string render_markdown(const Results& r) {
  std::string out = header_line(r) + "\n\n";
  if (const std::string busy = busy_note(r); !busy.empty()) out += busy + "\n\n";
  Table classic;
  classic.head = {"Aspect", kModelTitles[0], kModelTitles[1], kModelTitles[2], "Where C++ differs"};
  // Each aspect's cells: the claim, then the figures that bear on it.
  const std::vector<ClassicRow> rows = classic_rows();
  // The figure (by the start of its label) that bears on each aspect; none for Complexity.
  const std::string_view figure_of_aspect[] = {"start-up", "memory per", "CPU-bound: speedup", "I/O on sockets",
                                               "hand-off", "uncontended Lock", ""};
  for (std::size_t a = 0; a < rows.size(); ++a) {
    std::vector<std::string> cells{"**" + rows[a].aspect + "**"};
    for (Model m : kModels) {
      const int i = static_cast<int>(m);
      std::string cell = rows[a].claim[i];
      const std::string_view wanted = figure_of_aspect[a];
      const std::vector<Figure> figures = model_figures(r, m);
      const auto found = std::find_if(figures.begin(), figures.end(),
                                      [&](const Figure& f) { return !wanted.empty() && f.label.starts_with(wanted); });
      if (found != figures.end()) {
        const Figure& f = *found;
        cell += fmt::format("<br>{}: C++ **{}**", f.label, f.value[0] ? f.format(*f.value[0]) : std::string(kNotMeasured));
        if (r.python) cell += fmt::format(", Python **{}**", f.value[1] ? f.format(*f.value[1]) : std::string(kNotMeasured));
      } else if (wanted.empty()) {
        cell += "<br>(a judgement, not measured)";
      }
      cells.push_back(std::move(cell));
    }
    cells.push_back(rows[a].differs);
    classic.body.push_back(std::move(cells));
  }
  out += markdown_table(classic);
  out += "\nEach cell: the classic claim about Python, then the figure measured here";
  out += r.python ? " for C++ and for Python.\n" : " for C++.\n";
  for (Model m : kModels) {
    const int i = static_cast<int>(m);
    out += fmt::format("\n**{}** ({})\n\n", kModelTitles[i], kUnits[i]) + markdown_table(model_table(r, m));
  }
  for (const auto& [title, table] : detail_tables(r)) {
    if (!table.body.empty()) out += "\n" + title + ":\n\n" + markdown_table(table);
  }
  if (!r.notes.empty()) {
    out += "\nNotes:\n\n";
    for (const std::string& n : r.notes) out += "- " + n + "\n";
  }
  return out;
}

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

/// A JSON number; every figure is finite by construction (medians of positive timings), and a
/// non-finite one would be a bug, so it is written as null, which the schema rejects.
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

/// Appends `"key": value` to an object under construction.
void field(std::string& obj, std::string_view key, const std::string& value) {
  if (obj.size() > 1) obj += ", ";
  obj += json_string(key) + ": " + value;
}

void optional_field(std::string& obj, std::string_view key, const std::optional<double>& v) {
  if (v) field(obj, key, json_number(*v));
}

}  // namespace

namespace {

std::string io_json(const std::vector<IoPoint>& points) {
  std::string io = "[";
  for (const IoPoint& p : points) {
    if (io.size() > 1) io += ", ";
    std::string point = "{";
    field(point, "units", fmt::format("{}", p.units));
    field(point, "wall_s", json_number(p.wall));
    field(point, "serial_sum_s", json_number(p.serial_sum));
    field(point, "speedup", json_number(p.speedup()));
    io += point + "}";
  }
  return io + "]";
}

void cpu_json(std::string& obj, std::string_view key, const std::optional<CpuRun>& run) {
  if (!run) return;
  std::string cpu = "{";
  field(cpu, "units", fmt::format("{}", run->workers));
  field(cpu, "wall_s", json_number(run->wall));
  field(cpu, "serial_s", json_number(run->serial));
  field(cpu, "speedup", json_number(run->speedup()));
  if (run->work > 0) field(cpu, "work", json_number(run->work));
  field(obj, key, cpu + "}");
}

std::string models_json(const Results& r, Language l) {
  std::string models = "{";
  for (Model m : kModels) {
    const ModelResults& mr = r.of(m, l);
    std::string obj = "{";
    optional_field(obj, "startup_s", mr.startup);
    optional_field(obj, "memory_per_unit_bytes", mr.memory_per_unit);
    optional_field(obj, "units_in_budget", mr.units_in_budget);
    optional_field(obj, "handoff_s", mr.handoff);
    field(obj, "io_bound", io_json(mr.io));
    field(obj, "io_sockets", io_json(mr.sockets));
    cpu_json(obj, "cpu_bound", mr.cpu);
    cpu_json(obj, "alloc_bound", mr.alloc);
    cpu_json(obj, "alloc_bound_tuned", mr.alloc_tuned);
    optional_field(obj, "lock_uncontended_s", mr.lock_uncontended);
    if (mr.counter_contended) {
      field(obj, "counter_contended_s", json_number(*mr.counter_contended));
      field(obj, "counter_units", fmt::format("{}", mr.counter_units));
    }
    field(models, model_key(m), obj + "}");
  }
  return models + "}";
}

}  // namespace

std::string render_json(const Results& r) {
  std::string machine = "{";
  field(machine, "cpus", fmt::format("{}", r.cpus));
  field(machine, "system", json_string(r.system));
  field(machine, "compiler", json_string(r.compiler));
  if (r.load_average >= 0) field(machine, "load_average", json_number(r.load_average));
  machine += "}";

  std::string settings = "{";
  field(settings, "quick", r.settings.quick ? "true" : "false");
  field(settings, "repetitions", fmt::format("{}", r.settings.repetitions));
  field(settings, "memory_budget_bytes", fmt::format("{}", r.settings.memory_budget));
  field(settings, "io_wait_s", json_number(r.settings.io_wait));
  field(settings, "cpu_serial_target_s", json_number(r.settings.cpu_serial_seconds));
  field(settings, "alloc_serial_target_s", json_number(r.settings.alloc_serial_seconds));
  field(settings, "socket_exchanges", fmt::format("{}", detail::kExchanges));
  field(settings, "echo_delay_s", json_number(r.settings.io_wait / detail::kExchanges));
  settings += "}";

  std::string notes = "[";
  for (const std::string& n : r.notes) {
    if (notes.size() > 1) notes += ", ";
    notes += json_string(n);
  }
  notes += "]";

  std::string out = "{";
  field(out, "schema", json_string("concur-compare/2"));
  field(out, "complete", r.complete ? "true" : "false");
  field(out, "elapsed_s", json_number(r.elapsed));
  field(out, "machine", machine);
  field(out, "settings", settings);
  field(out, "models", models_json(r, Language::cpp));
  if (r.python) {
    std::string py = "{";
    field(py, "executable", json_string(r.python->executable));
    field(py, "version", json_string(r.python->version));
    field(py, "models", models_json(r, Language::python));
    field(out, "python", py + "}");
  }
  field(out, "notes", notes);
  return out + "}\n";
}

}  // namespace concur::tool::compare
