// Statistics of any time window in O(ranks × lanes × log events), from per-rank busy intervals built once. No ImGui.
//
// ComputeWindowStats (stats.h) walks every visible event and sorts their intervals: 135 ms for the whole of a 1M-op
// run, 1.1 s for 10M. The viewer asks for the statistics of the visible range on every pan and zoom, so that cost
// ran on a worker thread beside every frame and took one of the two cores llvmpipe draws with. StatsIndex merges
// each rank's compute and communication events into disjoint intervals (and their intersection) once, with running
// lengths, so a window's union lengths are two binary searches and a subtraction; flops and bytes come from running
// sums per lane. The results equal ComputeWindowStats up to floating-point rounding (tests check both).
//
//   StatsIndex index(model);                 // once, after loading (~0.1 s per million events)
//   WindowStats s = index.Compute(t0, t1);   // microseconds, any window
#pragma once

#include <vector>

#include "core/intervals.h"
#include "viz/model.h"
#include "viz/stats.h"

namespace ringlab::viz {

// Disjoint, sorted intervals with the total length before each: the busy time inside [t0, t1] by binary search.
struct IntervalCoverage {
  std::vector<double> start, end;
  std::vector<double> before;  // before[k] = total length of intervals [0, k); one more entry than intervals
  // Builds from intervals sorted by start (they may overlap or touch: they are merged).
  void BuildFromSorted(const std::vector<Interval>& sorted);
  // Length of the union inside [t0, t1].
  double Within(double t0, double t1) const;
  size_t size() const { return start.size(); }
};

class StatsIndex {
 public:
  // Keeps a reference to `m`, which must outlive the index and not change.
  explicit StatsIndex(const TraceModel& m);
  // Same fields and meaning as ComputeWindowStats(m, t0, t1).
  WindowStats Compute(double t0, double t1) const;

 private:
  struct RankIndex {
    int rank = 0;
    double span0 = 0, span1 = 0;  // first start, last end over the rank's lanes
    bool any = false;
    IntervalCoverage compute, comm, both;
    std::vector<int> lanes;
  };
  // Running sums of flops and bytes of non-host events, every kStride events of a lane.
  struct LaneSums {
    static constexpr uint32_t kStride = 16;
    std::vector<double> flops, bytes;  // [k]: sums over the lane's first k * kStride events
  };
  // Sums over the lane's events with index (lane-relative) in [0, n).
  void PrefixSums(int lane, uint32_t n, double* flops, double* bytes) const;

  const TraceModel& m_;
  std::vector<RankIndex> ranks_;
  std::vector<LaneSums> lane_sums_;
};

}  // namespace ringlab::viz
