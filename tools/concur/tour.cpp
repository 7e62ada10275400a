// SPDX-License-Identifier: MIT
// `concur tour`: runs the examples one after the other, each introduced by a line saying what
// it shows, so that a newcomer sees every model of the classic guide at work with one command.
//
//   concur tour                  every stop of tour_catalog.cpp, in order, at the real pace
//   concur tour --fast           the same, every delay divided by kFastSpeed
//   concur tour --list           the stops and what each shows
//   concur tour NAME [NAME...]   only those examples, in the order given
//
// The example programs are found beside the `concur` executable (a build tree's bin/) or in
// ../libexec/concur (an installed tree); see process.hpp. Every program is checked before the
// first one runs, so a partial build fails at once with the names of what is missing.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "process.hpp"
#include "tour_catalog.hpp"

namespace concur::tool {

namespace {

/// `--fast` runs every example this many times faster.
constexpr int kFastSpeed = 20;

struct TourOptions {
  bool fast = false;
  bool list = false;
  std::vector<std::string> names;
};

std::string known_names() {
  std::string out;
  std::vector<std::string_view> seen;
  for (const TourStop& stop : tour_stops()) {
    if (std::find(seen.begin(), seen.end(), stop.name) != seen.end()) continue;  // several stops, one name
    seen.push_back(stop.name);
    if (!out.empty()) out += ", ";
    out += stop.name;
  }
  return out;
}

void print_list(const std::vector<const TourStop*>& stops) {
  std::size_t name_width = 0;
  std::size_t module_width = 0;
  for (const TourStop* stop : stops) {
    name_width = std::max(name_width, stop->name.size());
    module_width = std::max(module_width, stop->module.size());
  }
  for (const TourStop* stop : stops) {
    fmt::print("{:<{}}  {:<{}}  {}\n", stop->name, name_width, stop->module, module_width, stop->shows);
  }
}

int run_tour(const TourOptions& options) {
  // Which stops: all of them, or the ones named, in the order named.
  std::vector<const TourStop*> stops;
  if (options.names.empty()) {
    for (const TourStop& stop : tour_stops()) stops.push_back(&stop);
  } else {
    for (const std::string& name : options.names) {
      // Every stop of that program (an example may have a plaintext and a TLS stop).
      const std::size_t before = stops.size();
      for (const TourStop& s : tour_stops()) {
        if (s.name == name) stops.push_back(&s);
      }
      if (stops.size() == before) {
        fmt::print(stderr, "concur tour: unknown example '{}'\nknown examples: {}\n", name, known_names());
        return 2;
      }
    }
  }

  if (options.list) {
    print_list(stops);
    return 0;
  }

  // Find every program before running the first.
  const std::vector<std::filesystem::path> dirs = example_dirs();
  std::vector<std::filesystem::path> programs;
  std::vector<std::string_view> missing;
  for (const TourStop* stop : stops) {
    if (auto program = find_program(stop->name, dirs)) {
      programs.push_back(*program);
    } else {
      missing.push_back(stop->name);
    }
  }
  if (!missing.empty()) {
    fmt::print(stderr, "concur tour: example program(s) not found: {}\n", fmt::join(missing, ", "));
    std::vector<std::string> looked;
    for (const std::filesystem::path& dir : dirs) looked.push_back(dir.string());
    fmt::print(stderr, "looked in: {}\n", fmt::join(looked, ", "));
    fmt::print(stderr, "build them (cmake --build <build dir> --target concur_tool builds every example) "
                       "or install them (cmake --install)\n");
    return 1;
  }

  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < stops.size(); ++i) {
    const TourStop& stop = *stops[i];
    std::vector<std::string> args(stop.args.begin(), stop.args.end());
    if (options.fast && stop.takes_speed) {
      args.push_back("--speed");
      args.push_back(std::to_string(kFastSpeed));
    }
    fmt::print("==> [{}/{}] {}: {}\n", i + 1, stops.size(), stop.name, stop.shows);
    fmt::print("    $ {}{}{}\n\n", programs[i].string(), args.empty() ? "" : " ", fmt::join(args, " "));
    const ChildStatus status = run_program(programs[i], args);
    if (status.interrupted) {
      fmt::print(stderr, "\nconcur tour: interrupted during {} ({}); stopping the tour\n", stop.name,
                 status.describe());
      return 130;  // as a shell reports a program ended by SIGINT
    }
    if (!status.ok()) {
      fmt::print(stderr, "\nconcur tour: {} failed ({}); stopping the tour\n", stop.name, status.describe());
      return 1;
    }
    fmt::print("\n");
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  fmt::print("Tour finished: {} example{} in {:.1f} s.\n", stops.size(), stops.size() == 1 ? "" : "s",
             elapsed.count());
  return 0;
}

}  // namespace

Command add_tour_command(CLI::App& parent) {
  auto options = std::make_shared<TourOptions>();
  CLI::App* app = parent.add_subcommand("tour", "Run the examples in order, each introduced by what it shows");
  app->add_flag("--fast", options->fast,
                fmt::format("Run every example {} times faster (passes --speed {})", kFastSpeed, kFastSpeed));
  app->add_flag("--list", options->list, "List the examples and what each shows, then exit");
  app->add_option("names", options->names, "Run only these examples (see --list)");
  app->footer(fmt::format("Examples:\n  concur tour --fast          every example, {}x faster\n"
                          "  concur tour --list          what there is to see\n"
                          "  concur tour connection_pool one example at its real pace",
                          kFastSpeed));
  return Command{app, [options] { return run_tour(*options); }};
}

}  // namespace concur::tool
