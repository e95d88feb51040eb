// `ringlab calibrate` (needs CUDA): registered by ringlab_main.cc when RINGLAB_HAVE_CUDA.
#pragma once

#include <CLI/CLI.hpp>

namespace ringlab::cli {

void AddCalibrateCommand(CLI::App& app, int* exit_code);

}  // namespace ringlab::cli
