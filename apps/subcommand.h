// One subcommand of the `ringlab` CLI as a row of the table in ringlab_main.cc: its name, one-line help, the function
// that declares its flags and the one that runs it. Adding a subcommand is one row there.
//
//   // commands.h
//   struct ScheduleOptions;                                         // defined in cmd_schedule.cc
//   std::shared_ptr<ScheduleOptions> SetupSchedule(CLI::App* cmd);  // declares --json, --ranks, ...
//   int RunSchedule(const ScheduleOptions& options);                // returns an exit code (apps/exit_codes.h)
//
//   // ringlab_main.cc
//   MakeSubcommand("schedule", "Generate and validate a schedule", SetupSchedule, RunSchedule),
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ringlab::cli {

struct Subcommand {
  std::string name;
  std::string help;
  // Declares the subcommand's flags on `cmd`; returns what runs it on the parsed flags and gives its exit code.
  std::function<std::function<int()>(CLI::App* cmd)> attach;
};

// `setup` declares the flags on the subcommand's CLI::App and returns the options they fill; `run` runs once the
// command line is parsed. Options can stay an incomplete type here: only setup and run see their fields.
template <typename Options>
Subcommand MakeSubcommand(std::string name, std::string help, std::shared_ptr<Options> (*setup)(CLI::App*),
                          int (*run)(const Options&)) {
  return {std::move(name), std::move(help), [setup, run](CLI::App* cmd) -> std::function<int()> {
            std::shared_ptr<Options> options = setup(cmd);
            return [options, run] { return run(*options); };
          }};
}

// Adds every subcommand to `app`, each with the exit-code section at the end of its --help. The one that runs stores
// its exit code in *exit_code; an exception escaping it is reported as a runtime error (3).
void AddSubcommands(CLI::App& app, const std::vector<Subcommand>& subcommands, int* exit_code);

}  // namespace ringlab::cli
