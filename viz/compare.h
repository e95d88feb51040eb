// Comparison of two traces of one schedule (for example measured and simulated): ops matched by (rank, op id), or
// by (lane, position in lane) when op ids are missing; per-op duration difference, and an error table per op kind.
// No ImGui.
//
//   Comparison c = CompareTraces(measured, simulated);
//   for (const KindError& k : c.kinds) printf("%s %.1f%%\n", k.name.c_str(), 100 * k.mean_abs_rel_error);
#pragma once

#include <string>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

struct KindError {
  std::string name;  // op kind, or "total"
  int64_t matched = 0;
  double a_us = 0, b_us = 0;        // summed durations
  double mean_abs_rel_error = 0;    // mean over ops of |b − a| / a
  double max_abs_rel_error = 0;
  double total_rel_error = 0;       // (Σb − Σa) / Σa
};

struct Comparison {
  // For each event of A: the matching event of B, or -1; and (dur_b − dur_a) / dur_a (0 when unmatched).
  std::vector<int64_t> b_of_a;
  std::vector<float> rel_diff;
  // For each event of B: the matching event of A, or -1.
  std::vector<int64_t> a_of_b;
  std::vector<KindError> kinds;  // kinds present, then "total"
  int64_t unmatched_a = 0, unmatched_b = 0;
  double step_a_us = 0, step_b_us = 0;
  double start_shift_us = 0;  // B's t_min − A's t_min: B is drawn shifted by −this so the runs start together
  bool by_op_id = false;
  // Lane of B that lines up with each lane of A (-1 when none).
  std::vector<int> lane_b_of_a;
};

Comparison CompareTraces(const TraceModel& a, const TraceModel& b);

}  // namespace ringlab::viz
