#include "viz/stats_index.h"

#include <algorithm>

#include "core/intervals.h"

namespace ringlab::viz {

void IntervalCoverage::BuildFromSorted(const std::vector<Interval>& sorted) {
  std::vector<Interval> merged;
  merged.reserve(sorted.size());
  for (const Interval& iv : sorted) AppendMerged(&merged, iv.begin, iv.end);
  start.resize(merged.size());
  end.resize(merged.size());
  before.assign(merged.size() + 1, 0.0);
  for (size_t k = 0; k < merged.size(); ++k) {
    start[k] = merged[k].begin, end[k] = merged[k].end;
    before[k + 1] = before[k] + (end[k] - start[k]);
  }
}

double IntervalCoverage::Within(double t0, double t1) const {
  if (start.empty() || !(t1 > t0)) return 0;
  // [a, b): the intervals reaching into the window (ends after t0, starts before t1).
  const size_t a = size_t(std::upper_bound(end.begin(), end.end(), t0) - end.begin());
  const size_t b = size_t(std::lower_bound(start.begin(), start.end(), t1) - start.begin());
  if (a >= b) return 0;
  double s = before[b] - before[a];
  s -= std::max(0.0, t0 - start[a]);    // the first one may start before the window
  s -= std::max(0.0, end[b - 1] - t1);  // the last one may end after it
  return std::max(0.0, s);
}

StatsIndex::StatsIndex(const TraceModel& m) : m_(m) {
  lane_sums_.resize(m.lanes.size());
  for (size_t li = 0; li < m.lanes.size(); ++li) {
    const Lane& l = m.lanes[li];
    LaneSums& s = lane_sums_[li];
    const uint32_t n = l.end - l.begin;
    s.flops.assign(n / LaneSums::kStride + 1, 0.0);
    s.bytes.assign(n / LaneSums::kStride + 1, 0.0);
    double f = 0, b = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (i % LaneSums::kStride == 0) s.flops[i / LaneSums::kStride] = f, s.bytes[i / LaneSums::kStride] = b;
      const Event& e = m.events[l.begin + i];
      if (e.kind != VizKind::kHost) f += e.flops, b += double(e.bytes);
    }
    if (n % LaneSums::kStride == 0) s.flops[n / LaneSums::kStride] = f, s.bytes[n / LaneSums::kStride] = b;
  }
  std::vector<Interval> lane_comp, lane_comm;
  for (int rank : m.ranks) {
    RankIndex r;
    r.rank = rank;
    r.lanes = m.LanesOfRank(rank);
    r.span0 = 1e300, r.span1 = -1e300;
    std::vector<Interval> comp, comm;
    for (int li : r.lanes) {
      const Lane& l = m.lanes[size_t(li)];
      if (l.end == l.begin) continue;
      r.any = true;
      r.span0 = std::min(r.span0, m.events[l.begin].ts);
      r.span1 = std::max(r.span1, m.max_end[l.end - 1]);
      // A lane is sorted by start, so its own union is one pass; lanes of the rank are then merged pairwise.
      lane_comp.clear(), lane_comm.clear();
      for (uint32_t i = l.begin; i < l.end; ++i) {
        const Event& e = m.events[i];
        if (e.kind == VizKind::kHost) continue;
        AppendMerged(IsCommKind(e.kind) ? &lane_comm : &lane_comp, e.ts, e.End());
      }
      comp = UnionOfSorted(comp, lane_comp);
      comm = UnionOfSorted(comm, lane_comm);
    }
    r.compute.BuildFromSorted(comp);
    r.comm.BuildFromSorted(comm);
    r.both.BuildFromSorted(Intersection(comp, comm));  // comp and comm are already disjoint: as r.compute, r.comm
    ranks_.push_back(std::move(r));
  }
}

void StatsIndex::PrefixSums(int lane, uint32_t n, double* flops, double* bytes) const {
  const LaneSums& s = lane_sums_[size_t(lane)];
  const uint32_t k = n / LaneSums::kStride;
  *flops = s.flops[k], *bytes = s.bytes[k];
  const uint32_t base = m_.lanes[size_t(lane)].begin;
  for (uint32_t i = k * LaneSums::kStride; i < n; ++i) {
    const Event& e = m_.events[base + i];
    if (e.kind != VizKind::kHost) *flops += e.flops, *bytes += double(e.bytes);
  }
}

WindowStats StatsIndex::Compute(double t0, double t1) const {
  WindowStats ws;
  ws.t0 = t0, ws.t1 = t1;
  for (const RankIndex& ri : ranks_) {
    RankWindowStats r;
    r.rank = ri.rank;
    r.compute_us = ri.compute.Within(t0, t1);
    r.comm_us = ri.comm.Within(t0, t1);
    r.both_us = ri.both.Within(t0, t1);
    r.wall_us = ri.any ? std::max(0.0, std::min(t1, ri.span1) - std::max(t0, ri.span0)) : 0.0;
    // Flops and bytes of the events starting in [t0, t1].
    for (int li : ri.lanes) {
      const Lane& l = m_.lanes[size_t(li)];
      auto first = m_.events.begin() + l.begin, last = m_.events.begin() + l.end;
      const auto lo = std::lower_bound(first, last, t0, [](const Event& e, double t) { return e.ts < t; });
      const auto hi = std::upper_bound(lo, last, t1, [](double t, const Event& e) { return t < e.ts; });
      if (hi == lo) continue;
      double f0, b0, f1, b1;
      PrefixSums(li, uint32_t(lo - first), &f0, &b0);
      PrefixSums(li, uint32_t(hi - first), &f1, &b1);
      r.flops += f1 - f0, r.bytes += b1 - b0;
    }
    AddRankStats(r, &ws);
  }
  FinishTotals(&ws);
  return ws;
}

}  // namespace ringlab::viz
