// Cost model: what a compute-stream op costs on one GPU (OpCost: its time alone, the engine applies the comm slowdown,
// and how it shares the GPU with NCCL's kernels), from one call.
//
//   attend : launch + FLOPs / rate, rate = the profile's table for (pass, mask, head dim) at the block's size
//            sqrt(q_tokens·kv_tokens); a table with a kernel wave model (wave_model.h) gives launch + its
//            kernel time instead (causal blocks: list scheduling of their unequal CTAs); without a table, the roofline
//            max(FLOPs / (peak·max_efficiency), bytes / HBM)
//   merge  : merge_kernels·launch + bytes / merge bandwidth   (bytes = the op's read + written bytes)
//   copy, prepare : launch + bytes / copy bandwidth
#pragma once

#include <cstdint>
#include <map>
#include <tuple>

#include "core/schedule.h"
#include "sim/profile.h"

namespace ringlab::sim {

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
};

class CostModel {
 public:
  CostModel(const HardwareProfile& hw, const ScheduleConfig& cfg);
  // The whole cost of a compute-stream op: everything the engine needs to know about it.
  OpCost Cost(const Op& op) const;
  // The attention rate used for a block, in TFLOP/s (for reports and tests).
  double AttendTflops(const AttendBlock& b) const;

 private:
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
  // Query heads of an attend op with `pairs` allowed (query, key) pairs (a block may cover some heads only), and query
  // heads per kv head.
  double HeadsOf(const Op& op, double pairs) const;
  double GroupSize() const;
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
  double flops_per_pair_head_ = 0;  // FLOPs of one (query, key) pair of one head in this pass
  const AttentionTable* causal_ = nullptr;
  const AttentionTable* full_ = nullptr;
};

}  // namespace ringlab::sim
