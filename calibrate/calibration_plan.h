// What `ringlab calibrate` measures, and how raw timings become fit samples. Plain C++ (no CUDA, no simulator), so the
// plan and the aggregation are tested on any machine; calibrate/microbench runs the plan on GPUs.
//
// The kernel plan is chosen for the simulator's kernel model (sim/wave_model.h), per pass, head dim and mask:
//   tile sweep    many full rounds of CTAs (32 heads) while the loop length n = tiles per CTA goes 8..512: the
//                 round table R(n);
//   CTA sweep     one n, CTA counts from half a round to four rounds (heads 1..32 and two block lengths): the CTAs
//                 per SM and the partial-round throughput;
//   GQA           the backward loops over the query heads of its kv head: the tile sweep again at 4 query heads per
//                 kv head;
//   causal        square causal blocks 1K..32K at 8 and 32 heads (list scheduling of unequal CTAs).
// Blocks stay under `max_block_bytes` of device memory each (inputs, accumulators, gradients).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibrate/samples.h"

namespace ringlab::calibrate {

struct KernelCase {
  std::string pass, mask;  // forward|backward, full|causal
  int head_dim = 128, heads = 32, kv_heads = 32, batch = 1;
  int64_t q = 0, kv = 0;
  int64_t diagonal_offset = 0;
  std::string why;  // tile sweep | cta sweep | gqa | causal
  // Device bytes the benchmark allocates for this block (bf16 inputs, float32 accumulators and gradients).
  int64_t DeviceBytes() const;
  // (query, key) pairs the mask allows, diagonal pairs counted half (core's AttendBlock::EffectivePairs).
  double Pairs() const;
};

struct PlanOptions {
  int sms = 132;
  bool quick = false;                        // fewer shapes (a smoke run): one head dim, coarser sweeps
  int64_t max_block_bytes = int64_t(8) << 30;
};

std::vector<KernelCase> KernelPlan(const PlanOptions& options);
// Point-to-point and all-gather message sizes in bytes (per rank for the all-gather).
std::vector<int64_t> MessageSizes(bool quick);

// The fit sample of a case from its timed repetitions (median).
KernelSample ToSample(const KernelCase& c, const std::vector<double>& times_us);

}  // namespace ringlab::calibrate
