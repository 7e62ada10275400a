// SPDX-License-Identifier: MIT
// concur/threading/local.hpp — local<T>, Python's threading.local.
//
// A local<T> holds one T per thread: each thread that calls get() sees its own value, created on
// its first access (default-constructed, or by the factory given to the constructor, called in
// that thread), and destroyed when that thread exits or when the local<T> is destroyed,
// whichever comes first.
//
//   th::local<std::vector<int>> scratch;                 // each thread gets an empty vector
//   th::local<Connection> conn([] { return connect(); }); // each thread opens its own
//   scratch->push_back(1);   (*conn).send(...);   conn.get().close();
//
// Unlike C++'s `thread_local`, a local<T> is an object: it can be a member, there can be many,
// and destroying it frees every thread's value (Python's semantics).
//
// Thread safety: get() may be called from any thread; each thread only ever touches its own value.
// The value's destructor runs in its thread when the thread exits (after the thread's run()
// returned), or in the thread destroying the local<T>. Lifetime: no thread may be using its value
// while the local<T> is destroyed. Cost: get() is a hash lookup in a per-thread table (no lock);
// the first access in a thread takes a lock once.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "concur/export.hpp"

namespace concur::threading {

namespace detail {

/// The type-erased part of local<T>: every thread's value for one local object.
class CONCUR_API LocalStorage {
 public:
  using Deleter = void (*)(void*);
  LocalStorage();
  LocalStorage(const LocalStorage&) = delete;
  LocalStorage& operator=(const LocalStorage&) = delete;
  ~LocalStorage();  // destroys every thread's value

  /// The calling thread's value, or nullptr if it has none yet.
  [[nodiscard]] void* find() const noexcept;
  /// Stores `value` (owned from now on, freed with `deleter`) as the calling thread's value.
  void* insert(void* value, Deleter deleter);

  class Impl;

 private:
  std::shared_ptr<Impl> m_impl;
};

}  // namespace detail

/// threading.local: one T per thread.
template <class T>
class local {
 public:
  /// Each thread's value is a default-constructed T.
  local()
    requires std::is_default_constructible_v<T>
      : m_factory([] { return T(); }) {}
  /// Each thread's value is `factory()`, called in that thread on its first access.
  explicit local(std::function<T()> factory) : m_factory(std::move(factory)) {}
  local(const local&) = delete;
  local& operator=(const local&) = delete;

  /// The calling thread's value, created on first access. Throws what T's construction throws.
  [[nodiscard]] T& get() {
    if (void* p = m_storage.find()) return *static_cast<T*>(p);
    auto value = std::make_unique<T>(m_factory());
    void* p = m_storage.insert(value.get(), [](void* v) { delete static_cast<T*>(v); });
    value.release();
    return *static_cast<T*>(p);
  }
  /// get()
  [[nodiscard]] T& operator*() { return get(); }
  /// &get()
  [[nodiscard]] T* operator->() { return &get(); }

 private:
  std::function<T()> m_factory;
  detail::LocalStorage m_storage;
};

}  // namespace concur::threading
