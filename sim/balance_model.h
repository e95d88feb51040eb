// A step model for `ringlab balance` (core/mask_balance.h) whose costs come from a hardware profile: a rank's forward
// attention from the simulator's cost model (the profile's measured kernel tables, interpolated as in a simulated run)
// and a K/V hop from the profile's transfer data (NVLink table or line inside a node, the NIC across nodes). So packed
// document layouts are compared on the rates the simulator is calibrated with, not on two typed-in constants.
//
//   StepModel model;
//   Status st = ProfileStepModel("h100_sxm_calibrated", problem, world, &model);
#pragma once

#include <memory>
#include <string>

#include "core/mask_balance.h"
#include "core/problem.h"
#include "core/status.h"
#include "sim/profile.h"

namespace ringlab::sim {

// Fills model->attend_us and model->hop_us for `problem` at `world` ranks: blocks costed by their visible pairs as the
// schedule's partially masked blocks are (forward tables at the problem's head dim); hops across nodes when world
// exceeds the profile's GPUs per node. Fails with the profile loader's message for an unknown profile.
Status ProfileStepModel(const std::string& profile, const Problem& problem, int world, StepModel* model);
// The same from a profile already loaded (a caller asking for several world sizes loads it once).
StepModel ProfileStepModel(std::shared_ptr<const HardwareProfile> hw, const Problem& problem, int world);

}  // namespace ringlab::sim
