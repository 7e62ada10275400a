// SPDX-License-Identifier: MIT
// tools/concur/compare/report.cpp — the results as the seed's table (terminal, Markdown) and as
// JSON (schema.json).
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

constexpr std::string_view kNotMeasured = "(not measured)";

/// One row of the seed's table: its claim for each model, the measured figure for each, and
/// where C++ differs.
struct Row {
  std::string aspect;
  std::string claim[3];
  std::string measured[3];
  std::string differs;
};

std::string or_missing(const std::optional<double>& v, std::string (*fmt_fn)(double)) {
  return v ? fmt_fn(*v) : std::string(kNotMeasured);
}

const IoPoint* largest_io(const ModelResults& m) {
  return m.io.empty() ? nullptr : &m.io.back();
}

std::vector<Row> table_rows(const Results& r) {
  const ModelResults& thr = r.of(Model::threads);
  const ModelResults& proc = r.of(Model::processes);
  const ModelResults& task = r.of(Model::asyncio);
  const ModelResults* ms[3] = {&thr, &proc, &task};
  const char* unit_name[3] = {"thread", "process", "task"};
  const char* units_name[3] = {"threads", "processes", "tasks"};
  std::vector<Row> rows;

  Row exec{"Execution model",
           {"Multiple threads in single process", "Multiple separate processes", "Single thread with event loop"},
           {},
           "Same three models; a thread carries no interpreter state, so it starts in microseconds"};
  for (int i = 0; i < 3; ++i) {
    exec.measured[i] = ms[i]->startup ? fmt::format("start-up {} per {}", format_seconds(*ms[i]->startup), unit_name[i])
                                      : std::string(kNotMeasured);
  }
  rows.push_back(exec);

  Row mem{"Memory",
          {"Shared memory space", "Separate memory per process", "Shared memory (single thread)"},
          {},
          "Copy-on-write: a process's unshared memory is small; its real cost is its start-up"};
  for (int i = 0; i < 3; ++i) {
    mem.measured[i] = ms[i]->memory_per_unit
                          ? fmt::format("{} per {}; {} fit in {}", format_bytes(*ms[i]->memory_per_unit), unit_name[i],
                                        format_count(*ms[i]->units_in_budget),
                                        format_bytes(static_cast<double>(r.settings.memory_budget)))
                          : std::string(kNotMeasured);
  }
  rows.push_back(mem);

  Row gil{"GIL",
          {"Limited by Global Interpreter Lock", "No GIL limitation", "No GIL needed (single thread)"},
          {},
          "No GIL: threads scale on CPU-bound work as processes do"};
  for (int i = 0; i < 3; ++i) {
    gil.measured[i] = ms[i]->cpu ? fmt::format("CPU-bound {:.2f}x serial ({} {})", ms[i]->cpu->speedup(), ms[i]->cpu->workers,
                                               units_name[i])
                                 : std::string(kNotMeasured);
  }
  if (thr.cpu && proc.cpu) {
    gil.differs = fmt::format("No GIL: threads scale on CPU-bound work as processes do; here {:.2f}x and {:.2f}x on {} cores",
                              thr.cpu->speedup(), proc.cpu->speedup(), r.cpus);
    // On a busy machine the other cores are not free, and no model can show its speedup.
    if (r.load_average >= static_cast<double>(r.cpus)) {
      gil.differs += fmt::format(" (load average {:.1f}: the cores were busy)", r.load_average);
    }
  }
  rows.push_back(gil);

  Row best{"Best for",
           {"I/O-bound tasks", "CPU-bound tasks", "I/O-bound tasks (network, files)"},
           {},
           "Threads also hold thousands of waiting units; any model suits CPU-bound work except one loop"};
  for (int i = 0; i < 3; ++i) {
    const IoPoint* p = largest_io(*ms[i]);
    best.measured[i] = p ? fmt::format("I/O-bound N={}: {} vs {} serial", format_count(static_cast<double>(p->units)),
                                       format_seconds(p->wall), format_seconds(p->serial_sum))
                         : std::string(kNotMeasured);
  }
  rows.push_back(best);

  Row over{"Overhead",
           {"Low", "High", "Very low"},
           {},
           "Threads hand off in microseconds (no interpreter); a Pipe crosses the kernel twice"};
  for (int i = 0; i < 3; ++i) {
    over.measured[i] = ms[i]->handoff ? fmt::format("hand-off {}", format_seconds(*ms[i]->handoff)) : std::string(kNotMeasured);
  }
  rows.push_back(over);

  Row sync{"Synchronization",
           {"Locks, semaphores, events", "Pipes, queues", "No synchronization needed (usually)"},
           {},
           "An uncontended Lock is one atomic instruction pair: no system call, no interpreter"};
  for (int i = 0; i < 3; ++i) {
    sync.measured[i] = fmt::format("Lock {}; counter {}", or_missing(ms[i]->lock_uncontended, format_seconds),
                                   or_missing(ms[i]->counter_contended, format_seconds));
  }
  rows.push_back(sync);

  rows.push_back(Row{"Complexity",
                     {"Medium", "High", "Medium"},
                     {"(a judgement, not measured)", "(a judgement, not measured)", "(a judgement, not measured)"},
                     "Process targets must be plain functions with serializable arguments (checked at compile time)"});
  return rows;
}

const char* kModelTitles[3] = {"Threading", "Multiprocessing", "Asyncio"};

std::string header_line(const Results& r) {
  const std::string load = r.load_average >= 0 ? fmt::format(", load average {:.2f} at start", r.load_average) : "";
  return fmt::format("concur compare: {} cores{}, {}, {}{}; medians of {} runs; {} in all{}", r.cpus, load, r.system,
                     r.compiler, r.settings.quick ? ", --quick" : "", r.settings.repetitions, format_seconds(r.elapsed),
                     r.complete ? "" : " (INTERRUPTED: partial results)");
}

std::size_t display_width(std::string_view s) {
  // Every string here is ASCII.
  return s.size();
}

struct DetailTable {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> body;
};

std::vector<DetailTable> detail_tables(const Results& r) {
  std::vector<DetailTable> out;
  DetailTable io{{"I/O-bound", "N", "wall", "serial sum", "speedup"}, {}};
  for (Model m : kModels) {
    for (const IoPoint& p : r.of(m).io) {
      io.body.push_back({std::string(model_key(m)), format_count(static_cast<double>(p.units)), format_seconds(p.wall),
                         format_seconds(p.serial_sum), fmt::format("{:.1f}x", p.speedup())});
    }
  }
  out.push_back(std::move(io));
  DetailTable cpu{{"CPU-bound", "units", "wall", "serial", "speedup"}, {}};
  for (Model m : kModels) {
    if (const auto& c = r.of(m).cpu) {
      cpu.body.push_back({std::string(model_key(m)), fmt::format("{}", c->workers), format_seconds(c->wall),
                          format_seconds(c->serial), fmt::format("{:.2f}x", c->speedup())});
    }
  }
  out.push_back(std::move(cpu));
  return out;
}

std::string text_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body) {
  std::vector<std::size_t> widths(head.size(), 0);
  for (std::size_t i = 0; i < head.size(); ++i) widths[i] = display_width(head[i]);
  for (const auto& row : body) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  std::string rule = "+";
  for (std::size_t w : widths) rule += std::string(w + 2, '-') + "+";
  rule += "\n";
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (std::size_t i = 0; i < widths.size(); ++i) s += fmt::format(" {:<{}} |", i < cells.size() ? cells[i] : "", widths[i]);
    return s + "\n";
  };
  std::string out = rule + line(head) + rule;
  for (const auto& row : body) out += line(row);
  return out + rule;
}

std::string markdown_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body) {
  std::string out = "|";
  for (const auto& h : head) out += " " + h + " |";
  out += "\n|";
  for (std::size_t i = 0; i < head.size(); ++i) out += " --- |";
  out += "\n";
  for (const auto& row : body) {
    out += "|";
    for (const auto& cell : row) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

std::string notes_text(const Results& r, std::string_view bullet) {
  std::string out;
  for (const std::string& n : r.notes) out += fmt::format("{}{}\n", bullet, n);
  return out;
}

}  // namespace

std::string render_terminal(const Results& r) {
  std::string out = header_line(r) + "\n\n";
  // The seed's table: each cell is the seed's claim, then the measured figure on the next line.
  const std::vector<Row> rows = table_rows(r);
  std::vector<std::size_t> widths{0, 0, 0, 0, 0};
  const std::vector<std::string> head{"Aspect", kModelTitles[0], kModelTitles[1], kModelTitles[2], "Where C++ differs"};
  for (std::size_t i = 0; i < head.size(); ++i) widths[i] = head[i].size();
  for (const Row& row : rows) {
    widths[0] = std::max(widths[0], row.aspect.size());
    for (int i = 0; i < 3; ++i) {
      widths[i + 1] = std::max({widths[i + 1], row.claim[i].size() + 2, row.measured[i].size() + 2});
    }
  }
  // The last column wraps at 44 characters so that the table stays readable.
  constexpr std::size_t kWrap = 44;
  widths[4] = std::max(widths[4], kWrap);
  const auto wrap = [](const std::string& text) {
    std::vector<std::string> lines{""};
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find(' ', pos);
      if (end == std::string::npos) end = text.size();
      const std::string word = text.substr(pos, end - pos);
      if (!lines.back().empty() && lines.back().size() + 1 + word.size() > kWrap) lines.emplace_back();
      if (!lines.back().empty()) lines.back() += ' ';
      lines.back() += word;
      pos = end + 1;
    }
    return lines;
  };
  std::string rule = "+";
  for (std::size_t w : widths) rule += std::string(w + 2, '-') + "+";
  rule += "\n";
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (std::size_t i = 0; i < widths.size(); ++i) s += fmt::format(" {:<{}} |", cells[i], widths[i]);
    return s + "\n";
  };
  out += rule + line(head) + rule;
  for (const Row& row : rows) {
    std::vector<std::string> differs = wrap(row.differs);
    differs.resize(std::max<std::size_t>(differs.size(), 2));
    out += line({row.aspect, row.claim[0], row.claim[1], row.claim[2], differs[0]});
    out += line({"", "= " + row.measured[0], "= " + row.measured[1], "= " + row.measured[2], differs[1]});
    for (std::size_t k = 2; k < differs.size(); ++k) out += line({"", "", "", "", differs[k]});
    out += rule;
  }
  out += "(each cell: the seed's claim about Python, then '=' and the figure measured here for C++)\n";
  for (const DetailTable& t : detail_tables(r)) {
    if (!t.body.empty()) out += "\n" + text_table(t.head, t.body);
  }
  if (!r.notes.empty()) out += "\nNotes:\n" + notes_text(r, "  - ");
  return out;
}

std::string render_markdown(const Results& r) {
  std::string out = header_line(r) + "\n\n";
  std::vector<std::vector<std::string>> body;
  for (const Row& row : table_rows(r)) {
    std::vector<std::string> cells{"**" + row.aspect + "**"};
    for (int i = 0; i < 3; ++i) cells.push_back(row.claim[i] + "<br>**" + row.measured[i] + "**");
    cells.push_back(row.differs);
    body.push_back(std::move(cells));
  }
  out += markdown_table({"Aspect", kModelTitles[0], kModelTitles[1], kModelTitles[2], "Where C++ differs"}, body);
  out += "\nEach cell: the seed's claim about Python, then (bold) the figure measured here for C++.\n";
  for (const DetailTable& t : detail_tables(r)) {
    if (!t.body.empty()) out += "\n" + markdown_table(t.head, t.body);
  }
  if (!r.notes.empty()) out += "\nNotes:\n\n" + notes_text(r, "- ");
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
  settings += "}";

  std::string models = "{";
  for (Model m : kModels) {
    const ModelResults& mr = r.of(m);
    std::string obj = "{";
    optional_field(obj, "startup_s", mr.startup);
    optional_field(obj, "memory_per_unit_bytes", mr.memory_per_unit);
    optional_field(obj, "units_in_budget", mr.units_in_budget);
    optional_field(obj, "handoff_s", mr.handoff);
    std::string io = "[";
    for (const IoPoint& p : mr.io) {
      if (io.size() > 1) io += ", ";
      std::string point = "{";
      field(point, "units", fmt::format("{}", p.units));
      field(point, "wall_s", json_number(p.wall));
      field(point, "serial_sum_s", json_number(p.serial_sum));
      field(point, "speedup", json_number(p.speedup()));
      io += point + "}";
    }
    field(obj, "io_bound", io + "]");
    if (mr.cpu) {
      std::string cpu = "{";
      field(cpu, "units", fmt::format("{}", mr.cpu->workers));
      field(cpu, "wall_s", json_number(mr.cpu->wall));
      field(cpu, "serial_s", json_number(mr.cpu->serial));
      field(cpu, "speedup", json_number(mr.cpu->speedup()));
      field(obj, "cpu_bound", cpu + "}");
    }
    optional_field(obj, "lock_uncontended_s", mr.lock_uncontended);
    if (mr.counter_contended) {
      field(obj, "counter_contended_s", json_number(*mr.counter_contended));
      field(obj, "counter_units", fmt::format("{}", mr.counter_units));
    }
    field(models, model_key(m), obj + "}");
  }
  models += "}";

  std::string notes = "[";
  for (const std::string& n : r.notes) {
    if (notes.size() > 1) notes += ", ";
    notes += json_string(n);
  }
  notes += "]";

  std::string out = "{";
  field(out, "schema", json_string("concur-compare/1"));
  field(out, "complete", r.complete ? "true" : "false");
  field(out, "elapsed_s", json_number(r.elapsed));
  field(out, "machine", machine);
  field(out, "settings", settings);
  field(out, "models", models);
  field(out, "notes", notes);
  return out + "}\n";
}

}  // namespace concur::tool::compare
