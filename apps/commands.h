// Subcommands of the `ringlab` CLI. Each registers itself on the top-level app and, when run, stores its process exit
// code in *exit_code (0 success, 1 a check failed, 2 bad input).
#pragma once

#include <CLI/CLI.hpp>

namespace ringlab::cli {

void AddScheduleCommand(CLI::App& app, int* exit_code);
void AddCheckCommand(CLI::App& app, int* exit_code);
void AddViewCommand(CLI::App& app, int* exit_code);
void AddFitProfileCommand(CLI::App& app, int* exit_code);

}  // namespace ringlab::cli
