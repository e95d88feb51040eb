// `ringlab fit-profile`: fit a simulator hardware profile from measured samples (CPU only; the fit is
// sim/profile_fit.h).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct FitOptions;
std::shared_ptr<FitOptions> SetupFitProfile(CLI::App* cmd);
int RunFitProfile(const FitOptions& options);

}  // namespace ringlab::cli
