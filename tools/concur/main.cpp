// SPDX-License-Identifier: MIT
// The `concur` command: runs the classic threads / processes / asyncio scenarios (`concur tour`) and measures their comparison
// table on this machine (`concur compare`). Each subcommand is its own file; see
// command.hpp.
#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <concur/version.hpp>
#include <fmt/core.h>

#include <exception>
#include <vector>

#include "command.hpp"
#include "compare/compare.hpp"

int main(int argc, char** argv) {
  CLI::App app{"concur: Python's concurrency models in C++20 - run the examples, measure the models"};
  app.name("concur");
  app.set_version_flag("--version", CONCUR_VERSION_STRING);
  app.require_subcommand(0, 1);
  app.footer("Run 'concur SUBCOMMAND --help' for a subcommand's options.");

  const std::vector<concur::tool::Command> commands{
      concur::tool::add_tour_command(app),
      concur::tool::add_compare_command(app),
  };

  CLI11_PARSE(app, argc, argv);

  try {
    for (const concur::tool::Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "concur: error: {}\n", e.what());
    return 1;
  }
  // No subcommand: say what there is to do.
  fmt::print("{}", app.help());
  return 0;
}
