// Cost model: what a compute-stream op costs on one GPU (OpCost: its time alone, the engine applies the comm slowdown,
// and how it shares the GPU with NCCL's kernels), from one call.
//
//   attend : launch + FLOPs / rate, rate = the profile's table for (pass, mask, head dim) at the block's size
//            sqrt(q_tokens·kv_tokens); a table with a kernel wave model (wave_model.h) gives launch + its
//            kernel time instead (causal blocks: list scheduling of their unequal CTAs); without a table, the roofline
//            max(FLOPs / (peak·max_efficiency), bytes / HBM)
//            A head dim without a table uses the nearest measured head dim's table, scaled by arithmetic intensity:
//            an attention kernel's time per (query, key) pair and head is c0 + c1·D (softmax and bookkeeping per pair,
//            the two matrix products per dimension). With two measured head dims the line goes through both
//            tables' times for the op's shape; with one, c1·D0 is the matrix products at the profile's best rate
//            (peak·max_efficiency) and c0 the rest of the measured time. Either way the time is non-decreasing in D
//            and the rate non-decreasing too (time between t(D0) and t(D0)·D/D0).
//            A mask without a table uses the other mask's table at the same head dim.
//            Forward blocks that overwrite their output (a ring's first step, one-GPU attention) use the profile's
//            "overwrite" table and those that merge into running accumulators its "merge" table, when the profile
//            has them (a table without a mode serves both); the other mode's table otherwise, counted as extrapolated.
//            A wave model with the CTA cost form (wave_model.h: a fixed time per kernel, per CTA, per tile and per
//            diagonal tile) gives the same from the launch's CTAs; its block-size range is the measured tiles per CTA.
//   Every attend op that leaves the measured data is counted as extrapolated (OpCost::extrapolated, with the
//   dimension): no table at all (roofline), head dim without a table, mask without a table, block size outside the
//   table's measured range (points: sqrt(q·kv); wave models with a round table: tiles per CTA), batch×heads (points
//   tables) or CTA count (wave models: fewer than measured, or more while the samples span under 4 full rounds)
//   outside the table's `measured` ranges. ExtrapolationTally adds them up per program.
//   An attend op takes at least the profile's host time of one attention call in its pass (forward_call_host_us,
//   backward_call_host_us: a framework whose host issues slower than small kernels run).
//   merge  : merge_kernels·launch + bytes / merge bandwidth   (bytes = the op's read + written bytes)
//   copy, prepare : launch + bytes / copy bandwidth
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/schedule.h"
#include "core/mask.h"
#include "sim/profile.h"

namespace ringlab::sim {

// Why an op's cost is not read inside measured data (kNone: it is). One dimension per op, the first that applies in
// this order: kNoTable, kHeadDim, kMask, kMode (the table choice), kMaskedBlock, kOffTile, kBlockSize, kBatchHeads,
// kCtas.
// kMaskedBlock: a block that a window or document mask leaves partly visible, costed by a table without the masked
// kernels' own terms (wave.cost.masked, fitted on measured masked kernels: sim/wave_model.h CtaCost); it is charged by
// the tiles the mask touches (sim/masked_work.h) at the dense kernels' terms, which no masked kernel was fitted on.
// kOffTile: a block whose query or key length is not a multiple of the table's measured "tile_multiple" (a table whose
// kernel runs another code path at such lengths, measured to cost what the model does not say: the peer's causal
// FlashAttention-2 forward at head dims <= 128, bench/results/kernel_model_offtile.md).
enum class Extrapolation : uint8_t {
  kNone, kNoTable, kHeadDim, kMask, kBlockSize, kBatchHeads, kCtas, kMode, kMaskedBlock, kOffTile
};
inline constexpr int kExtrapolationKinds = 10;
// "head dim without a table", "block size outside the measured range", ...
const char* ExtrapolationName(Extrapolation e);
// A short key for JSON and CSV: "no_table", "head_dim", "mask", "block_size", "batch_heads", "ctas", "mode",
// "masked_block", "off_tile".
const char* ExtrapolationKey(Extrapolation e);

// Compute time of a set of ops and how much of it is extrapolated, per dimension; the first extrapolated op (its
// schedule op id) for --strict's message.
struct ExtrapolationTally {
  double compute_ps = 0;
  std::array<double, kExtrapolationKinds> extrapolated_ps{};
  int32_t first_op = -1;
  Extrapolation first_why = Extrapolation::kNone;
  void Add(int32_t op_id, int64_t duration_ps, Extrapolation why);
  void Merge(const ExtrapolationTally& o, double times = 1);
  double ExtrapolatedPs() const;
  double Share() const { return compute_ps > 0 ? ExtrapolatedPs() / compute_ps : 0; }
  bool operator==(const ExtrapolationTally&) const = default;
};

// {"share": extrapolated / compute time, "by_dimension": {"head_dim": share, ...} (non-zero only)}.
nlohmann::json ExtrapolationJson(const ExtrapolationTally& t);
// One line for a summary: "extrapolated: 100.0% of compute time (head dim without a table 100.0%)", or
// "extrapolated: none (every op's cost from measured data)".
std::string ExtrapolationLine(const ExtrapolationTally& t);

// What a compute-stream op costs on one GPU: its duration alone and how it shares the GPU with NCCL's kernels.
struct OpCost {
  int64_t duration_ps = 0;  // alone (the engine applies the comm slowdown)
  // Whether it launches at least one CTA per SM (attention with a wave model: its CTA count; other kernels and the
  // roofline fallback: yes); a transfer posted beside it waits for SMs.
  bool fills_gpu = true;
  // For a GPU-filling attention op with a wave model: the fraction of its duration after which a slot first goes idle
  // with no CTA left (WaveModel::FirstIdleUs; a transfer posted beside it gets its SMs then). −1 otherwise (the
  // profile's comm_start_wait applies).
  double first_idle_fraction = -1;
  // For a full-mask attention op with a wave model: how much longer it runs when a transfer is posted before its last
  // partial round starts and NCCL's kernel takes SMs from that round (WaveModel::DisplacedTailUs); else 0.
  int64_t displaced_tail_ps = 0;
  // How much slower (factor − 1) it runs while its rank communicates: (1 + comm_slowdown) times, for attention with a
  // wave model, the ratio of its kernel time on sms − nccl_sms SMs to that on all of them.
  double beside_comm_slowdown = 0;
  // Full-mask attention with a wave model and at most 16 rounds (the engine list-schedules it when NCCL held SMs at
  // its launch): equal_ctas is set, with its CTA count, the GPU's slots (SMs × CTAs per SM), its CTAs per SM and the
  // duration of one round. Otherwise equal_ctas is false and the rest stays as below.
  bool equal_ctas = false;
  double ctas = 0;
  int slots = 0;
  int slots_per_sm = 1;
  int64_t round_ps = 0;
  // Whether the duration leaves the profile's measured data, and along which dimension.
  Extrapolation extrapolated = Extrapolation::kNone;
};

class CostModel {
 public:
  CostModel(const HardwareProfile& hw, const ScheduleConfig& cfg);
  // The whole cost of a compute-stream op: everything the engine needs to know about it.
  OpCost Cost(const Op& op) const;
  // The attention rate used for a block, in TFLOP/s (for reports and tests).
  double AttendTflops(const AttendBlock& b) const;
  // Whether (and why) an op's cost is extrapolated, and a sentence naming the op's shape and the measured range it
  // leaves (for --strict).
  Extrapolation ExtrapolationOf(const Op& op) const;
  std::string DescribeExtrapolation(const Op& op) const;

 private:
  // The table an attend op of one mask uses: the exact (pass, mask, head dim) one, else the nearest head dim's (and
  // the second nearest, for the head-dim line), else the other mask's; `why` says which.
  struct TableChoice {
    const AttentionTable* table = nullptr;
    const AttentionTable* second = nullptr;
    Extrapolation why = Extrapolation::kNone;
  };
  static TableChoice Choose(const HardwareProfile& hw, const std::string& pass, const std::string& mask, int head_dim,
                            const std::string& mode);
  // Among the tables `usable` accepts (the mode filter).
  template <typename Usable>
  static TableChoice ChooseAmong(const HardwareProfile& hw, const std::string& pass, const std::string& mask,
                                 int head_dim, Usable usable);
  const TableChoice& ChoiceOf(const Op& op) const { return choice_[op.attend.causal][op.attend.merge]; }
  const AttentionTable* TableOf(const Op& op) const { return ChoiceOf(op).table; }
  // The kernel time in microseconds (no launch) a table gives for the op at the table's own head dim.
  double TableUs(const AttentionTable& t, const Op& op) const;
  // The op's time at its head dim over its time at the table's (1 with an exact table; see the header comment).
  double HeadDimScale(const Op& op) const;

  // The parts of Cost (see OpCost).
  int64_t ComputePs(const Op& op) const;
  bool FillsGpu(const Op& op) const;
  double FirstIdleFraction(const Op& op) const;
  int64_t DisplacedTailPs(const Op& op) const;
  bool EqualCtaWaves(const Op& op, double* ctas, int* slots, int64_t* round_ps) const;
  int SlotsPerSm(const Op& op) const;
  double BesideCommSlowdown(const Op& op) const;
  double WaveUs(const AttentionTable& t, const Op& op, double* first_idle_us = nullptr) const;
  double WaveUsOn(const WaveModel& w, const Op& op) const;
  // A block a window or documents cut, with the CTA cost form: true and its kernel time from the tiles the mask
  // touches (masked_work.h); false for every other block (and a masked one with no place, q_global < 0, or too large).
  bool MaskedKernelUs(const WaveModel& w, const Op& op, double heads, double group, double* us,
                      double* first_idle_us) const;
  // Seconds of the two reductions after a backward whose kernel expands the GQA group (WaveModel::GroupWalk::kExpand): the
  // per-query-head dK and dV (B·h·kv·D elements each) summed into B·h/group·kv·D; 0 otherwise.
  double ExpandedGroupSumS(const AttentionTable& t, const Op& op) const;
  // Query heads of an attend op with `pairs` allowed (query, key) pairs (a block may cover some heads only), and query
  // heads per kv head.
  double HeadsOf(const Op& op, double pairs) const;
  double GroupSize() const;
  // The query heads one CTA of `w`'s kernel walks for `op` (WaveModel::GroupPerCta: H/Hkv, or its share).
  double WaveGroup(const WaveModel& w, const Op& op, double pairs) const;
  struct CausalKey {
    int64_t q, kv, offset;
    double heads;
    const AttentionTable* table;
    bool operator<(const CausalKey& o) const {
      return std::tie(q, kv, offset, heads, table) < std::tie(o.q, o.kv, o.offset, o.heads, o.table);
    }
  };
  // (us, first idle us) per causal block shape; one CostModel per simulation: not shared across threads.
  mutable std::map<CausalKey, std::pair<double, double>> causal_cache_;
  const HardwareProfile& hw_;
  Problem problem_;
  Mask mask_;  // problem_'s: the tiles a masked block's CTAs touch (masked_work.h)
  double flops_per_pair_head_ = 0;  // FLOPs of one (query, key) pair of one head in this pass
  double call_host_s_ = 0;          // the profile's host time of one attention call in this pass (a floor)
  TableChoice choice_[2][2];  // [causal][merge]
};

}  // namespace ringlab::sim
