// ringlab: context-parallel attention toolkit. Every subcommand is one row of kSubcommands below; each lives in its
// own apps/cmd_*.cc. Exit codes are apps/exit_codes.h's, for every subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/exit_codes.h"
#include "apps/subcommand.h"

namespace ringlab::cli {
namespace {

// In the order `ringlab --help` lists them.
const std::vector<Subcommand> kSubcommands = {
    MakeSubcommand("schedule", "Generate and validate a schedule; print it per rank or write JSON", SetupSchedule,
                   RunSchedule),
    MakeSubcommand("check",
                   "Run a schedule on the CPU executor and compare out, lse, dQ, dK, dV with the float64 reference",
                   SetupCheck, RunCheck),
    MakeSubcommand("sim", "simulate one pass (or both) of the schedule on a hardware profile", SetupSim, RunSim),
    MakeSubcommand("sweep", "simulate a grid of world sizes, sequence lengths, methods and passes", SetupSweep,
                   RunSweepCommand),
    MakeSubcommand("plan",
                   "Choose a context-parallel layout: simulate every valid (method, Ulysses × ring, placement, "
                   "sharding) for a model's attention on a cluster and rank them",
                   SetupPlan, RunPlan),
    MakeSubcommand("balance",
                   "Balance packed documents over ranks without padding: max/mean work per layout, the chosen one",
                   SetupBalance, RunBalance),
    MakeSubcommand("view",
                   "Open traces in the interactive timeline viewer (ringlab-view; its --help lists every option)",
                   SetupView, RunView),
    MakeSubcommand("fit-profile",
                   "Fit a simulator hardware profile from measured samples (written by `ringlab calibrate` on GPUs or "
                   "by calibrate/scripts/calibrate.py from real run traces); numbers without samples keep the base "
                   "profile's",
                   SetupFitProfile, RunFitProfile),
#ifdef RINGLAB_HAVE_CUDA
    MakeSubcommand("run",
                   "Run the schedule for real on GPUs (NCCL, CUDA streams): time it, write its timeline, verify it",
                   SetupRunOnGpus, RunOnGpus),
#endif
    // Without CUDA only its plan (--dry-run, --coverage-shapes): what a GPU call would measure, and for how long.
    MakeSubcommand("calibrate",
                   "Measure this machine's GPUs (attention kernels over block shapes, NCCL point-to-point and "
                   "all-gather over message sizes, attention beside NCCL traffic) and write a hardware profile for "
                   "`ringlab sim` with its provenance. Progress goes to stderr; the fit report to stdout.",
                   SetupCalibrate, RunCalibrate),
};

// The line for a first argument that is neither a flag nor a subcommand (CLI11 would only say one is required).
bool ReportUnknownSubcommand(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  for (const Subcommand& s : kSubcommands)
    if (s.name == argv[1]) return false;
  std::string names;
  for (const Subcommand& s : kSubcommands) names += (names.empty() ? "" : ", ") + s.name;
  std::fprintf(stderr, "ringlab: error: '%s' is not a subcommand: one of %s (see ringlab --help)\n", argv[1],
               names.c_str());
  return true;
}

}  // namespace
}  // namespace ringlab::cli

int main(int argc, char** argv) {
  using namespace ringlab::cli;
  CLI::App app{"ringlab: context-parallel attention (ring attention) schedules, CPU reference executor, simulator, "
               "GPU executor and timeline viewer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ringlab 0.1.0");
  app.footer(kExitCodesHelp);
  int exit_code = kExitOk;
  AddSubcommands(app, kSubcommands, &exit_code);
  if (ReportUnknownSubcommand(argc, argv)) return kExitBadInput;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ringlab: error: %s (see ringlab --help)\n", e.what());
    return kExitBadInput;
  }
  return exit_code;
}
