// SPDX-License-Identifier: MIT
// tools/concur/compare/run.cpp — runs the measurements one after the other.
//
// Steps run strictly in sequence, never two at once: each would disturb the other's timing,
// and the process measurements fork, which must not happen while our own threads run. The
// memory steps come first, before any thread of ours has come and gone (glibc keeps the stacks
// of finished threads for reuse, which would hide a new thread's stack from the count).
#include <sys/utsname.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <concur/errors.hpp>
#include <concur/multiprocessing/process.hpp>

#include "measure.hpp"

namespace concur::tool::compare {

namespace {

struct Step {
  std::string what;
  std::function<void()> run;
};

std::string system_name() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  return fmt::format("{} {} {}", u.sysname, u.release, u.machine);
}

std::string compiler_name() {
#if defined(__clang__)
  return fmt::format("clang++ {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

}  // namespace

Results run_all(const Settings& settings, const std::atomic<bool>& stop, const ProgressFn& progress) {
  const double started = detail::now();
  Results results;
  results.settings = settings;
  results.cpus = multiprocessing::process_cpu_count();
  results.system = system_name();
  results.compiler = compiler_name();
  results.load_average = detail::load_average();
  detail::raise_fd_limit();

  detail::Context ctx{settings, stop, results.cpus, 0, 0, 0};
  const std::size_t counter_units = std::max<std::size_t>(2, results.cpus);
  const auto budget = static_cast<double>(settings.memory_budget);
  const std::size_t socket_limit = detail::max_socket_units();

  // The Python side, when asked for and usable.
  std::unique_ptr<detail::PythonSide> py;
  if (!settings.python.empty()) {
    try {
      py = std::make_unique<detail::PythonSide>(settings.python);
      results.python = py->info();
    } catch (const std::exception& e) {
      results.notes.push_back(fmt::format("Python not measured: {}", e.what()));
    }
  }
  const double py_limit = 60.0 + 20.0 * settings.repetitions;
  const std::vector<std::string> reps{"--repetitions", std::to_string(settings.repetitions)};
  const auto py_args = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = reps;
    if (settings.quick) args.emplace_back("--quick");
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const auto py_number = [&](const std::string& step, std::vector<std::string> extra = {}) {
    return detail::PythonSide::number(py->run(step, py_args(std::move(extra)), py_limit));
  };
  const auto py_io = [&](const std::string& step, std::size_t n, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--units", std::to_string(n)});
    const std::string json = py->run(step, py_args(std::move(extra)), py_limit);
    return IoPoint{n, detail::PythonSide::number(json, "wall_s"), detail::PythonSide::number(json, "serial_sum_s")};
  };

  std::vector<Step> steps;
  // Adds the C++ step and, when Python is measured, the same figure's Python step right after.
  const auto add = [&](std::string what, std::function<void()> cpp, std::function<void()> python) {
    steps.push_back({fmt::format("C++ {}", what), std::move(cpp)});
    if (py && python) steps.push_back({fmt::format("Python {}", what), std::move(python)});
  };
  const auto model_name = [](Model m) { return std::string(model_key(m)); };
  const auto cpp_of = [&](Model m) -> ModelResults& { return results.of(m, Language::cpp); };
  const auto py_of = [&](Model m) -> ModelResults& { return results.of(m, Language::python); };

  // Memory first (see the top of this file). Python's are each in a fresh interpreter.
  using MemFn = double (*)(const detail::Context&);
  const std::pair<Model, MemFn> memory[] = {{Model::threads, detail::thread_memory},
                                            {Model::processes, detail::process_memory},
                                            {Model::asyncio, detail::task_memory}};
  for (const auto& [m, fn] : memory) {
    add(fmt::format("{}: memory per unit", model_name(m)),
        [&, m = m, fn = fn] {
          cpp_of(m).memory_per_unit = fn(ctx);
          cpp_of(m).units_in_budget = budget / *cpp_of(m).memory_per_unit;
        },
        [&, m = m] {
          py_of(m).memory_per_unit = py_number(model_name(m) + ".memory");
          py_of(m).units_in_budget = budget / *py_of(m).memory_per_unit;
        });
  }
  using FigureFn = double (*)(const detail::Context&);
  struct Figure {
    const char* what;
    const char* step;
    std::optional<double> ModelResults::*member;
    FigureFn fns[3];
  };
  const Figure figures[] = {
      {"start-up cost", "startup", &ModelResults::startup, {detail::thread_startup, detail::process_startup, detail::task_startup}},
      {"hand-off latency", "handoff", &ModelResults::handoff, {detail::thread_handoff, detail::process_handoff, detail::task_handoff}},
  };
  for (const Figure& f : figures) {
    for (Model m : kModels) {
      add(fmt::format("{}: {}", model_name(m), f.what), [&, m, fn = f.fns[static_cast<int>(m)], member = f.member] {
            cpp_of(m).*member = fn(ctx);
          },
          [&, m, step = std::string(f.step), member = f.member] { py_of(m).*member = py_number(model_name(m) + "." + step); });
    }
  }
  using IoFn = IoPoint (*)(const detail::Context&, std::size_t);
  const IoFn timer_fns[3] = {detail::thread_io, detail::process_io, detail::task_io};
  const std::vector<std::size_t>* timer_counts[3] = {&settings.io_counts_threads, &settings.io_counts_processes,
                                                     &settings.io_counts_asyncio};
  for (Model m : kModels) {
    for (std::size_t n : *timer_counts[static_cast<int>(m)]) {
      add(fmt::format("{}: I/O-bound on timers, N = {}", model_name(m), n),
          [&, m, n, fn = timer_fns[static_cast<int>(m)]] { cpp_of(m).io.push_back(fn(ctx, n)); },
          [&, m, n] {
            py_of(m).io.push_back(py_io(model_name(m) + ".io", n, {"--seconds", fmt::format("{}", settings.io_wait)}));
          });
    }
  }
  // Over sockets, with an echo peer that lives for these steps only.
  std::shared_ptr<detail::EchoPeer> echo;
  const IoFn socket_fns[3] = {detail::thread_sockets, detail::process_sockets, detail::task_sockets};
  const std::vector<std::size_t>* socket_counts[3] = {&settings.socket_counts_threads, &settings.socket_counts_processes,
                                                      &settings.socket_counts_asyncio};
  bool any_socket_step = false;
  for (Model m : kModels) {
    for (std::size_t n : *socket_counts[static_cast<int>(m)]) {
      if (n > socket_limit) {
        results.notes.push_back(fmt::format("{}: I/O-bound over sockets, N = {}: skipped, the open-file limit allows {}",
                                            model_name(m), n, socket_limit));
        continue;
      }
      if (!any_socket_step) {
        steps.push_back({"starting the echo peer on 127.0.0.1", [&] {
                           echo = std::make_shared<detail::EchoPeer>(settings.io_wait / detail::kExchanges);
                           ctx.echo_port = echo->port();
                         }});
        any_socket_step = true;
      }
      add(fmt::format("{}: I/O-bound over sockets, N = {}", model_name(m), n),
          [&, m, n, fn = socket_fns[static_cast<int>(m)]] {
            if (ctx.echo_port == 0) throw RuntimeError("the echo peer did not start");
            cpp_of(m).sockets.push_back(fn(ctx, n));
          },
          [&, m, n] {
            if (ctx.echo_port == 0) throw RuntimeError("the echo peer did not start");
            py_of(m).sockets.push_back(py_io(model_name(m) + ".sockets", n, {"--port", std::to_string(ctx.echo_port)}));
          });
    }
  }
  if (any_socket_step) steps.push_back({"stopping the echo peer", [&] { echo.reset(); }});

  // CPU-bound: pure arithmetic. Each language sizes the work to the same serial time.
  double cpu_serial = 0, py_cpu_serial = 0;
  std::uint64_t py_iterations = 0;
  const auto workers = std::to_string(results.cpus);
  add("CPU-bound: serial reference",
      [&] {
        ctx.cpu_iterations = detail::calibrate_cpu_work(settings.cpu_serial_seconds);
        cpu_serial = detail::serial_cpu(ctx);
      },
      [&] {
        py_iterations = static_cast<std::uint64_t>(detail::PythonSide::number(
            py->run("cpu.calibrate", {"--seconds", fmt::format("{}", settings.cpu_serial_seconds)}, py_limit), "iterations"));
        py_cpu_serial = py_number("cpu.serial", {"--iterations", std::to_string(py_iterations)});
      });
  const FigureFn cpu_fns[3] = {detail::thread_cpu, detail::process_cpu, detail::task_cpu};
  for (Model m : kModels) {
    add(fmt::format("{}: CPU-bound on {}", model_name(m), m == Model::asyncio ? "one loop" : "every core"),
        [&, m, fn = cpu_fns[static_cast<int>(m)]] {
          if (cpu_serial <= 0) throw RuntimeError("the serial reference run did not complete");
          cpp_of(m).cpu = CpuRun{results.cpus, fn(ctx), cpu_serial, static_cast<double>(ctx.cpu_iterations)};
        },
        [&, m] {
          if (py_cpu_serial <= 0) throw RuntimeError("the serial reference run did not complete");
          const double wall = py_number(model_name(m) + ".cpu", {"--iterations", std::to_string(py_iterations), "--workers", workers});
          py_of(m).cpu = CpuRun{results.cpus, wall, py_cpu_serial, static_cast<double>(py_iterations)};
        });
  }
  // CPU-bound: allocation-heavy, with malloc's defaults and (C++) after tune_malloc().
  double alloc_serial = 0, alloc_serial_tuned = 0, py_alloc_serial = 0;
  std::uint64_t py_alloc_tasks = 0;
  add("allocation-heavy: serial reference",
      [&] {
        ctx.alloc_tasks = detail::calibrate_alloc_work(settings.alloc_serial_seconds);
        alloc_serial = detail::serial_alloc(ctx, false);
        alloc_serial_tuned = detail::serial_alloc(ctx, true);
      },
      [&] {
        py_alloc_tasks = static_cast<std::uint64_t>(detail::PythonSide::number(
            py->run("alloc.calibrate", {"--seconds", fmt::format("{}", settings.alloc_serial_seconds)}, py_limit), "iterations"));
        py_alloc_serial = py_number("alloc.serial", {"--iterations", std::to_string(py_alloc_tasks)});
      });
  for (Model m : kModels) {
    add(fmt::format("{}: allocation-heavy", model_name(m)),
        [&, m] {
          if (alloc_serial <= 0) throw RuntimeError("the serial reference run did not complete");
          const auto work = static_cast<double>(ctx.alloc_tasks);
          if (m == Model::asyncio) {
            cpp_of(m).alloc = CpuRun{results.cpus, detail::task_alloc(ctx), alloc_serial, work};
            return;
          }
          const auto fn = m == Model::threads ? detail::thread_alloc : detail::process_alloc;
          cpp_of(m).alloc = CpuRun{results.cpus, fn(ctx, false), alloc_serial, work};
          cpp_of(m).alloc_tuned = CpuRun{results.cpus, fn(ctx, true), alloc_serial_tuned, work};
        },
        [&, m] {
          if (py_alloc_serial <= 0) throw RuntimeError("the serial reference run did not complete");
          const double wall =
              py_number(model_name(m) + ".alloc", {"--iterations", std::to_string(py_alloc_tasks), "--workers", workers});
          py_of(m).alloc = CpuRun{results.cpus, wall, py_alloc_serial, static_cast<double>(py_alloc_tasks)};
        });
  }
  const FigureFn lock_fns[3] = {detail::thread_lock, detail::process_lock, detail::task_lock};
  for (Model m : kModels) {
    add(fmt::format("{}: uncontended Lock", model_name(m)),
        [&, m, fn = lock_fns[static_cast<int>(m)]] { cpp_of(m).lock_uncontended = fn(ctx); },
        [&, m] { py_of(m).lock_uncontended = py_number(model_name(m) + ".lock"); });
  }
  using CounterFn = double (*)(const detail::Context&, std::size_t);
  const CounterFn counter_fns[3] = {detail::thread_counter, detail::process_counter, detail::task_counter};
  for (Model m : kModels) {
    cpp_of(m).counter_units = counter_units;
    if (py) py_of(m).counter_units = counter_units;
    add(fmt::format("{}: contended counter", model_name(m)),
        [&, m, fn = counter_fns[static_cast<int>(m)]] { cpp_of(m).counter_contended = fn(ctx, counter_units); },
        [&, m] {
          py_of(m).counter_contended = py_number(model_name(m) + ".counter", {"--units", std::to_string(counter_units)});
        });
  }

  bool interrupted = false;
  for (std::size_t i = 0; i < steps.size() && !interrupted; ++i) {
    if (stop.load()) {
      interrupted = true;
      break;
    }
    if (progress) progress(i, steps.size(), steps[i].what);
    std::string failure;
    try {
      steps[i].run();
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (const BaseException& e) {
      failure = e.what();
    }
    // A step that fails because Ctrl-C reached its children is an interruption, not a finding.
    if (stop.load()) interrupted = true;
    if (!failure.empty() && !interrupted) results.notes.push_back(fmt::format("{}: failed: {}", steps[i].what, failure));
  }
  echo.reset();
  results.complete = !interrupted;
  results.elapsed = detail::now() - started;
  return results;
}

}  // namespace concur::tool::compare
