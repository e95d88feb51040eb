// Fitting a hardware profile from measured samples: the pure (CPU) half of `ringlab calibrate`.
//
// `ringlab calibrate` (GPU) times our kernels and NCCL and writes raw samples; scripts/calibrate/calibrate.py turns
// real run traces into the same samples; `FitProfile` turns either into the numbers the simulator reads:
//   attention  per (pass, mask, head dim): a kernel wave model whose full-round cost is a measured table R(n) over n =
//              tiles per CTA (profile.h WaveModel::round_us). Each sample's kernel time is divided by its effective
//              number of rounds (full rounds + the partial round at its occupancy), and the table holds the median per
//              quarter-octave of n; single_resident_throughput is chosen on a grid to minimise the mean |log error|.
//              Causal blocks are list-scheduled CTA by CTA on the same kind of table (profile.h CausalKernelUs): when the
//              full-mask table of the pass and head dim exists, the causal table is it times one factor, the median of
//              measured / predicted over the causal samples (the diagonal tiles' masking cost); else the causal
//              samples are binned like full ones.
//   launch_us  median gap between back-to-back kernels on one stream (host launch and event overhead).
//   forward/backward_start_skew_us  median spread of the ranks' first ops in real runs of that pass.
//   nvlink     a line through the median time per message size of point-to-point transfers with both GPUs otherwise
//              idle: 1/slope = bandwidth, intercept = latency.
//   comm_rate_beside_compute  median of (idle-line transfer time / measured time) of transfers beside attention
//              kernels (NCCL's kernels share the SMs).
//   collective_hop_latency_us  median time per ring step of all-gathers over 3 or more ranks beyond moving the
//              step's chunk at the point-to-point rate (replaces link + step latency for collective steps,
//              profile.h). A 2-rank all-gather is one exchange: it joins the point-to-point samples.
//   nccl_sms   the SMs NCCL's kernels hold: the count (0..sms/4) whose reduced-SM wave model best explains the
//              attention kernels timed beside traffic (the engine slows a kernel by that ratio while comm runs).
//   comm_slowdown  what is left: median (measured / that prediction) − 1 over those kernels; without them, median
//              (attention time beside NCCL traffic / alone) − 1 of the same-shape pairs.
//   comm_start_wait  transfers posted while an attention kernel with at least one CTA per SM ran, with at least
//              twice the transfer's own time left (so a wait and a slow transfer differ): median of (time to the
//              transfer's end − the point-to-point line's time) / the kernel's remaining time, in [0, 1].
//   merge/copy_gbps  median bytes / time of the dK/dV add (merge) and prepare/copy kernels.
// Anything without samples keeps the base profile's value and source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ringlab::sim {

// One attention kernel launch: q×kv tokens, `pairs` (query, key) pairs the mask allows, all `heads` query heads.
struct KernelSample {
  std::string pass, mask;  // forward|backward, full|causal
  int head_dim = 128, batch = 1, heads = 1, kv_heads = 1;
  int64_t q = 0, kv = 0;
  int64_t diagonal_offset = 0;  // causal: row i sees key j iff j <= i + diagonal_offset
  double pairs = 0;
  double us = 0;  // kernel time (median of repeats), no launch gap
};

struct TransferSample {
  std::string kind;  // p2p | all-gather
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
  std::string kind;  // p2p | all-gather
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
  nlohmann::json provenance = nlohmann::json::object();  // card, driver, NCCL, date, commit, command ...
};

// Samples <-> JSON ({"sms":..,"kernels":[{pass,mask,head_dim,batch,heads,kv_heads,q,kv,pairs,us}],"transfers":[..],
// "memory":[..],"launch_gaps_us":[..],"overlap_us":[[alone,beside],..],"geometry":{..},"provenance":{..}}).
nlohmann::json ToJson(const FitInputs& in);
Status FromJson(const nlohmann::json& j, const std::string& origin, FitInputs* out);
// Appends b's samples to a (provenance objects are merged, b's keys win).
void Append(const FitInputs& b, FitInputs* a);

struct FitOptions {
  std::string name;  // profile name
  std::string tag;   // prefix of every fitted number's source, e.g. "ringlab calibrate 2026-11-28, H100 x4"
  // One line through every point-to-point transfer, idle or beside kernels, and comm_rate_beside_compute left at the
  // base's: for samples from real runs, where "idle" transfers are few and still wait inside NCCL groups.
  bool one_line = false;
};

// `base`: a profile JSON (sim/profiles/*.json) to start from. Writes the fitted profile to *profile and what was fitted
// from how many samples (with the kernel table's median |error| on its own samples) to *report.
Status FitProfile(const FitInputs& in, const nlohmann::json& base, const FitOptions& options, nlohmann::json* profile,
                  nlohmann::json* report);

}  // namespace ringlab::sim
