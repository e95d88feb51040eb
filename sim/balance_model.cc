#include "sim/balance_model.h"

#include <memory>

#include "core/schedule.h"
#include "sim/cost_model.h"

namespace ringlab::sim {

StepModel ProfileStepModel(std::shared_ptr<const HardwareProfile> hw, const Problem& problem, int world) {
  ScheduleConfig cfg;
  cfg.problem = problem;
  cfg.world = world;
  cfg.pass = Pass::kForward;
  // CostModel keeps a reference to the profile: the closures own both.
  auto costs = std::make_shared<CostModel>(*hw, cfg);
  const double flops_per_pair = 4.0 * problem.batch * problem.heads * problem.head_dim;
  StepModel model;
  model.attend_us = [hw, costs, flops_per_pair](int64_t q_tokens, int64_t kv_tokens, double pairs) {
    Op op;
    op.kind = OpKind::kAttend;
    op.attend.q_end = q_tokens;
    op.attend.kv_end = kv_tokens;
    op.attend.masked = true;  // as the schedule's partial blocks (core/schedule_mask.h): not causal, costed by pairs
    op.attend.masked_pairs = pairs;
    op.attend.q_global = op.attend.kv_global = -1;  // a rank's whole work, no one place: by pairs, not by tiles
    op.flops = flops_per_pair * pairs;
    return double(costs->Cost(op).duration_ps) * 1e-6;
  };
  const bool across_nodes = world > hw->gpus_per_node;
  model.hop_us = [hw, across_nodes](int64_t bytes) {
    if (across_nodes) return hw->nic_latency_us + double(bytes) / (hw->nic_gbps * 1e3);
    const double table_us = hw->P2pTimeUs(/*ring=*/true, bytes);
    return table_us >= 0 ? table_us : hw->nvlink_latency_us + double(bytes) / (hw->nvlink_gbps * 1e3);
  };
  return model;
}

Status ProfileStepModel(const std::string& profile, const Problem& problem, int world, StepModel* model) {
  auto hw = std::make_shared<HardwareProfile>();
  RINGLAB_RETURN_IF_ERROR(LoadProfile(profile, hw.get()));
  *model = ProfileStepModel(std::move(hw), problem, world);
  return Status::Ok();
}

}  // namespace ringlab::sim
