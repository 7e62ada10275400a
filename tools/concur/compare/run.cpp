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
  results.cpus = multiprocessing::cpu_count();
  results.system = system_name();
  results.compiler = compiler_name();
  results.load_average = detail::load_average();

  detail::Context ctx{settings, stop, results.cpus, 0};
  const std::size_t counter_units = std::max<std::size_t>(2, results.cpus);
  ModelResults& thr = results.of(Model::threads);
  ModelResults& proc = results.of(Model::processes);
  ModelResults& task = results.of(Model::asyncio);
  const auto budget = static_cast<double>(settings.memory_budget);
  double cpu_serial = 0;

  std::vector<Step> steps;
  // Memory first (see the top of this file).
  steps.push_back({"threads: memory per thread", [&] {
                     thr.memory_per_unit = detail::thread_memory(ctx);
                     thr.units_in_budget = budget / *thr.memory_per_unit;
                   }});
  steps.push_back({"processes: memory per process", [&] {
                     proc.memory_per_unit = detail::process_memory(ctx);
                     proc.units_in_budget = budget / *proc.memory_per_unit;
                   }});
  steps.push_back({"asyncio: memory per task", [&] {
                     task.memory_per_unit = detail::task_memory(ctx);
                     task.units_in_budget = budget / *task.memory_per_unit;
                   }});
  steps.push_back({"threads: start-up cost", [&] { thr.startup = detail::thread_startup(ctx); }});
  steps.push_back({"processes: start-up cost", [&] { proc.startup = detail::process_startup(ctx); }});
  steps.push_back({"asyncio: start-up cost", [&] { task.startup = detail::task_startup(ctx); }});
  steps.push_back({"threads: hand-off latency (Event)", [&] { thr.handoff = detail::thread_handoff(ctx); }});
  steps.push_back({"processes: hand-off latency (Pipe)", [&] { proc.handoff = detail::process_handoff(ctx); }});
  steps.push_back({"asyncio: hand-off latency (Queue)", [&] { task.handoff = detail::task_handoff(ctx); }});
  for (std::size_t n : settings.io_counts_threads) {
    steps.push_back({fmt::format("threads: I/O-bound, N = {}", n), [&, n] { thr.io.push_back(detail::thread_io(ctx, n)); }});
  }
  for (std::size_t n : settings.io_counts_processes) {
    steps.push_back({fmt::format("processes: I/O-bound, N = {}", n), [&, n] { proc.io.push_back(detail::process_io(ctx, n)); }});
  }
  for (std::size_t n : settings.io_counts_asyncio) {
    steps.push_back({fmt::format("asyncio: I/O-bound, N = {}", n), [&, n] { task.io.push_back(detail::task_io(ctx, n)); }});
  }
  steps.push_back({"CPU-bound: serial reference", [&] {
                     ctx.cpu_iterations = detail::calibrate_cpu_work(settings.cpu_serial_seconds);
                     cpu_serial = detail::serial_cpu(ctx);
                   }});
  const auto cpu_step = [&](ModelResults& m, double (*fn)(const detail::Context&)) {
    if (cpu_serial <= 0) throw RuntimeError("the serial reference run did not complete");
    m.cpu = CpuRun{results.cpus, fn(ctx), cpu_serial};
  };
  steps.push_back({"threads: CPU-bound on every core", [&] { cpu_step(thr, detail::thread_cpu); }});
  steps.push_back({"processes: CPU-bound on every core", [&] { cpu_step(proc, detail::process_cpu); }});
  steps.push_back({"asyncio: CPU-bound on one loop", [&] { cpu_step(task, detail::task_cpu); }});
  steps.push_back({"threads: uncontended Lock", [&] { thr.lock_uncontended = detail::thread_lock(ctx); }});
  steps.push_back({"processes: uncontended Lock", [&] { proc.lock_uncontended = detail::process_lock(ctx); }});
  steps.push_back({"asyncio: uncontended Lock", [&] { task.lock_uncontended = detail::task_lock(ctx); }});
  for (ModelResults* m : {&thr, &proc, &task}) m->counter_units = counter_units;
  steps.push_back({"threads: contended counter", [&] { thr.counter_contended = detail::thread_counter(ctx, counter_units); }});
  steps.push_back({"processes: contended counter", [&] { proc.counter_contended = detail::process_counter(ctx, counter_units); }});
  steps.push_back({"asyncio: contended counter", [&] { task.counter_contended = detail::task_counter(ctx, counter_units); }});

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
  results.complete = !interrupted;
  results.elapsed = detail::now() - started;
  return results;
}

}  // namespace concur::tool::compare
