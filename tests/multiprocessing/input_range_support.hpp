// SPDX-License-Identifier: MIT
// Input ranges for the tests of Pool and ProcessPoolExecutor: ending in a sentinel (so
// neither common nor sized), single-pass or not, and throwing while being read, as a
// generator or a stream may. Written out by hand because clang 14 cannot compile libstdc++
// 12's views (iota, take_while, transform, istream_view).
#pragma once

#include <cstddef>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur_mp_test {

/// What a CountingInput throws when it reaches its failing element.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// first, first + 1, ..., last - 1, read once, through an input iterator whose end is a
/// sentinel. With `throw_at` >= 0, advancing onto element number `throw_at` throws InputError
/// (as a generator raising in the middle of its iteration).
class CountingInput {
 public:
  CountingInput(int first, int last, int throw_at = -1) : m_next(first), m_last(last), m_throw_at(throw_at) {}

  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(CountingInput* owner) : m_owner(owner) {}
    int operator*() const { return m_owner->m_next; }
    iterator& operator++() {
      ++m_owner->m_read;
      ++m_owner->m_next;
      if (m_owner->m_read == m_owner->m_throw_at) {
        throw InputError("input failed at element " + std::to_string(m_owner->m_throw_at));
      }
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    [[nodiscard]] bool at_end() const { return m_owner->m_next >= m_owner->m_last; }
    CountingInput* m_owner = nullptr;
  };

  iterator begin() {
    if (m_throw_at == 0) throw InputError("input failed at element 0");
    return iterator(this);
  }
  std::default_sentinel_t end() const { return {}; }

 private:
  int m_next;
  int m_last;
  int m_throw_at;
  int m_read = 0;  // elements advanced past
};

/// The elements of `values` before the first one >= `limit`: a forward range whose end is a
/// sentinel and whose size is unknown (as std::views::take_while gives, which clang 14 cannot
/// compile with libstdc++ 12). Counts how often the limit was tested.
class IntsBelow {
 public:
  IntsBelow(const std::vector<int>& values, int limit) : m_values(&values), m_limit(limit) {}

  struct sentinel {};
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const IntsBelow* owner, std::size_t i) : m_owner(owner), m_i(i) {}
    const int& operator*() const { return (*m_owner->m_values)[m_i]; }
    iterator& operator++() {
      ++m_i;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++m_i;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.m_i == b.m_i; }
    friend bool operator==(const iterator& it, sentinel) { return it.at_end(); }

   private:
    [[nodiscard]] bool at_end() const {
      ++m_owner->m_tests;
      return m_i == m_owner->m_values->size() || (*m_owner->m_values)[m_i] >= m_owner->m_limit;
    }
    const IntsBelow* m_owner = nullptr;
    std::size_t m_i = 0;
  };

  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] sentinel end() const { return {}; }
  /// How many times an iterator was compared with the end.
  [[nodiscard]] int tests() const { return m_tests; }

 private:
  const std::vector<int>* m_values;
  int m_limit;
  mutable int m_tests = 0;
};

/// A sized random-access view of `values` whose element `bad` throws InputError when read (as
/// a std::views::transform whose function throws).
class ThrowingOnRead {
 public:
  ThrowingOnRead(const std::vector<int>& values, int bad) : m_values(&values), m_bad(bad) {}

  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::forward_iterator_tag;
    iterator() = default;
    iterator(const ThrowingOnRead* owner, std::size_t i) : m_owner(owner), m_i(i) {}
    int operator*() const {
      const int v = (*m_owner->m_values)[m_i];
      if (v == m_owner->m_bad) throw InputError("element " + std::to_string(v) + " cannot be read");
      return v;
    }
    iterator& operator++() {
      ++m_i;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++m_i;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.m_i == b.m_i; }

   private:
    const ThrowingOnRead* m_owner = nullptr;
    std::size_t m_i = 0;
  };

  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] iterator end() const { return {this, m_values->size()}; }
  [[nodiscard]] std::size_t size() const { return m_values->size(); }

 private:
  const std::vector<int>* m_values;
  int m_bad;
};

static_assert(std::ranges::input_range<CountingInput>);
static_assert(!std::ranges::forward_range<CountingInput>);
static_assert(!std::ranges::common_range<CountingInput>);
static_assert(std::ranges::forward_range<IntsBelow> && !std::ranges::common_range<IntsBelow> &&
              !std::ranges::sized_range<IntsBelow>);
static_assert(std::ranges::forward_range<ThrowingOnRead> && std::ranges::sized_range<ThrowingOnRead>);

}  // namespace concur_mp_test
