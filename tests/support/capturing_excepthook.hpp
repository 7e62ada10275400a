// SPDX-License-Identifier: MIT
// tests/support/capturing_excepthook.hpp — a threading excepthook that records what it is given,
// for tests of what reaches threading::excepthook (a Thread's escaping exception, a Pool
// callback's).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading/thread.hpp"

namespace concur::testing_support {

/// Installs a threading excepthook that records every report it receives; restores the
/// previous hook on destruction. Thread-safe: reports may arrive from any thread.
class CapturingExceptHook {
 public:
  struct Record {
    std::string type, message, thread_name;
    bool ran_in_failing_thread = false;  ///< the hook ran in the thread named by the report
  };
  CapturingExceptHook()
      : m_previous(threading::set_excepthook([this](const threading::ExceptHookArgs& args) {
          const std::scoped_lock hold(m_mutex);
          m_records.push_back({args.exc_type, concur::exception_message(args.exc_value), args.thread.name(),
                               threading::current_thread() == args.thread});
        })) {}
  CapturingExceptHook(const CapturingExceptHook&) = delete;
  CapturingExceptHook& operator=(const CapturingExceptHook&) = delete;
  ~CapturingExceptHook() { threading::set_excepthook(m_previous); }
  /// What was reported so far, in order.
  std::vector<Record> records() {
    const std::scoped_lock hold(m_mutex);
    return m_records;
  }

 private:
  std::mutex m_mutex;
  std::vector<Record> m_records;  // guarded by m_mutex
  threading::ExceptHook m_previous;
};

}  // namespace concur::testing_support
