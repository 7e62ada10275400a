// SPDX-License-Identifier: MIT
// tools/concur/command.hpp — how a subcommand of `concur` plugs into main.cpp.
//
// Each subcommand lives in its own file (tour.cpp; compare.cpp later) and exposes one function
// that declares its options on the parent CLI11 app and returns a Command: the CLI11
// subcommand it created and what to run when the user chose it. main.cpp only lists those
// functions, so adding a subcommand is one more file and one more line there.
#pragma once

#include <CLI/App.hpp>

#include <functional>

namespace concur::tool {

struct Command {
  CLI::App* app = nullptr;   ///< the subcommand, owned by the parent app
  std::function<int()> run;  ///< runs it after a successful parse; returns the exit status
};

/// `concur tour [NAME...] [--fast] [--list]`: runs the examples (tour.cpp).
Command add_tour_command(CLI::App& parent);
/// `concur compare` (tools/concur/compare/).
Command add_compare_command(CLI::App& parent);

}  // namespace concur::tool
