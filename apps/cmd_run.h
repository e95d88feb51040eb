// `ringlab run` (needs CUDA; a row of ringlab_main.cc's table when RINGLAB_HAVE_CUDA): execute the schedule for real
// on GPUs (NCCL + CUDA streams), time it, write its timeline, verify it.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct RunOptions;
std::shared_ptr<RunOptions> SetupRunOnGpus(CLI::App* cmd);
int RunOnGpus(const RunOptions& options);

}  // namespace ringlab::cli
