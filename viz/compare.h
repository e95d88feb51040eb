// Comparison of two traces of one problem (for example a PyTorch capture and a simulated ringlab trace): ops matched
// by (rank, op id) when both are ringlab traces of one schedule, else by kind and order (the k-th attention of rank r
// in A with the k-th of rank r in B; send, recv and each collective likewise; host work is left out). A trace with
// several iterations takes part with one of them (the first, or the one asked for), and B is drawn shifted so the
// two iterations' device work starts together. Per-op duration difference, an error table per op kind, and
// warnings when the two schedules differ (different methods, or collectives one trace has and the other lacks).
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
  double step_a_us = 0, step_b_us = 0;  // of the compared iterations' device work (a whole trace: its span)
  double start_shift_us = 0;  // B's t_min − A's t_min: B is drawn shifted by −this so the runs start together
  bool by_op_id = false;
  // Lane of B that lines up with each lane of A (-1 when none), and the lane of A each lane of B is drawn under (-1:
  // its rank is not in A; drawn after A's lanes). Several lanes of B may go under one lane of A.
  std::vector<int> lane_b_of_a;
  std::vector<int> lane_a_of_b;
  // The iteration of each trace that was compared (-1: the whole trace), and how many each has.
  int iteration_a = -1, iteration_b = -1;
  int iterations_a = 1, iterations_b = 1;
  std::vector<std::string> warnings;  // schedules differ, ...
};

struct CompareOptions {
  int iteration_a = -1, iteration_b = -1;  // iteration ids to compare; -1: the first of each
};

Comparison CompareTraces(const TraceModel& a, const TraceModel& b, const CompareOptions& opt = {});

// The kind an op is matched as: a foreign kernel whose name says attention (flash, fmha, attn, sdpa) counts as
// attend; everything else keeps its kind.
VizKind MatchKind(const TraceModel& m, const Event& e);

}  // namespace ringlab::viz
