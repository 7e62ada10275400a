// SPDX-License-Identifier: MIT
// The executor workload shared by executor_concur.cpp, executor_tbb.cpp and
// executor_python.py: submit kTasks trivial tasks (each returns a small int), then collect
// every result, and sum them so nothing can be skipped. Each measurement includes creating the
// pool and shutting it down, as Python's `with ThreadPoolExecutor() as ex:` does. Every
// implementation uses its library's default number of workers.
#pragma once

#include <cstdint>

namespace bench {

inline constexpr std::int64_t kTasks = 1'000'000;

/// The trivial task: its result depends on its argument so the sum checks every result.
inline int trivial_task(int i) { return i & 1; }

/// The sum the results must add up to.
inline constexpr std::int64_t kExpectedSum = kTasks / 2;

}  // namespace bench
