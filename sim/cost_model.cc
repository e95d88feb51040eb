#include "sim/cost_model.h"

#include <algorithm>
#include <cmath>

#include "core/ulysses_layout.h"

namespace ringlab::sim {

// Ulysses and hybrid schedules attend with H/U query heads (and their KV heads) per rank: the head-sharded blocks'
// heads come from their FLOPs (HeadsOf), and the GQA group from the local problem.
CostModel::CostModel(const HardwareProfile& hw, const ScheduleConfig& cfg)
    : hw_(hw), problem_(cfg.ulysses > 1 ? UlyssesLayout(cfg).LocalProblem() : cfg.problem) {
  const std::string pass = cfg.pass == Pass::kForward ? "forward" : "backward";
  flops_per_pair_head_ = 4.0 * cfg.problem.head_dim * (cfg.pass == Pass::kForward ? 1.0 : 2.5);
  causal_ = hw.FindTable(pass, "causal", cfg.problem.head_dim);
  full_ = hw.FindTable(pass, "full", cfg.problem.head_dim);
}

OpCost CostModel::Cost(const Op& op) const {
  OpCost c;
  c.duration_ps = ComputePs(op);
  c.fills_gpu = FillsGpu(op);
  c.first_idle_fraction = FirstIdleFraction(op);
  c.displaced_tail_ps = DisplacedTailPs(op);
  double ctas = 0;
  int slots = 0;
  int64_t round_ps = 0;
  if (EqualCtaWaves(op, &ctas, &slots, &round_ps)) {
    c.equal_ctas = true;
    c.ctas = ctas;
    c.slots = slots;
    c.slots_per_sm = SlotsPerSm(op);
    c.round_ps = round_ps;
  }
  c.beside_comm_slowdown = BesideCommSlowdown(op);
  return c;
}

double CostModel::BesideCommSlowdown(const Op& op) const {
  double f = 1 + hw_.comm_slowdown;
  if (op.kind == OpKind::kAttend && hw_.nccl_sms > 0) {
    const AttentionTable* t = op.attend.causal ? causal_ : full_;
    if (t && t->wave.enabled && t->wave.sms > hw_.nccl_sms) {
      WaveModel fewer = t->wave;
      fewer.sms = std::max(1, int(std::lround(t->wave.sms - hw_.nccl_sms)));
      const double all = WaveUsOn(t->wave, op);
      if (all > 0) f *= WaveUsOn(fewer, op) / all;
    }
  }
  return f - 1;
}

double CostModel::HeadsOf(const Op& op, double pairs) const {
  return op.flops / (flops_per_pair_head_ * pairs * std::max(1, problem_.batch));
}

double CostModel::GroupSize() const { return double(problem_.heads) / std::max(1, problem_.kv_heads); }

double CostModel::WaveUsOn(const WaveModel& w, const Op& op) const {
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = GroupSize();
  return b.causal ? w.CausalKernelUs(b.QTokens(), b.KvTokens(), b.diagonal_offset, heads, problem_.batch, group)
                  : w.KernelUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group);
}

double CostModel::WaveUs(const AttentionTable& t, const Op& op, double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = GroupSize();
  if (!b.causal) {
    if (first_idle_us)
      *first_idle_us = t.wave.FirstIdleUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group);
    return t.wave.KernelUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group);
  }
  // Causal blocks are list-scheduled CTA by CTA (profile.h); every rank has the same few shapes, so remember them.
  const CausalKey key{b.QTokens(), b.KvTokens(), b.diagonal_offset, heads, &t};
  auto it = causal_cache_.find(key);
  if (it == causal_cache_.end()) {
    double idle = 0;
    const double us =
        t.wave.CausalKernelUs(b.QTokens(), b.KvTokens(), b.diagonal_offset, heads, problem_.batch, group, &idle);
    it = causal_cache_.emplace(key, std::pair{us, idle}).first;
  }
  if (first_idle_us) *first_idle_us = it->second.second;
  return it->second.first;
}

double CostModel::FirstIdleFraction(const Op& op) const {
  if (op.kind != OpKind::kAttend) return -1;
  const AttentionTable* t = op.attend.causal ? causal_ : full_;
  if (!t || !t->wave.enabled) return -1;
  double idle = 0;
  const double us = WaveUs(*t, op, &idle);
  return us > 0 ? std::clamp(idle / us, 0.0, 1.0) : -1;
}

int64_t CostModel::DisplacedTailPs(const Op& op) const {
  if (op.kind != OpKind::kAttend || op.attend.causal || hw_.nccl_sms <= 0 || !full_ || !full_->wave.enabled) return 0;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = GroupSize();
  const double us = full_->wave.DisplacedTailUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group,
                                                int(std::lround(hw_.nccl_sms)));
  return int64_t(us * 1e6 + 0.5);
}

bool CostModel::EqualCtaWaves(const Op& op, double* ctas, int* slots, int64_t* round_ps) const {
  if (op.kind != OpKind::kAttend || op.attend.causal || !full_ || !full_->wave.enabled) return false;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return false;
  const WaveModel& w = full_->wave;
  const double heads = HeadsOf(op, pairs);
  const double group = GroupSize();
  *ctas = w.Ctas(b.QTokens(), b.KvTokens(), heads, problem_.batch, group);
  *slots = w.sms * w.ctas_per_sm;
  if (*ctas > 16.0 * *slots) return false;
  *round_ps = int64_t(w.RoundUs(w.TilesPerCta(b.QTokens(), b.KvTokens(), pairs, group)) * 1e6 + 0.5);
  return *round_ps > 0;
}

int CostModel::SlotsPerSm(const Op& op) const {
  const AttentionTable* t = op.attend.causal ? causal_ : full_;
  return t && t->wave.enabled ? t->wave.ctas_per_sm : 1;
}

bool CostModel::FillsGpu(const Op& op) const {
  if (op.kind != OpKind::kAttend) return true;
  const AttentionTable* t = op.attend.causal ? causal_ : full_;
  if (!t || !t->wave.enabled) return true;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return false;
  const double heads = HeadsOf(op, pairs);
  const double group = GroupSize();
  return t->wave.Ctas(b.QTokens(), b.KvTokens(), heads, problem_.batch, group) >= t->wave.sms;
}

double CostModel::AttendTflops(const AttendBlock& b) const {
  const AttentionTable* t = b.causal ? causal_ : full_;
  if (!t) return hw_.peak_tflops * hw_.max_efficiency;
  if (t->wave.enabled) {
    // FLOPs per microsecond of one head's block, in TFLOP/s (for reports; the op's own heads may differ).
    Op op;
    op.attend = b;
    op.flops = flops_per_pair_head_ * b.EffectivePairs() * std::max(1, problem_.batch) * problem_.heads;
    const double us = WaveUs(*t, op);
    return us > 0 ? op.flops / (us * 1e6) : hw_.peak_tflops * hw_.max_efficiency;
  }
  return t->TflopsAt(std::sqrt(double(b.QTokens()) * double(b.KvTokens())));
}

int64_t CostModel::ComputePs(const Op& op) const {
  const double launch_s = hw_.launch_us * 1e-6;
  double s = 0;
  switch (op.kind) {
    case OpKind::kAttend: {
      const AttentionTable* t = op.attend.causal ? causal_ : full_;
      if (t && t->wave.enabled) {
        s = launch_s + WaveUs(*t, op) * 1e-6;
        break;
      }
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
