// `ringlab sim` and `ringlab sweep`: the simulator's subcommands (one configuration on a hardware profile; a grid of
// world sizes, sequence lengths, methods and passes).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct SimFlags;
std::shared_ptr<SimFlags> SetupSim(CLI::App* cmd);
int RunSim(const SimFlags& flags);

struct SweepFlags;
std::shared_ptr<SweepFlags> SetupSweep(CLI::App* cmd);
int RunSweepCommand(const SweepFlags& flags);

}  // namespace ringlab::cli
