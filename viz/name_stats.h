// Per-name statistics of a time window: for every event name, how many of its events start in the window and their
// total, mean, median (p50) and 99th-percentile duration. No ImGui.
//
// Percentiles are nearest-rank: p-th of n sorted durations is the ceil(p/100 * n)-th (1-based), so p50 and p99 are
// durations that occurred. Events count by their start (an event starting before t0 belongs to an earlier window)
// and keep their whole duration. Work is O(events in the window) plus a selection per name; the viewer runs it on a
// worker thread when the window changes.
//
//   std::vector<NameStats> rows = ComputeNameStats(model, t0, t1);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

struct NameStats {
  uint32_t name = 0;  // index into TraceModel::names
  VizKind kind = VizKind::kKernel;  // of its first event in the window
  int64_t count = 0;
  double total_us = 0, mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0;
};

// Nearest-rank percentile of `values` (reordered in place); 0 for none.
double NearestRankPercentile(std::vector<double>& values, double p);

// Rows sorted by total duration, largest first. Host-kind events are included (they are named work too).
std::vector<NameStats> ComputeNameStats(const TraceModel& m, double t0, double t1);

}  // namespace ringlab::viz
