// ringlab: context-parallel attention toolkit. Subcommands live in apps/cmd_*.cc.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/cmd_sim.h"
#include "apps/commands.h"
#ifdef RINGLAB_HAVE_CUDA
#include "apps/cmd_calibrate.h"
#include "apps/cmd_run.h"
#endif

int main(int argc, char** argv) {
  CLI::App app{"ringlab: context-parallel attention (ring attention) schedules, CPU reference executor, simulator, "
               "GPU executor and timeline viewer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ringlab 0.1.0");
  int exit_code = 0;
  ringlab::cli::AddScheduleCommand(app, &exit_code);
  ringlab::cli::AddCheckCommand(app, &exit_code);
  ringlab::cli::AddSimCommands(app);
  ringlab::cli::AddViewCommand(app, &exit_code);
  ringlab::cli::AddFitProfileCommand(app, &exit_code);
#ifdef RINGLAB_HAVE_CUDA
  ringlab::cli::AddRunCommand(app, &exit_code);
  ringlab::cli::AddCalibrateCommand(app, &exit_code);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a subcommand failed after printing its own message
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ringlab: error: %s (see ringlab --help)\n", e.what());
    return 2;
  }
  return exit_code;
}
