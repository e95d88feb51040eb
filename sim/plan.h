// Plan: which context-parallel layout to use for one model's attention on one cluster. Takes every valid
// (method across the ring, Ulysses degree U × ring degree R, placement, sharding), simulates forward and backward
// with the summary-only simulation those that can win (the others are pruned by a lower bound on their step time,
// sim/plan_search.h; `exhaustive` simulates all), ranks them by the forward+backward step time and says why the best
// wins.
//
//   PlanSpec spec;  spec.problem = {.heads = 64, .kv_heads = 8, .seq = 524288, .head_dim = 128};
//   spec.gpus_per_node = 8;  spec.nodes = 8;
//   PlanResult plan;
//   Status st = RunPlan(spec, hw, &plan);   // plan.rows best first; plan.reason
//   std::cout << PlanTable(plan);           // PlanJson(plan) for scripts
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/problem.h"
#include "core/schedule.h"
#include "core/status.h"
#include "sim/profile.h"

namespace ringlab::sim {

struct PlanSpec {
  Problem problem;  // heads, kv_heads, head_dim, seq, batch, dtype, causal; the world is gpus_per_node × nodes
  int gpus_per_node = 8;
  int nodes = 1;
  std::vector<Method> methods = {Method::kAllGather, Method::kAllToAll};
  std::vector<ShardingKind> shardings = {ShardingKind::kHeadTail, ShardingKind::kContiguous};
  int workers = 0;  // simulation threads; 0: the hardware's
  bool exhaustive = false;  // simulate every candidate, also those the lower bound rules out
  bool strict = false;  // a layout with any extrapolated op or transfer fails (its row's error says why)
};

// One candidate layout and what the simulation says about it.
struct PlanRow {
  ScheduleConfig config;  // world, ulysses, ring, placement, method, sharding (pass: forward)
  std::string layout;     // "U8×R16 consecutive", "ring W64", "Ulysses U8"
  std::string method;     // ring | allgather (across R); "-" when R = 1
  double forward_ms = 0, backward_ms = 0, step_ms = 0;  // step = forward + backward
  double exposed_ms = 0;  // exposed communication, forward + backward
  double compute_ms = 0;  // compute of the slowest rank, forward + backward
  double memory_gib = 0;  // attention buffers per GPU, the larger pass
  bool over_capacity = false;  // memory_gib above the profile's memory_gib
  bool alltoall_extrapolated = false;
  std::string error;  // non-empty: the simulation failed (the row ranks last)
  double lower_bound_ms = 0;  // forward+backward step time can be no less (compute alone, plan_search.h)
  bool simulated = false;
  bool pruned = false;  // not simulated: lower_bound_ms is above a simulated row's step (only the bound, memory_gib and
                        // over_capacity are filled; ranks after the simulated rows)
};

struct PlanResult {
  PlanSpec spec;
  std::string profile;
  int world = 0;
  std::vector<PlanRow> rows;    // best first (errors last)
  int invalid_layouts = 0;      // (U, R) pairs the validator rejected (e.g. U not dividing the heads)
  int pruned = 0;               // candidates not simulated because their lower bound cannot win
  std::string kv_head_cap;      // one line on the KV-head cap (U > Hkv replicates K/V heads), or empty
  std::string reason;           // why the best wins
  double wall_s = 0;
};

// The candidate configs of `spec` the validator accepts (forward pass), and how many (U, R) it rejected.
std::vector<ScheduleConfig> PlanCandidates(const PlanSpec& spec, int* invalid_layouts);

Status RunPlan(const PlanSpec& spec, const HardwareProfile& hw, PlanResult* out);

// The ranked table as text (markdown-compatible), the reason line after it.
std::string PlanTable(const PlanResult& plan);
nlohmann::json PlanJson(const PlanResult& plan);

}  // namespace ringlab::sim
