// ringlab-gpu: the `ringlab run` subcommand alone, for GPU machines (no viewer, simulator or GL in the binary).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/cmd_run.h"

int main(int argc, char** argv) {
  CLI::App app{"ringlab-gpu: run context-parallel attention schedules on GPUs (NCCL + CUDA streams)"};
  app.require_subcommand(1);
  int exit_code = 0;
  ringlab::cli::AddRunCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ringlab: error: %s (see ringlab-gpu run --help)\n", e.what());
    return 2;
  }
  return exit_code;
}
