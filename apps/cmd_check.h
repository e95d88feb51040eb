// `ringlab check`: run the CPU executor over the schedule and compare with the float64 reference.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct CheckOptions;
std::shared_ptr<CheckOptions> SetupCheck(CLI::App* cmd);
int RunCheck(const CheckOptions& options);

}  // namespace ringlab::cli
