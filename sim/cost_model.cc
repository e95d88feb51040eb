#include "sim/cost_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/ulysses_layout.h"
#include "sim/masked_work.h"

namespace ringlab::sim {

const char* ExtrapolationName(Extrapolation e) {
  switch (e) {
    case Extrapolation::kNone: return "measured";
    case Extrapolation::kNoTable: return "no measured attention table (roofline)";
    case Extrapolation::kHeadDim: return "head dim without a table";
    case Extrapolation::kMask: return "mask without a table";
    case Extrapolation::kBlockSize: return "block size outside the measured range";
    case Extrapolation::kBatchHeads: return "batch x heads outside the measured range";
    case Extrapolation::kCtas: return "CTA count outside the measured range";
    case Extrapolation::kMode: return "forward output mode (merge/overwrite) without a table";
    case Extrapolation::kMaskedBlock:
      return "block partly visible under a window or document mask (no masked-kernel fit)";
    case Extrapolation::kOffTile: return "block length off the tile multiple the table was measured at";
  }
  return "?";
}

const char* ExtrapolationKey(Extrapolation e) {
  switch (e) {
    case Extrapolation::kNone: return "none";
    case Extrapolation::kNoTable: return "no_table";
    case Extrapolation::kHeadDim: return "head_dim";
    case Extrapolation::kMask: return "mask";
    case Extrapolation::kBlockSize: return "block_size";
    case Extrapolation::kBatchHeads: return "batch_heads";
    case Extrapolation::kCtas: return "ctas";
    case Extrapolation::kMode: return "mode";
    case Extrapolation::kMaskedBlock: return "masked_block";
    case Extrapolation::kOffTile: return "off_tile";
  }
  return "?";
}

void ExtrapolationTally::Add(int32_t op_id, int64_t duration_ps, Extrapolation why) {
  compute_ps += double(duration_ps);
  if (why == Extrapolation::kNone) return;
  extrapolated_ps[int(why)] += double(duration_ps);
  if (first_op < 0) first_op = op_id, first_why = why;
}

void ExtrapolationTally::Merge(const ExtrapolationTally& o, double times) {
  compute_ps += o.compute_ps * times;
  for (int i = 0; i < kExtrapolationKinds; ++i) extrapolated_ps[i] += o.extrapolated_ps[i] * times;
  if (first_op < 0 && o.first_op >= 0) first_op = o.first_op, first_why = o.first_why;
}

double ExtrapolationTally::ExtrapolatedPs() const {
  double s = 0;
  for (double x : extrapolated_ps) s += x;
  return s;
}

nlohmann::json ExtrapolationJson(const ExtrapolationTally& t) {
  nlohmann::json by = nlohmann::json::object();
  for (int i = 1; i < kExtrapolationKinds; ++i)
    if (t.extrapolated_ps[i] > 0 && t.compute_ps > 0)
      by[ExtrapolationKey(Extrapolation(i))] = t.extrapolated_ps[i] / t.compute_ps;
  return {{"share", t.Share()}, {"by_dimension", by}};
}

std::string ExtrapolationLine(const ExtrapolationTally& t) {
  if (t.ExtrapolatedPs() <= 0) return "extrapolated: none (every op's cost from measured data)";
  char buf[160];
  snprintf(buf, sizeof buf, "extrapolated: %.1f%% of compute time (", 100 * t.Share());
  std::string s = buf;
  bool first = true;
  for (int i = 1; i < kExtrapolationKinds; ++i) {
    if (t.extrapolated_ps[i] <= 0) continue;
    snprintf(buf, sizeof buf, "%s%s %.1f%%", first ? "" : ", ", ExtrapolationName(Extrapolation(i)),
             100 * t.extrapolated_ps[i] / t.compute_ps);
    s += buf;
    first = false;
  }
  return s + ")";
}

CostModel::TableChoice CostModel::Choose(const HardwareProfile& hw, const std::string& pass, const std::string& mask,
                                         int head_dim, const std::string& mode) {
  TableChoice c = ChooseAmong(hw, pass, mask, head_dim,
                              [&](const AttentionTable& t) { return t.mode.empty() || t.mode == mode; });
  if (c.table) return c;
  // Only the other mode was measured: its tables, and the cost counts as extrapolated.
  c = ChooseAmong(hw, pass, mask, head_dim, [](const AttentionTable&) { return true; });
  if (c.table && c.why == Extrapolation::kNone) c.why = Extrapolation::kMode;
  return c;
}

template <typename Usable>
CostModel::TableChoice CostModel::ChooseAmong(const HardwareProfile& hw, const std::string& pass,
                                              const std::string& mask, int head_dim, Usable usable) {
  auto find = [&](const std::string& m) -> const AttentionTable* {
    for (const AttentionTable& t : hw.attention)
      if (t.pass == pass && t.mask == m && t.head_dim == head_dim && usable(t)) return &t;
    return nullptr;
  };
  if (const AttentionTable* t = find(mask)) return {t, nullptr, Extrapolation::kNone};
  const std::string other = mask == "causal" ? "full" : "causal";
  if (const AttentionTable* t = find(other)) return {t, nullptr, Extrapolation::kMask};
  std::vector<const AttentionTable*> same;
  for (const AttentionTable& t : hw.attention)
    if (t.pass == pass && t.mask == mask && usable(t)) same.push_back(&t);
  Extrapolation why = Extrapolation::kHeadDim;
  if (same.empty()) {
    why = Extrapolation::kMask;  // and the head dim: the other mask's nearest head dim
    for (const AttentionTable& t : hw.attention)
      if (t.pass == pass && t.mask == other && usable(t)) same.push_back(&t);
  }
  if (same.empty()) return {nullptr, nullptr, Extrapolation::kNoTable};
  // Nearest head dim first (the smaller on a tie), then the next nearest.
  std::sort(same.begin(), same.end(), [&](const AttentionTable* a, const AttentionTable* b) {
    return std::pair{std::abs(a->head_dim - head_dim), a->head_dim} < std::pair{std::abs(b->head_dim - head_dim), b->head_dim};
  });
  return {same[0], same.size() > 1 ? same[1] : nullptr, why};
}

// Ulysses and hybrid schedules attend with H/U query heads (and their KV heads) per rank: the head-sharded blocks'
// heads come from their FLOPs (HeadsOf), and the GQA group from the local problem.
CostModel::CostModel(const HardwareProfile& hw, const ScheduleConfig& cfg)
    : hw_(hw),
      problem_(cfg.ulysses > 1 ? UlyssesLayout(cfg).LocalProblem() : cfg.problem),
      mask_(problem_.AttentionMask()) {
  const std::string pass = cfg.pass == Pass::kForward ? "forward" : "backward";
  flops_per_pair_head_ = 4.0 * cfg.problem.head_dim * (cfg.pass == Pass::kForward ? 1.0 : 2.5);
  call_host_s_ = (cfg.pass == Pass::kForward ? hw.forward_call_host_us : hw.backward_call_host_us) * 1e-6;
  // Backward tables have no mode: both entries of a mask are the same choice.
  for (int causal : {0, 1})
    for (int merge : {0, 1})
      choice_[causal][merge] = Choose(hw, pass, causal ? "causal" : "full", cfg.problem.head_dim,
                                      cfg.pass == Pass::kForward ? (merge ? "merge" : "overwrite") : "");
}

double CostModel::TableUs(const AttentionTable& t, const Op& op) const {
  if (t.wave.enabled) return WaveUs(t, op);
  const double flops_at_table_dim = op.flops * t.head_dim / std::max(1, problem_.head_dim);
  const AttendBlock& b = op.attend;
  const double tflops = t.TflopsAt(std::sqrt(double(b.QTokens()) * double(b.KvTokens())));
  return tflops > 0 ? flops_at_table_dim / (tflops * 1e6) : 0;
}

double CostModel::HeadDimScale(const Op& op) const {
  if (op.kind != OpKind::kAttend) return 1;
  const TableChoice& c = ChoiceOf(op);
  const int d = problem_.head_dim;
  if (!c.table || c.table->head_dim == d) return 1;
  const double d0 = c.table->head_dim;
  const double t0 = TableUs(*c.table, op);
  if (t0 <= 0) return 1;
  double t = 0;
  if (c.second && c.second->head_dim != c.table->head_dim) {
    const double t1 = TableUs(*c.second, op), d1 = c.second->head_dim;
    t = t0 + (t1 - t0) * (d - d0) / (d1 - d0);
  } else {
    // Matrix products at the profile's best rate, the rest of the measured time per pair independent of D.
    const double flops0 = op.flops * d0 / std::max(1, d);
    const double matmul = std::clamp(flops0 / (hw_.peak_tflops * hw_.max_efficiency * 1e6) / t0, 0.0, 1.0);
    t = t0 * ((1 - matmul) + matmul * d / d0);
  }
  // Time non-decreasing and rate non-decreasing in D: between t0 and t0·D/D0.
  const double lo = std::min(t0, t0 * d / d0), hi = std::max(t0, t0 * d / d0);
  return std::clamp(t, lo, hi) / t0;
}

Extrapolation CostModel::ExtrapolationOf(const Op& op) const {
  if (op.kind != OpKind::kAttend) return Extrapolation::kNone;
  const TableChoice& c = ChoiceOf(op);
  if (c.why != Extrapolation::kNone) return c.why;
  const AttentionTable& t = *c.table;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return Extrapolation::kNone;
  // A partly visible block under a window or documents, unless the table's cost form was fitted on masked kernels
  // or it is just a causal diagonal block (the mask cuts nothing inside it: e.g. a window longer than the sequence).
  if (b.masked && !t.wave.cost.masked_fitted && !(b.q_global == b.kv_global && b.QTokens() == b.KvTokens() &&
                    b.masked_pairs == 0.5 * double(b.QTokens()) * double(b.QTokens())))
    return Extrapolation::kMaskedBlock;
  if (const int64_t m = t.measured_tile_multiple; m > 0 && (b.QTokens() % m != 0 || b.KvTokens() % m != 0))
    return Extrapolation::kOffTile;
  constexpr double kSlack = 1.01;  // measured shapes round to whole tiles
  auto outside = [](double x, double lo, double hi) { return x < lo / kSlack || x > hi * kSlack; };
  if (!t.wave.enabled) {
    if (outside(std::sqrt(double(b.QTokens()) * double(b.KvTokens())), t.points.front().first, t.points.back().first))
      return Extrapolation::kBlockSize;
  } else if (t.wave.cost.enabled) {  // the CTA cost form: the tiles per CTA its samples had
    const double n = t.wave.TilesPerCta(b.QTokens(), b.KvTokens(), pairs, WaveGroup(t.wave, op, pairs));
    if (t.measured_tiles_per_cta.second <= 0 ||
        outside(n, t.measured_tiles_per_cta.first, t.measured_tiles_per_cta.second))
      return Extrapolation::kBlockSize;
  } else if (!t.wave.round_us.empty()) {
    const double n = t.wave.TilesPerCta(b.QTokens(), b.KvTokens(), pairs, WaveGroup(t.wave, op, pairs));
    if (outside(n, t.wave.round_us.front().first, t.wave.round_us.back().first)) return Extrapolation::kBlockSize;
  }
  const double heads = HeadsOf(op, pairs);
  if (!t.wave.enabled) {  // a rate per block size, measured at some batch x heads
    if (t.measured_batch_heads.second > 0 &&
        outside(heads * std::max(1, problem_.batch), t.measured_batch_heads.first, t.measured_batch_heads.second))
      return Extrapolation::kBatchHeads;
    return Extrapolation::kNone;
  }
  // A wave model sees batch x heads only through the CTA count. Fewer CTAs than measured: partial rounds the samples
  // did not show. More: whole rounds repeat, so once the samples span kFullRounds rounds of every slot the model's
  // rounds are measured ones and more of them are not an extrapolation.
  constexpr double kFullRounds = 4;
  if (t.measured_ctas.second > 0) {
    const double ctas = t.wave.Ctas(b.QTokens(), b.KvTokens(), heads, problem_.batch, WaveGroup(t.wave, op, pairs));
    const double hi = t.measured_ctas.second >= kFullRounds * t.wave.sms * t.wave.ctas_per_sm ? 1e300
                                                                                              : t.measured_ctas.second;
    if (outside(ctas, t.measured_ctas.first, hi)) return Extrapolation::kCtas;
  }
  return Extrapolation::kNone;
}

std::string CostModel::DescribeExtrapolation(const Op& op) const {
  const Extrapolation e = ExtrapolationOf(op);
  const AttendBlock& b = op.attend;
  char buf[256];
  snprintf(buf, sizeof buf, "attend op %d (%s, q %lld x kv %lld tokens, D=%d, batch %d): %s", op.id,
           b.causal ? "causal" : "full", (long long)b.QTokens(), (long long)b.KvTokens(), problem_.head_dim,
           problem_.batch, ExtrapolationName(e));
  std::string s = buf;
  const TableChoice& c = ChoiceOf(op);
  if (c.table && (e == Extrapolation::kHeadDim || e == Extrapolation::kMask))
    s += " (used the " + c.table->mask + " table at D=" + std::to_string(c.table->head_dim) + ")";
  return s;
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
  c.extrapolated = ExtrapolationOf(op);
  return c;
}

double CostModel::BesideCommSlowdown(const Op& op) const {
  double f = 1 + hw_.comm_slowdown;
  if (op.kind == OpKind::kAttend && hw_.nccl_sms > 0) {
    const AttentionTable* t = TableOf(op);
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

double CostModel::WaveGroup(const WaveModel& w, const Op& op, double pairs) const {
  const AttendBlock& b = op.attend;
  return w.GroupPerCta(b.QTokens(), b.KvTokens(), HeadsOf(op, pairs), problem_.batch, GroupSize(), b.causal);
}

double CostModel::ExpandedGroupSumS(const AttentionTable& t, const Op& op) const {
  const double group = GroupSize();
  if (!t.wave.enabled || t.wave.group_walk != WaveModel::GroupWalk::kExpand || group <= 1) return 0;
  const double pairs = op.attend.EffectivePairs();
  if (pairs <= 0) return 0;
  // Read every query head's dK and dV, write the kv heads' (elements of the problem's dtype).
  const double expanded = double(problem_.QBytes(op.attend.KvTokens())) * HeadsOf(op, pairs) / problem_.heads;
  return 2 * hw_.launch_us * 1e-6 + 2 * (expanded + expanded / group) / (hw_.copy_gbps * 1e9);
}

double CostModel::WaveUsOn(const WaveModel& w, const Op& op) const {
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = WaveGroup(w, op, pairs);
  if (double us = 0; MaskedKernelUs(w, op, heads, group, &us, nullptr)) return us;
  return b.causal ? w.CausalKernelUs(b.QTokens(), b.KvTokens(), b.diagonal_offset, heads, problem_.batch, group)
                  : w.KernelUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group);
}

bool CostModel::MaskedKernelUs(const WaveModel& w, const Op& op, double heads, double group, double* us,
                               double* first_idle_us) const {
  const AttendBlock& b = op.attend;
  if (!b.masked || b.q_global < 0 || !w.cost.enabled) return false;
  const std::vector<std::pair<double, double>> work = MaskedWork(w, mask_, b, group);
  if (work.empty()) return false;
  WaveModel masked = w;
  masked.cost = w.cost.ForMaskedKernels();
  *us = w.cost.masked_persistent && !w.grid_kv
            ? masked.PersistentKernelUs(work, b.QTokens(), b.KvTokens(), heads, problem_.batch, group, w.cost.cta_us,
                                        first_idle_us)
            : masked.ListedKernelUs(work, b.QTokens(), b.KvTokens(), heads, problem_.batch, group, first_idle_us);
  return true;
}

double CostModel::WaveUs(const AttentionTable& t, const Op& op, double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = WaveGroup(t.wave, op, pairs);
  if (double us = 0; MaskedKernelUs(t.wave, op, heads, group, &us, first_idle_us)) return us;
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
  const AttentionTable* t = TableOf(op);
  if (!t || !t->wave.enabled) return -1;
  double idle = 0;
  const double us = WaveUs(*t, op, &idle);
  return us > 0 ? std::clamp(idle / us, 0.0, 1.0) : -1;
}

int64_t CostModel::DisplacedTailPs(const Op& op) const {
  const AttentionTable* full = op.kind == OpKind::kAttend ? TableOf(op) : nullptr;
  if (op.kind != OpKind::kAttend || op.attend.causal || hw_.nccl_sms <= 0 || !full || !full->wave.enabled) return 0;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return 0;
  const double heads = HeadsOf(op, pairs);
  const double group = WaveGroup(full->wave, op, pairs);
  const double us = full->wave.DisplacedTailUs(b.QTokens(), b.KvTokens(), pairs, heads, problem_.batch, group,
                                                int(std::lround(hw_.nccl_sms)));
  return int64_t(us * HeadDimScale(op) * 1e6 + 0.5);
}

bool CostModel::EqualCtaWaves(const Op& op, double* ctas, int* slots, int64_t* round_ps) const {
  const AttentionTable* full = op.kind == OpKind::kAttend ? TableOf(op) : nullptr;
  if (op.kind != OpKind::kAttend || op.attend.causal || !full || !full->wave.enabled) return false;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return false;
  const WaveModel& w = full->wave;
  const double heads = HeadsOf(op, pairs);
  const double group = WaveGroup(w, op, pairs);
  *ctas = w.Ctas(b.QTokens(), b.KvTokens(), heads, problem_.batch, group);
  *slots = w.sms * w.ctas_per_sm;
  if (*ctas > 16.0 * *slots) return false;
  // Under the CTA cost form's load clock and power cap every round stretches by the kernel's mean factor
  // (wave_model.h).
  const double round = w.RoundUs(w.TilesPerCta(b.QTokens(), b.KvTokens(), pairs, group));
  const double factor = w.cost.ClockFactor(w.EffectiveRounds(*ctas) * round, w.EqualLoad(*ctas));
  *round_ps = int64_t(round * factor * HeadDimScale(op) * 1e6 + 0.5);
  return *round_ps > 0;
}

int CostModel::SlotsPerSm(const Op& op) const {
  const AttentionTable* t = TableOf(op);
  return t && t->wave.enabled ? t->wave.ctas_per_sm : 1;
}

bool CostModel::FillsGpu(const Op& op) const {
  if (op.kind != OpKind::kAttend) return true;
  const AttentionTable* t = TableOf(op);
  if (!t || !t->wave.enabled) return true;
  const AttendBlock& b = op.attend;
  const double pairs = b.EffectivePairs();
  if (pairs <= 0) return false;
  const double heads = HeadsOf(op, pairs);
  const double group = WaveGroup(t->wave, op, pairs);
  return t->wave.Ctas(b.QTokens(), b.KvTokens(), heads, problem_.batch, group) >= t->wave.sms;
}

double CostModel::AttendTflops(const AttendBlock& b) const {
  const AttentionTable* t = choice_[b.causal][b.merge].table;
  if (!t) return hw_.peak_tflops * hw_.max_efficiency;
  // FLOPs per microsecond of the block over all heads, in TFLOP/s (for reports; the op's own heads may differ).
  Op op;
  op.kind = OpKind::kAttend;
  op.attend = b;
  op.flops = flops_per_pair_head_ * b.EffectivePairs() * std::max(1, problem_.batch) * problem_.heads;
  const double us = TableUs(*t, op) * HeadDimScale(op);
  return us > 0 ? op.flops / (us * 1e6) : hw_.peak_tflops * hw_.max_efficiency;
}

int64_t CostModel::ComputePs(const Op& op) const {
  const double launch_s = hw_.launch_us * 1e-6;
  double s = 0;
  switch (op.kind) {
    case OpKind::kAttend: {
      const AttentionTable* t = TableOf(op);
      if (t) {
        s = launch_s + TableUs(*t, op) * HeadDimScale(op) * 1e-6 + ExpandedGroupSumS(*t, op);
      } else {
        const double flop_s = op.flops / (hw_.peak_tflops * hw_.max_efficiency * 1e12);
        s = launch_s + std::max(flop_s, double(op.bytes) / (hw_.hbm_gbps * 1e9));
      }
      s = std::max(s, call_host_s_);
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
