// Simulated step time of each executable sharding for `ringlab balance`: the layouts core/mask_balance.h studies
// analytically (doc-head-tail, greedy) give ranks different token counts, which no schedule runs; the shardings
// every executor runs (contiguous, head-tail, balanced: core/sharding.h) are scheduled and event-simulated here, so
// the choice among them is by simulated step time (the ring's cut hops and skipped blocks included), not by work
// per rank alone.
//
//   std::vector<ShardingStep> steps;
//   Status st = SimulateShardings(problem, /*world=*/64, hw, Pass::kForward, &steps);
#pragma once

#include <string>
#include <vector>

#include "core/problem.h"
#include "core/schedule.h"
#include "core/status.h"
#include "sim/profile.h"

namespace ringlab::sim {

struct ShardingStep {
  ShardingKind sharding = ShardingKind::kContiguous;
  std::string skipped;  // why it was not simulated (head-tail without causal, seq not divisible, ...); empty: ran
  double step_us = 0;   // simulated step time, ring pass-KV
  double imbalance = 1; // the run's compute max/mean over ranks
  double extrapolated = 0;  // share of simulated compute time outside the profile's measured data
  std::string engine;   // which engine ran it (the general engine, or a fast path)
};

// Ring pass-KV (method alltoall) `pass` of `problem` at `world` ranks for every sharding, on `hw`. `best` gets the
// index of the shortest simulated step (−1 when none ran).
Status SimulateShardings(const Problem& problem, int world, const HardwareProfile& hw, Pass pass,
                         std::vector<ShardingStep>* out, int* best);

}  // namespace ringlab::sim
