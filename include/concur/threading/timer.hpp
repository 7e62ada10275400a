// SPDX-License-Identifier: MIT
// concur/threading/timer.hpp — Timer, Python's threading.Timer.
//
// A Timer is a Thread that waits `interval` and then calls a function, unless cancel() was
// called first:
//
//   th::Timer t(30s, [] { std::puts("time is up"); });
//   t.start();
//   ...
//   t.cancel();   // if it has not fired yet, it never will
//
// cancel() stops the timer while it waits; it has no effect once the function has started. The
// function and its arguments are decay-copied, and everything the timer needs is shared with its
// thread, so (unlike a Thread subclass) a Timer object may be destroyed or moved while it runs,
// as in Python. A Timer is a Thread: start, join, is_alive, name, daemon work as there; an
// exception thrown by the function goes to the excepthook.
//
// Thread safety: all members may be called from any thread. A zero or negative interval fires at
// once (after start()).
#pragma once

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "concur/threading/event.hpp"
#include "concur/threading/thread.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

/// threading.Timer: a thread that calls a function after an interval, unless cancelled.
class Timer : public Thread {
 public:
  /// A timer that, once started, waits `interval` and then calls `function(args...)`.
  template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
  Timer(Timeout interval, F&& function, Args&&... args)
      : Timer(std::make_shared<Event>(), interval, std::forward<F>(function), std::forward<Args>(args)...) {}

  /// Stops the timer if it is still waiting (the function will not be called). Never throws.
  void cancel() noexcept {
    if (m_finished) m_finished->set();
  }

 private:
  template <class F, class... Args>
  Timer(std::shared_ptr<Event> finished, Timeout interval, F&& function, Args&&... args)
      : Thread(
            [finished, interval](std::decay_t<F> fn, std::decay_t<Args>... copies) {
              finished->wait(interval);
              if (!finished->is_set()) std::invoke(std::move(fn), std::move(copies)...);
              finished->set();
            },
            std::forward<F>(function), std::forward<Args>(args)...),
        m_finished(std::move(finished)) {}

  // Set by cancel() or when the function returned; shared with the timer's thread. Null only in
  // a moved-from Timer.
  std::shared_ptr<Event> m_finished;
};

}  // namespace concur::threading
