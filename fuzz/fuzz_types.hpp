// SPDX-License-Identifier: MIT
// The value types the fuzz targets decode hostile messages as: every container kind whose
// load sizes something from the message (strings, arithmetic and other vectors, deques,
// lists, maps, sets, unordered ones), and the types with checked tags (bool, optional,
// variant, bitset), nested. with_fuzz_type(i, f) calls f.template operator()<T>() for the
// i-th type (modulo their number).
#pragma once

#include <concur/multiprocessing/serialize.hpp>

#include <array>
#include <bitset>
#include <chrono>
#include <complex>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace concur_fuzz {

struct Point {
  double x = 0;
  double y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label);
  }
};

struct Nested {
  std::map<std::string, std::vector<Point>> groups;
  std::optional<std::variant<int, std::string>> tag;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(groups, tag);
  }
};

using FuzzTypes = std::tuple<
    std::string,                                                   // 0
    std::vector<std::uint64_t>,                                    // 1
    std::vector<std::string>,                                      // 2
    std::map<std::string, std::vector<int>>,                       // 3
    std::tuple<std::optional<std::variant<int, std::string, double>>, bool, std::list<short>, std::deque<std::string>>,  // 4
    std::unordered_map<int, std::set<std::string>>,                // 5
    std::unordered_set<std::string>,                               // 6
    Nested,                                                        // 7
    std::vector<std::vector<double>>,                              // 8
    std::tuple<std::bitset<70>, std::pair<std::complex<double>, std::chrono::milliseconds>, std::array<std::u16string, 2>>,  // 9
    std::vector<std::optional<std::array<char, 256>>>,             // 10: one byte decodes to 257
    std::vector<bool>,                                             // 11
    int>;                                                          // 12

inline constexpr std::size_t fuzz_type_count = std::tuple_size_v<FuzzTypes>;

template <class F, std::size_t... I>
void with_fuzz_type_impl(std::size_t index, F&& f, std::index_sequence<I...>) {
  (void)((index == I ? (f.template operator()<std::tuple_element_t<I, FuzzTypes>>(), true) : false) || ...);
}

template <class F>
void with_fuzz_type(std::size_t index, F&& f) {
  with_fuzz_type_impl(index % fuzz_type_count, f, std::make_index_sequence<fuzz_type_count>{});
}

}  // namespace concur_fuzz
