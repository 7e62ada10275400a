// SPDX-License-Identifier: MIT
// concur/timeout.hpp — how concur spells a timeout.
//
// Python takes timeouts as float seconds, with None meaning "wait forever". concur takes a
// `concur::Timeout`, which is a std::chrono::duration<double> (seconds): every std::chrono
// duration converts to it implicitly (`100ms`, `2s`, `1.5s`). Where Python's default is None,
// the parameter is a `std::optional<Timeout>` defaulting to std::nullopt:
//
//     lock.acquire(true, 250ms);     q.get({.timeout = 1s});     t.join(2s);
//
// A negative timeout means "do not wait" where Python allows it (Condition.wait, Event.wait) and
// is a ValueError where Python says so (queue get/put, Lock.acquire with a timeout other than -1).
#pragma once

#include <chrono>
#include <optional>

namespace concur {

/// A timeout in seconds, as in Python; any std::chrono duration converts to it.
using Timeout = std::chrono::duration<double>;

namespace detail {
/// The steady-clock instant `timeout` from now, saturating far-future values instead of
/// overflowing (a timeout of 1e300 s means "practically forever", not a wrapped deadline).
inline std::chrono::steady_clock::time_point deadline_after(Timeout timeout) {
  using clock = std::chrono::steady_clock;
  const auto now = clock::now();
  const Timeout room = std::chrono::duration_cast<Timeout>(clock::time_point::max() - now);
  if (timeout >= room) return clock::time_point::max();
  if (timeout <= Timeout::zero()) return now;
  return now + std::chrono::duration_cast<clock::duration>(timeout);
}
}  // namespace detail

}  // namespace concur
