// How `ringlab plan` evaluates its candidates (internal to sim/plan.cc): every (candidate, pass) simulation is one
// task of a thread pool, and candidates that provably cannot win are not simulated.
//
// The bound. A pass's step time is at least the compute of its busiest rank: the engine runs a rank's compute ops one
// after the other, each no faster than its cost alone (CompileRank's dur_ps; beside a transfer it only slows down),
// and the summary adds the profile's start skew. StepLowerBoundMs sums, per pass, the largest compute of a few
// sampled ranks (a max over some ranks is at most the max over all) plus the skew: cheap (a few rank schedules, no
// engine) and never above the simulated step.
//
// The search, deterministic whatever the thread timing: (1) bound every candidate; (2) simulate the `workers`
// candidates with the smallest bounds; the best in-capacity step among them is the bar; (3) simulate every other
// candidate whose bound is not above the bar; the rest are pruned (PlanRow::pruned, with their bound). No pruned row
// could have ranked above any simulated in-capacity row whose step is at most the bar, so the best row and the order
// of all rows up to the bar are those of the exhaustive search (tests/sim plan tests compare the two).
#pragma once

#include <vector>

#include "core/schedule.h"
#include "sim/plan.h"
#include "sim/profile.h"
#include "sim/simulate.h"

namespace ringlab::sim {

// Lower bound of the forward + backward step time of `forward` (and its backward), ms; *memory_gib: the largest
// buffer memory of the sampled ranks.
double StepLowerBoundMs(const ScheduleConfig& forward, const HardwareProfile& hw, double* memory_gib = nullptr);

// Rows of `candidates` in candidate order, simulated (forward and backward) or pruned as described above.
std::vector<PlanRow> EvaluateCandidates(const std::vector<ScheduleConfig>& candidates, const HardwareProfile& hw,
                                        const SimOptions& opt, int workers, bool exhaustive);

}  // namespace ringlab::sim
