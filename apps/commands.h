// The subcommands of `ringlab`, each defined in its own apps/cmd_*.cc: the options its flags fill (an incomplete type
// here, defined in that file), the setup that declares the flags on its CLI::App and returns those options, and the
// run that returns an exit code (apps/exit_codes.h). ringlab_main.cc lists them in its table (apps/subcommand.h).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct ScheduleOptions;  // cmd_schedule.cc
std::shared_ptr<ScheduleOptions> SetupSchedule(CLI::App* cmd);
int RunSchedule(const ScheduleOptions& options);

struct CheckOptions;  // cmd_check.cc
std::shared_ptr<CheckOptions> SetupCheck(CLI::App* cmd);
int RunCheck(const CheckOptions& options);

struct SimFlags;  // cmd_sim.cc
std::shared_ptr<SimFlags> SetupSim(CLI::App* cmd);
int RunSim(const SimFlags& flags);

struct SweepFlags;  // cmd_sim.cc
std::shared_ptr<SweepFlags> SetupSweep(CLI::App* cmd);
int RunSweepCommand(const SweepFlags& flags);

struct PlanOptions;  // cmd_plan.cc
std::shared_ptr<PlanOptions> SetupPlan(CLI::App* cmd);
int RunPlan(const PlanOptions& options);

struct BalanceOptions;  // cmd_balance.cc
std::shared_ptr<BalanceOptions> SetupBalance(CLI::App* cmd);
int RunBalance(const BalanceOptions& options);

struct ViewOptions;  // cmd_view.cc
std::shared_ptr<ViewOptions> SetupView(CLI::App* cmd);
int RunView(const ViewOptions& options);

struct FitOptions;  // cmd_fit_profile.cc
std::shared_ptr<FitOptions> SetupFitProfile(CLI::App* cmd);
int RunFitProfile(const FitOptions& options);

// CUDA builds only (RINGLAB_HAVE_CUDA).
struct RunOptions;  // cmd_run.cc
std::shared_ptr<RunOptions> SetupRunOnGpus(CLI::App* cmd);
int RunOnGpus(const RunOptions& options);

// Every build; measuring needs CUDA (without it only --dry-run and --coverage-shapes).
struct CalibrateOptions;  // cmd_calibrate.cc
std::shared_ptr<CalibrateOptions> SetupCalibrate(CLI::App* cmd);
int RunCalibrate(const CalibrateOptions& options);

}  // namespace ringlab::cli
