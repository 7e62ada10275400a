// SPDX-License-Identifier: MIT
// The loop side of the thread bridges.
#include "concur/asyncio/threads.hpp"

namespace concur::asyncio::detail {

void post_done(const std::shared_ptr<ThreadsafeQueue>& queue, std::shared_ptr<ThreadBridge> bridge, bool cancelled) noexcept {
  CallbackNode* node = nullptr;
  try {
    node = make_callback([bridge = std::move(bridge), cancelled] {
      bridge->m_done = true;
      bridge->m_cancelled = cancelled;
      if (PromiseBase* root = std::exchange(bridge->m_root, nullptr)) root->wake();
    });
  } catch (...) {
    return;  // out of memory: the waiting task can still be cancelled
  }
  // A loop that closed meanwhile refuses the post: nobody waits any more.
  if (!post_to(queue, node)) node->release();
}

}  // namespace concur::asyncio::detail
