#include "sim/balance_sim.h"

#include "sim/simulate.h"

namespace ringlab::sim {

Status SimulateShardings(const Problem& problem, int world, const HardwareProfile& hw, Pass pass,
                         std::vector<ShardingStep>* out, int* best) {
  out->clear();
  *best = -1;
  for (ShardingKind kind : kShardingKinds) {
    ShardingStep row{.sharding = kind};
    ScheduleConfig cfg{.problem = problem, .world = world, .sharding = kind, .method = Method::kAllToAll,
                       .pass = pass};
    if (Status st = ValidateConfig(cfg); !st.ok()) {
      row.skipped = st.message();
      out->push_back(row);
      continue;
    }
    SimOptions opt;
    opt.max_general_ops = 2'000'000'000;  // ~7 CPU-minutes of the general engine: refuse beyond, say so
    SimResult r;
    if (Status st = Simulate(cfg, hw, opt, &r); !st.ok()) {
      if (!st.IsInvalidArgument()) return st;
      row.skipped = st.message();
      out->push_back(row);
      continue;
    }
    row.step_us = r.summary.step_time_us;
    row.imbalance = r.summary.load_imbalance;
    row.extrapolated = r.extrapolation.Share();
    row.engine = r.phased_period > 0 ? "phased" : r.range_period > 0 ? "rank-range"
                 : r.symmetry_period < world ? "symmetric" : "general";
    if (*best < 0 || row.step_us < (*out)[*best].step_us) *best = int(out->size());
    out->push_back(row);
  }
  return Status::Ok();
}

}  // namespace ringlab::sim
