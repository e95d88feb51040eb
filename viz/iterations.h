// Iterations of a trace and their step times. No ImGui.
//
// A PyTorch profiler capture marks each step with a host annotation "ProfilerStep#N" (one per rank); ringlab traces
// may carry an iteration id per op (args.iteration). Per rank, iteration N runs from its annotation's start (or its
// first op) to its end; its device span is from the first to the last end of the non-host work that starts before the
// next iteration does. A trace with neither is one iteration (id 0) spanning each rank's events.
//
//   IterationTable it = DetectIterations(model);
//   for (const IterationSummary& s : it.iterations) printf("%d %.1f us\n", s.id, s.step_us);
#pragma once

#include <string>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

struct RankIteration {
  int rank = 0;
  int id = 0;
  double t0 = 0, t1 = 0;            // the annotation, or the iteration's ops
  double step_us = 0;               // t1 - t0
  double device_t0 = 0, device_t1 = 0;  // non-host work of the iteration (0, 0 when none)
  double device_us = 0;
};

struct IterationSummary {
  int id = 0;
  double t0 = 0, t1 = 0;  // over ranks
  double step_us = 0;     // the slowest rank's step time
  double device_us = 0;   // the slowest rank's device span
  int ranks = 0;
};

struct IterationTable {
  enum class Source { kProfilerStep, kIterationIds, kWholeTrace };
  Source source = Source::kWholeTrace;
  std::vector<RankIteration> per_rank;       // sorted by (id, rank)
  std::vector<IterationSummary> iterations;  // sorted by id
  // Median of the iterations' step times (the whole span for a single iteration).
  double median_step_us = 0;
  std::string SourceName() const;
};

IterationTable DetectIterations(const TraceModel& m);

}  // namespace ringlab::viz
