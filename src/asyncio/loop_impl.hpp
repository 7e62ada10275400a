// The libuv side of EventLoop (private to src/asyncio/): the uv_loop_t, the one uv_timer_t
// that drives the loop's own timer buckets, the uv_async_t of call_soon_threadsafe, and the
// default executor.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "concur/asyncio/events.hpp"

namespace concur::asyncio::detail {

/// The queue of call_soon_threadsafe(): shared with the threads that post to it, so that a
/// post after the loop closed is refused instead of touching a dead loop.
class ThreadsafeQueue {
 public:
  /// Queues `node` and wakes the loop. False (and `node` untouched) once the loop is closed.
  bool post(CallbackNode* node) noexcept;
  /// Moves every queued node to `loop`'s ready queue (loop thread, from the uv_async_t).
  void drain(EventLoop& loop) noexcept;
  /// Refuses further posts; returns the nodes still queued (loop thread, at close).
  std::vector<CallbackNode*> close() noexcept;
  uv_async_t* m_async = nullptr;  // written under both locks, read under either; null once closed

 private:
  std::mutex m_mutex;                  // guards m_nodes
  std::shared_mutex m_send_mutex;      // shared while a poster wakes the loop; exclusive in close()
  std::vector<CallbackNode*> m_nodes;  // guarded by m_mutex
  std::vector<CallbackNode*> m_spare;  // loop thread only: the buffer swapped in by drain()
};

/// Timers bucketed by millisecond tick: O(1) insert and removal (intrusive circular lists with a
/// sentinel per bucket), a small heap of the ticks that have a bucket, and deadline order
/// restored inside a bucket when it fires. A binary heap of a million timers would cost a cache
/// miss per level on every pop; this touches each timer twice.
class TimerBuckets {
 public:
  void add(TimerNode* node, std::int64_t deadline_ns);
  void remove(TimerNode* node) noexcept;
  /// Fires (calls m_fire on) every timer whose millisecond has fully passed at `now_ns`, in
  /// deadline order (insertion order among equal deadlines).
  void fire_due(std::int64_t now_ns);
  /// The nanosecond instant the earliest timer is due, or -1 if there is none.
  std::int64_t next_due() noexcept;
  /// Unlinks every timer; calls `on_each` for each (at close).
  void clear(const std::function<void(TimerNode*)>& on_each);
  [[nodiscard]] std::size_t size() const noexcept { return m_armed; }

 private:
  static constexpr std::int64_t tick_ns = 1'000'000;
  std::unordered_map<std::int64_t, TimerNode> m_buckets;  // tick -> sentinel of its circular list
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> m_ticks;  // ticks with a bucket
  std::vector<TimerNode*> m_scratch;
  std::size_t m_armed = 0;
};

struct LoopImpl {
  uv_loop_t loop{};
  uv_timer_t timer{};  // wakes uv_run when the earliest bucket is due
  uv_async_t async{};  // wakes uv_run for call_soon_threadsafe
  std::shared_ptr<ThreadsafeQueue> threadsafe = std::make_shared<ThreadsafeQueue>();
  TimerBuckets timers;
  std::unique_ptr<futures::ThreadPoolExecutor> executor;  // created on first use
  int closing = 0;  // our own handles whose close callback has not run yet (close())
};

}  // namespace concur::asyncio::detail
