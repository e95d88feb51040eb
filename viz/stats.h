// Statistics of a time window: per rank compute, communication, overlap and idle time, exposed communication and
// overlap fraction; and the run summary line (problem, method, step time, source). No ImGui.
//
//   WindowStats s = ComputeWindowStats(model, t0_us, t1_us);
//   for (const RankWindowStats& r : s.ranks) printf("%d %.1f\n", r.rank, r.exposed_comm_us);
#pragma once

#include <string>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

struct RankWindowStats {
  int rank = 0;
  double wall_us = 0;     // window length clipped to the rank's span (first start .. last end)
  double compute_us = 0;  // union of compute-kind events
  double comm_us = 0;     // union of communication-kind events
  double both_us = 0;     // compute and communication at once (overlap)
  double idle_us = 0;     // wall − (compute ∪ comm)
  double exposed_comm_us = 0;  // wall − compute
  double overlap_fraction = 0; // both / comm (0 when no comm)
  double flops = 0, bytes = 0; // of events starting in the window
};

struct WindowStats {
  double t0 = 0, t1 = 0;
  std::vector<RankWindowStats> ranks;
  RankWindowStats total;  // sums over ranks (overlap_fraction from the sums)
};

// Events are clipped to [t0, t1]. Host-kind events are left out. Walks every event of the window (O(visible events
// × log)): the reference; the viewer uses StatsIndex (stats_index.h), which gives the same figures in O(log events).
WindowStats ComputeWindowStats(const TraceModel& m, double t0, double t1);

// Shared by both ways of computing: fills r's idle, exposed comm and overlap fraction from its wall, compute, comm
// and both times, appends it to ws->ranks and adds it to ws->total; FinishTotals sets the total's overlap fraction.
void AddRankStats(RankWindowStats r, WindowStats* ws);
void FinishTotals(WindowStats* ws);

struct RunInfo {
  std::string source, problem, method, hardware, files;
  double step_time_us = 0;  // the median iteration's when the trace marks iterations, else the whole span
  int iterations = 1;
  std::string step_source;  // how iterations were found (iterations.h)
  int64_t events = 0;
  int ranks = 0;
};
struct IterationTable;
// `iterations`: DetectIterations(m) when the caller has it (else computed here).
RunInfo Summarize(const TraceModel& m, const IterationTable* iterations = nullptr);

}  // namespace ringlab::viz
