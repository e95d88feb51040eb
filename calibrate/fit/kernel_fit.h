// The attention half of the profile fit: one kernel wave model (sim/wave_model.h) with a measured round table per
// (pass, mask, head dim), fitted from kernel samples (see calibrate/fit/profile_fit.h for the model).
// Internal to calibrate/fit; FitProfile is the entry point.
#pragma once

#include <map>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "calibrate/samples.h"
#include "sim/wave_model.h"

namespace ringlab::calibrate {

// (pass, mask, head dim) -> the wave model fitted for it (forward: the merge-mode table, what ring steps run).
using FittedTables = std::map<std::tuple<std::string, std::string, int>, sim::WaveModel>;

// The kernel time `w` predicts for sample `s` (full blocks by rounds, causal ones list-scheduled).
double Predict(const sim::WaveModel& w, const KernelSample& s);

// Fits a round table per (pass, mask, head dim) of `in.kernels`, writes each into profile["compute"]["attention"]
// (replacing the base's entry of the same key) with its source prefixed by `tag`, and what was fitted into *report.
FittedTables FitAttentionTables(const FitInputs& in, const std::string& tag, nlohmann::json* profile,
                                nlohmann::json* report);

}  // namespace ringlab::calibrate
