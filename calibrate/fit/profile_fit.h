// Fitting a hardware profile from measured samples: the pure (CPU) half of `ringlab calibrate`.
//
// `ringlab calibrate` (GPU, calibrate/microbench) times our kernels and NCCL and writes raw samples
// (calibrate/samples.h); calibrate/scripts/calibrate.py turns real run traces into the same samples; `FitProfile`
// turns either into the numbers the simulator reads:
//   attention  per (pass, mask, head dim): a kernel wave model whose full-round cost is a measured table R(n) over n =
//              tiles per CTA (sim/wave_model.h round_us). Each sample's kernel time is divided by its effective
//              number of rounds (full rounds + the partial round at its occupancy), and the table holds the median per
//              quarter-octave of n; single_resident_throughput is chosen on a grid to minimise the mean |log error|.
//              Causal blocks are list-scheduled CTA by CTA on the same kind of table (sim/wave_model.h CausalKernelUs):
//              when the full-mask table of the pass and head dim exists, the causal table is it times one factor,
//              the median of measured / predicted over the causal samples (the diagonal tiles' masking cost); else
//              the causal samples are binned like full ones.
//   launch_us  median gap between back-to-back kernels on one stream (host launch and event overhead).
//   forward/backward_start_skew_us  median spread of the ranks' first ops in real runs of that pass.
//   nvlink     a line through the median time per message size of point-to-point transfers with both GPUs otherwise
//              idle: 1/slope = bandwidth, intercept = latency.
//   comm_rate_beside_compute  median of (idle-line transfer time / measured time) of transfers beside attention
//              kernels (NCCL's kernels share the SMs).
//   collective_hop_latency_us  median time per ring step of all-gathers over 3 or more ranks beyond moving the
//              step's chunk at the point-to-point rate (replaces link + step latency for collective steps,
//              sim/profile.h). A 2-rank all-gather is one exchange: it joins the point-to-point samples.
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

#include <string>

#include <nlohmann/json.hpp>

#include "calibrate/samples.h"
#include "core/status.h"

namespace ringlab::calibrate {

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

}  // namespace ringlab::calibrate
