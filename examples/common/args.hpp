// SPDX-License-Identifier: MIT
// examples/common/args.hpp — strict parsing of the server examples' numeric options: the whole
// text must be a number in range ("--port 70000", "--port 80x" and "--workers -1" are errors,
// never a wrapped or truncated value).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

namespace examples {

/// The integer `text` spells, if it is one in [min, max].
template <class T>
std::optional<T> parse_integer(std::string_view text, T min = std::numeric_limits<T>::min(),
                               T max = std::numeric_limits<T>::max()) {
  long long value = 0;  // wide enough to see that 70000 is out of a 16-bit range
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (std::cmp_less(value, min) || std::cmp_greater(value, max)) return std::nullopt;
  return static_cast<T>(value);
}

/// A TCP port, 0 to 65535 (0: any free port).
inline std::optional<std::uint16_t> parse_port(std::string_view text) { return parse_integer<std::uint16_t>(text); }

/// A duration in seconds ("10", "0.3"): finite and > 0.
inline std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  return value;
}

}  // namespace examples
