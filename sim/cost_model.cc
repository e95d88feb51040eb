#include "sim/cost_model.h"

#include <algorithm>
#include <cmath>

namespace ringlab::sim {

CostModel::CostModel(const HardwareProfile& hw, const ScheduleConfig& cfg) : hw_(hw) {
  const std::string pass = cfg.pass == Pass::kForward ? "forward" : "backward";
  causal_ = hw.FindTable(pass, "causal", cfg.problem.head_dim);
  full_ = hw.FindTable(pass, "full", cfg.problem.head_dim);
}

double CostModel::AttendTflops(const AttendBlock& b) const {
  const AttentionTable* t = b.causal ? causal_ : full_;
  if (!t) return hw_.peak_tflops * hw_.max_efficiency;
  return t->TflopsAt(std::sqrt(double(b.QTokens()) * double(b.KvTokens())));
}

int64_t CostModel::ComputePs(const Op& op) const {
  const double launch_s = hw_.launch_us * 1e-6;
  double s = 0;
  switch (op.kind) {
    case OpKind::kAttend: {
      const AttentionTable* t = op.attend.causal ? causal_ : full_;
      const double flop_s = op.flops / (AttendTflops(op.attend) * 1e12);
      s = launch_s + (t ? flop_s : std::max(flop_s, double(op.bytes) / (hw_.hbm_gbps * 1e9)));
      break;
    }
    case OpKind::kMerge:
      s = hw_.merge_kernels * launch_s + double(op.bytes) / (hw_.merge_gbps * 1e9);
      break;
    case OpKind::kCopy:
    case OpKind::kPrepare:
      s = launch_s + double(op.bytes) / (hw_.copy_gbps * 1e9);
      break;
    default:
      s = 0;
  }
  return std::llround(s * 1e12);
}

}  // namespace ringlab::sim
