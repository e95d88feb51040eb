// `ringlab calibrate` (needs CUDA; a row of ringlab_main.cc's table when RINGLAB_HAVE_CUDA): measure this machine's
// GPUs for the simulator and write a hardware profile.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct CalibrateOptions;
std::shared_ptr<CalibrateOptions> SetupCalibrate(CLI::App* cmd);
int RunCalibrate(const CalibrateOptions& options);

}  // namespace ringlab::cli
