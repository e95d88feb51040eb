// `ringlab sim` and `ringlab sweep`: the simulator's subcommands.
//
//   CLI::App app{"ringlab"};
//   ringlab::cli::AddSimCommands(app);
//   try { app.parse(argc, argv); } catch (const CLI::ParseError& e) { return app.exit(e); }
//
// The callbacks report failure by throwing CLI::RuntimeError(code): 2 for bad input (a message naming the flag or the
// profile field is printed first), 1 for a simulation that could not finish.
#pragma once

#include <CLI/CLI.hpp>

namespace ringlab::cli {

void AddSimCommands(CLI::App& app);

}  // namespace ringlab::cli
