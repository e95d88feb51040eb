// Sweep: many simulations over lists of world sizes, sequence lengths, methods and passes, run by parallel workers,
// written as CSV or JSON rows. A sweep splits into shards (job j belongs to shard j mod n) so a job array can run it.
//
//   SweepSpec spec;  spec.worlds = {8, 64};  spec.seqs = {131072};  spec.methods = {Method::kAllGather};
//   std::vector<SweepRow> rows;
//   Status st = RunSweep(spec, hw, /*progress=*/nullptr, &rows);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/schedule.h"
#include "sim/profile.h"
#include "sim/simulate.h"

namespace ringlab::sim {

enum class SweepPass { kForward, kBackward, kBoth };

struct SweepSpec {
  ScheduleConfig base;  // problem, sharding, variants; world/seq/method/pass come from the lists
  std::vector<int> worlds;
  std::vector<int64_t> seqs;
  std::vector<Method> methods;
  std::vector<SweepPass> passes = {SweepPass::kForward};
  // Documents fill the sequence (drawn for it, or cu_seqlens ending at it), so such a mask is made per seq: when set,
  // each job's mask comes from mask_for_seq(seq) (an error fails the job) instead of base's.
  std::function<Status(int64_t seq, MaskShape* mask)> mask_for_seq;
  SimOptions options;  // tracing is ignored; strict makes an extrapolated job fail (its error says why)
  int workers = 1;
  int shard_index = 0, shard_count = 1;
};

struct SweepRow {
  int world = 0;
  int64_t seq = 0;
  std::string method, pass;
  std::string error;  // non-empty: this job failed (e.g. a sequence the sharding cannot split)
  // The whole configuration: every ScheduleConfig field (core's config JSON, the last pass's), profile and topology.
  nlohmann::json config;
  std::string profile, topology;
  // The card's memory, whether peak_memory_gib exceeds it, and the share of compute time extrapolated (with its
  // dimensions, "head_dim+block_size"; cost_model.h).
  double memory_capacity_gib = 0;
  bool over_capacity = false;
  double extrapolated_share = 0;
  std::string extrapolated_dims;
  double transfer_extrapolated_share = 0;  // of the transferred bytes (transfer_tally.h), over the passes
  double step_ms = 0, compute_ms = 0, exposed_ms = 0, overlap_fraction = 0, tflops_per_gpu = 0, mfu = 0;
  double load_imbalance = 0, peak_memory_gib = 0;
  int64_t ops = 0;
  double wall_s = 0;
};

// progress(done, total) is called from worker threads under a lock.
Status RunSweep(const SweepSpec& spec, const HardwareProfile& hw,
                const std::function<void(int, int)>& progress, std::vector<SweepRow>* rows);

std::string SweepCsv(const std::vector<SweepRow>& rows);
nlohmann::json SweepJson(const std::vector<SweepRow>& rows);

}  // namespace ringlab::sim
