// The sample format of the calibration wing: what the microbenchmarks (calibrate/microbench, `ringlab calibrate`)
// and the trace scripts (calibrate/scripts/trace_samples.py) write, and what the fitter (calibrate/fit) reads.
// Plain data and its JSON form; it depends on core only, so the CUDA microbenchmarks emit samples without
// including the simulator.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ringlab::calibrate {

// One attention kernel launch: q×kv tokens, `pairs` (query, key) pairs the mask allows, all `heads` query heads.
struct KernelSample {
  std::string pass, mask;  // forward|backward, full|causal
  int head_dim = 128, batch = 1, heads = 1, kv_heads = 1;
  int64_t q = 0, kv = 0;
  int64_t diagonal_offset = 0;  // causal: row i sees key j iff j <= i + diagonal_offset
  double pairs = 0;
  double us = 0;  // kernel time (median of repeats), no launch gap
  // Forward only: how the kernel wrote its output. "merge" (log-sum-exp merge into running float32 accumulators,
  // every ring step after the first) or "overwrite" (the first step, and a single-GPU attention). Backward: "".
  // Samples written before the mode was recorded are forward merges (the microbenchmark timed only that).
  std::string mode;
};

struct TransferSample {
  std::string kind;  // p2p | all-gather | alltoall (bytes: what each member sends to the others in all)
  int world = 2;     // ranks taking part (all-gather)
  int64_t bytes = 0; // p2p: message bytes; all-gather: the gathered buffer's bytes (what the schedule's op carries)
  double us = 0;
  bool beside_compute = false;  // an attention kernel ran on the same GPUs meanwhile
  std::string beside_pass = "forward";  // which one (forward | backward), with beside_compute
};

// A transfer posted while an attention kernel was running on one of its ends.
struct StartWaitSample {
  int64_t bytes = 0;
  double kernel_left_us = 0;  // the running kernel's remaining time at the post
  double us = 0;              // post to the transfer's end
  int64_t kernel_ctas = 0;    // the running kernel's CTAs (0: unknown); only a CTA per SM or more holds NCCL back
};

// SMs NCCL's kernel occupied while a transfer ran (`ringlab calibrate`'s occupancy probe on one of its GPUs).
struct NcclHeldSample {
  std::string kind;  // p2p | all-gather | alltoall (bytes: what each member sends to the others in all)
  int world = 2;
  int64_t bytes = 0;  // as TransferSample::bytes
  int sms = 0;
};

struct MemorySample {
  std::string kind;  // merge | copy
  int64_t bytes = 0; // bytes read + written
  double us = 0;
};

// Launch geometry of a kernel (kernels/cuda): grid over (heads, q tiles) or (kv heads, kv tiles), CTAs per SM
// (0: unknown, fitted from the samples among 1..4 — the CTA sweep of `ringlab calibrate` makes that possible).
struct KernelGeometry {
  bool grid_kv = false;
  int tile_q = 128, tile_kv = 64, ctas_per_sm = 1;
  bool split_group = false;   // grid kv: a GQA group split over CTAs to fill the SMs (kernels/cuda/attention_tiles.h)
  bool expand_group = false;  // grid kv: a CTA per query head, dK/dV summed after (FlashAttention-2; not with split)
};

struct FitInputs {
  std::vector<KernelSample> kernels;
  std::vector<TransferSample> transfers;
  std::vector<MemorySample> memory;
  std::vector<StartWaitSample> start_waits;
  std::vector<NcclHeldSample> nccl_held;
  std::vector<double> launch_gaps_us;
  // (pass, µs between the first and the last rank's first op) of real runs
  std::vector<std::pair<std::string, double>> start_skews_us;
  std::vector<std::pair<double, double>> overlap_us;  // (attention alone, same attention beside NCCL traffic)
  // Attention kernels timed while NCCL traffic ran for `overlap` (0..1) of their time on the same GPU.
  struct BesideKernel {
    KernelSample kernel;
    double overlap = 1;
  };
  std::vector<BesideKernel> beside_kernels;
  int sms = 132;
  KernelGeometry forward{false, 128, 64, 2};
  KernelGeometry backward{true, 64, 128, 1};
  // Head dims whose kernels tile otherwise than `forward` / `backward` (our ws kernels and FlashAttention-2 at D=256
  // take smaller tiles): head dim -> {forward, backward}. GeometryOf picks.
  std::map<int, std::pair<KernelGeometry, KernelGeometry>> geometry_by_head_dim;
  nlohmann::json provenance = nlohmann::json::object();  // card, driver, NCCL, date, commit, command ...
};

// The launch geometry of `pass`'s kernel at `head_dim`: geometry_by_head_dim's if it has the head dim, else
// forward / backward.
const KernelGeometry& GeometryOf(const FitInputs& in, const std::string& pass, int head_dim);

// Samples <-> JSON ({"sms":..,"kernels":[{pass,mask,head_dim,batch,heads,kv_heads,q,kv,pairs,us}],"transfers":[..],
// "memory":[..],"launch_gaps_us":[..],"overlap_us":[[alone,beside],..],"geometry":{..},"geometry_by_head_dim":{"256":{"forward":{..},"backward":{..}}},
// "provenance":{..}}).
nlohmann::json ToJson(const FitInputs& in);
Status FromJson(const nlohmann::json& j, const std::string& origin, FitInputs* out);
// Appends b's samples to a (provenance objects are merged, b's keys win).
void Append(const FitInputs& b, FitInputs* a);

// The median of repeated timings (NaN when there are none): a sample is the median of its repetitions.
double MedianOf(std::vector<double> v);

}  // namespace ringlab::calibrate
