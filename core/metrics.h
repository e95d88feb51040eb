// Run summary metrics computed from a trace: the numbers the simulator, the GPU executor and the viewer all report.
//
// Per rank, over the rank's wall time (first op start to last op end of the whole run):
//   compute = union of compute-stream busy time, comm = union of comm-stream busy time,
//   both = time both streams are busy, idle = wall − (compute ∪ comm),
//   exposed communication = wall − compute, overlap = compute + comm − wall... reported as `both` (the
//   same quantity when nothing else idles) and overlap fraction = both / comm.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/schedule.h"
#include "core/trace.h"

namespace ringlab {

struct RankMetrics {
  double start_us = 0, end_us = 0;
  double compute_us = 0, comm_us = 0, both_us = 0, idle_us = 0;
  double flops = 0;
};

struct RunSummary {
  double step_time_us = 0;  // run start to last op end over all ranks
  std::vector<RankMetrics> ranks;
  double max_compute_us = 0, mean_compute_us = 0;
  double exposed_comm_us = 0;    // step time − the slowest rank's compute time
  double overlap_fraction = 0;   // time comm hides under compute / comm time, over all ranks
  double load_imbalance = 0;     // max rank compute / mean rank compute
  double total_flops = 0;
  double tflops_per_gpu = 0;     // total FLOPs / step time / world
  double mfu = 0;                // tflops_per_gpu / peak (0 when no peak given)
  int64_t peak_memory_bytes = 0; // largest per-rank buffer table (0 when no schedule given)
};

// Interval arithmetic over the trace's events. peak_tflops is the per-GPU peak for MFU (0: leave MFU at 0).
RunSummary Summarize(const Trace& trace, double peak_tflops = 0);
// The one home of the run-level formulas: from s->step_time_us and each rank's compute, comm, both and FLOPs, fills
// each rank's idle time and the run's slowest and mean compute, exposed communication, overlap fraction, load
// imbalance, TFLOP/s per GPU and MFU (peak_tflops 0: MFU 0). Summarize (from a trace) and the simulator (from its
// per-rank busy totals) both end with it.
void SummarizeRanks(double peak_tflops, RunSummary* s);
// Sum of the rank's buffer table: everything a pass keeps live on one GPU.
int64_t RankMemoryBytes(const RankSchedule& rank);
int64_t PeakMemoryBytes(const Schedule& schedule);

nlohmann::json ToJson(const RunSummary& s);
// A side-by-side table of several summaries, one column each ("allgather", "alltoall", "measured", ...).
std::string FormatSummaries(const std::vector<std::pair<std::string, RunSummary>>& columns);

}  // namespace ringlab
