// `ringlab schedule`: generate, validate and print (or write as JSON) the schedule of a configuration.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct ScheduleOptions;
std::shared_ptr<ScheduleOptions> SetupSchedule(CLI::App* cmd);
int RunSchedule(const ScheduleOptions& options);

}  // namespace ringlab::cli
