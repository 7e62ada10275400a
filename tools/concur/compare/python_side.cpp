// SPDX-License-Identifier: MIT
// tools/concur/compare/python_side.cpp — runs python/compare_python.py, one figure per call, as
// an asyncio subprocess with a time limit, and reads the JSON value it prints.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <concur/asyncio.hpp>
#include <concur/errors.hpp>

#include "measure.hpp"

namespace asyncio = concur::asyncio;

namespace concur::tool::compare::detail {

namespace {

struct Outcome {
  int status = 0;
  std::string out;
  std::string err;
};

asyncio::Task<Outcome> run_script(std::string executable, std::vector<std::string> args, double limit) {
  asyncio::Process p = co_await asyncio::create_subprocess_exec(
      std::move(executable), std::move(args),
      {.stdin_ = asyncio::DEVNULL, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::PIPE});
  // A child that overruns the limit is killed when `p`, its last handle, goes.
  auto [out, err] = co_await asyncio::wait_for(p.communicate(), Timeout{limit});
  co_return Outcome{p.returncode().value_or(-1), std::move(out), std::move(err)};
}

/// The last non-empty line of `text` (a Python error's one-line summary).
std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return {};
  const std::size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

Outcome run_checked(const std::string& executable, std::vector<std::string> args, double limit, const std::string& what) {
  Outcome o;
  try {
    o = asyncio::run(run_script(executable, std::move(args), limit));
  } catch (const TimeoutError&) {
    throw std::runtime_error(fmt::format("{} took more than {:.0f} s and was stopped", what, limit));
  } catch (const OSError& e) {
    throw std::runtime_error(fmt::format("cannot run {}: {}", executable, e.what()));
  }
  if (o.status != 0) {
    const std::string why = last_line(o.err);
    throw std::runtime_error(fmt::format("{} failed (exit status {}){}{}", what, o.status, why.empty() ? "" : ": ", why));
  }
  return o;
}

/// The value of `"key": "..."` in a flat JSON object of strings (no escapes inside).
std::string string_field(const std::string& json, const std::string& key) {
  const std::string tag = "\"" + key + "\": \"";
  const std::size_t at = json.find(tag);
  if (at == std::string::npos) return {};
  const std::size_t start = at + tag.size();
  const std::size_t end = json.find('"', start);
  return end == std::string::npos ? std::string{} : json.substr(start, end - start);
}

}  // namespace

std::string python_script_path() {
  std::error_code ec;
  // For running the tool (or its tests) from elsewhere than beside share/concur/.
  if (const char* path = std::getenv("CONCUR_COMPARE_PYTHON_SCRIPT"); path != nullptr && *path != '\0') {
    return std::filesystem::is_regular_file(path, ec) ? std::string(path) : std::string{};
  }
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const std::filesystem::path script = exe.parent_path().parent_path() / "share" / "concur" / "compare_python.py";
  return std::filesystem::is_regular_file(script, ec) ? script.string() : std::string{};
}

PythonSide::PythonSide(std::string executable) : m_script(python_script_path()) {
  if (m_script.empty()) throw std::runtime_error("the Python side's script (share/concur/compare_python.py) is not installed");
  const Outcome o = run_checked(executable, {m_script, "--version"}, 30, executable);
  m_info.executable = std::move(executable);
  m_info.version = string_field(o.out, "version");
  if (m_info.version.empty()) throw std::runtime_error(fmt::format("{} did not say its version", m_info.executable));
}

std::string PythonSide::run(const std::string& step, const std::vector<std::string>& args, double limit) const {
  std::vector<std::string> all{m_script, step};
  all.insert(all.end(), args.begin(), args.end());
  return run_checked(m_info.executable, std::move(all), limit, "python " + step).out;
}

double PythonSide::number(const std::string& json, const std::string& key) {
  std::size_t start = 0;
  if (!key.empty()) {
    const std::string tag = "\"" + key + "\":";
    const std::size_t at = json.find(tag);
    if (at == std::string::npos) throw std::runtime_error(fmt::format("the Python side printed no \"{}\": {}", key, json));
    start = at + tag.size();
  }
  const char* begin = json.c_str() + start;
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin) throw std::runtime_error(fmt::format("the Python side printed no number: {}", json));
  return v;
}

}  // namespace concur::tool::compare::detail
