// SPDX-License-Identifier: MIT
// tools/concur/tour_catalog.hpp — the stops of `concur tour`: which examples, in which order,
// and the line that introduces each. The list itself is in tour_catalog.cpp.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace concur::tool {

/// One example of the tour.
struct TourStop {
  std::string_view name;               ///< the example's executable, built from examples/<name>.cpp
  std::string_view module;             ///< the concur module it shows (threading, asyncio, ...)
  std::string_view shows;              ///< what it shows: the line that introduces it
  std::vector<std::string_view> args;  ///< arguments it always gets
  bool takes_speed;                    ///< accepts --speed N (speed.hpp): `--fast` passes it
};

/// Every stop of the tour, in the order the tour runs them.
[[nodiscard]] std::span<const TourStop> tour_stops();

}  // namespace concur::tool
