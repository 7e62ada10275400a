// SPDX-License-Identifier: MIT
// local<T>'s storage: each local object owns its values (keyed by thread); each thread keeps a
// table (keyed by local object) used for lookups and to free its values when it exits.
#include "concur/threading/local.hpp"

#include <atomic>
#include <cassert>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace concur::threading::detail {

class LocalStorage::Impl {
 public:
  struct Value {
    void* pointer;
    Deleter deleter;
  };

  // Never reused (relaxed: the counter only hands out distinct numbers), so a thread's table entry for a dead local can never match a new one.
  const std::uint64_t id = next_id.fetch_add(1, std::memory_order_relaxed);
  std::mutex mutex;
  std::unordered_map<const void*, Value> values;  // by thread table; guarded by mutex

 private:
  static inline std::atomic<std::uint64_t> next_id{1};
};

namespace {

// The calling thread's view: for each local it has a value in, that value and a weak reference
// to the local (which owns the value). Touched only by its own thread.
struct ThreadTable {
  struct Entry {
    std::weak_ptr<LocalStorage::Impl> owner;
    void* value;
  };
  std::unordered_map<std::uint64_t, Entry> entries;

  ThreadTable() = default;
  ThreadTable(const ThreadTable&) = delete;
  ThreadTable& operator=(const ThreadTable&) = delete;

  ~ThreadTable() {
    // A value's destructor may touch other locals (adding entries), hence the loop.
    while (!entries.empty()) {
      std::unordered_map<std::uint64_t, Entry> taken;
      taken.swap(entries);
      for (auto& [id, entry] : taken) {
        const std::shared_ptr<LocalStorage::Impl> owner = entry.owner.lock();
        if (!owner) continue;  // the local is gone, and freed the value itself
        LocalStorage::Impl::Value value{nullptr, nullptr};
        {
          const std::scoped_lock hold(owner->mutex);
          const auto it = owner->values.find(this);
          if (it == owner->values.end()) continue;
          value = it->second;
          owner->values.erase(it);
        }
        value.deleter(value.pointer);  // outside the lock: it may use locals itself
      }
    }
  }

  // Drops entries of locals that no longer exist (called as the table grows).
  void prune() {
    std::erase_if(entries, [](const auto& item) { return item.second.owner.expired(); });
  }
};

thread_local ThreadTable t_table;

}  // namespace

LocalStorage::LocalStorage() : m_impl(std::make_shared<Impl>()) {}

LocalStorage::~LocalStorage() {
  std::unordered_map<const void*, Impl::Value> values;
  {
    const std::scoped_lock hold(m_impl->mutex);
    values.swap(m_impl->values);
  }
  for (auto& [table, value] : values) value.deleter(value.pointer);
}

void* LocalStorage::find() const noexcept {
  const auto it = t_table.entries.find(m_impl->id);
  return it == t_table.entries.end() ? nullptr : it->second.value;
}

void* LocalStorage::insert(void* value, Deleter deleter) {
  ThreadTable& table = t_table;
  if (table.entries.size() >= 64 && (table.entries.size() & (table.entries.size() - 1)) == 0) table.prune();
  auto [it, inserted] = table.entries.try_emplace(m_impl->id, ThreadTable::Entry{m_impl, value});
  assert(inserted);
  try {
    const std::scoped_lock hold(m_impl->mutex);
    m_impl->values.emplace(&table, Impl::Value{value, deleter});
  } catch (...) {
    table.entries.erase(it);
    throw;
  }
  return value;
}

}  // namespace concur::threading::detail
