#include "viz/compare.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace ringlab::viz {

Comparison CompareTraces(const TraceModel& a, const TraceModel& b) {
  Comparison c;
  c.b_of_a.assign(a.events.size(), -1);
  c.rel_diff.assign(a.events.size(), 0.f);
  c.a_of_b.assign(b.events.size(), -1);
  c.step_a_us = a.t_max - a.t_min;
  c.step_b_us = b.t_max - b.t_min;
  c.start_shift_us = b.t_min - a.t_min;
  // Lanes line up by (rank, stream) for ringlab traces, else by (rank, position among the rank's lanes).
  std::map<std::pair<int, int64_t>, int> b_lane;
  std::map<int, int> seen_b, seen_a;
  for (int i = 0; i < int(b.lanes.size()); ++i) {
    const Lane& l = b.lanes[size_t(i)];
    b_lane[{l.rank, l.stream >= 0 ? l.stream : 1000 + seen_b[l.rank]++}] = i;
  }
  c.lane_b_of_a.assign(a.lanes.size(), -1);
  for (int i = 0; i < int(a.lanes.size()); ++i) {
    const Lane& l = a.lanes[size_t(i)];
    auto it = b_lane.find({l.rank, l.stream >= 0 ? l.stream : 1000 + seen_a[l.rank]++});
    if (it != b_lane.end()) c.lane_b_of_a[size_t(i)] = it->second;
  }
  c.by_op_id = !a.op_index.empty() && !b.op_index.empty();
  if (c.by_op_id) {
    for (uint32_t i = 0; i < a.events.size(); ++i) {
      const Event& e = a.events[i];
      int64_t j = b.FindOp(a.lanes[e.lane].rank, e.op);
      if (j >= 0 && b.events[size_t(j)].kind == e.kind) c.b_of_a[i] = j;
    }
  } else {
    for (size_t la = 0; la < a.lanes.size(); ++la) {
      int lb = c.lane_b_of_a[la];
      if (lb < 0) continue;
      const Lane& x = a.lanes[la];
      const Lane& y = b.lanes[size_t(lb)];
      for (uint32_t k = 0; k < x.end - x.begin && k < y.end - y.begin; ++k) c.b_of_a[x.begin + k] = y.begin + k;
    }
  }
  std::vector<KindError> per(kVizKindCount);
  std::vector<double> sum_abs(kVizKindCount, 0);
  KindError total{"total"};
  double total_abs = 0;
  for (uint32_t i = 0; i < a.events.size(); ++i) {
    int64_t j = c.b_of_a[i];
    if (j < 0) {
      ++c.unmatched_a;
      continue;
    }
    c.a_of_b[size_t(j)] = i;
    const Event& x = a.events[i];
    const Event& y = b.events[size_t(j)];
    double rel = x.dur > 0 ? (y.dur - x.dur) / x.dur : (y.dur > 0 ? 1.0 : 0.0);
    c.rel_diff[i] = float(rel);
    KindError& k = per[size_t(x.kind)];
    for (KindError* t : {&k, &total}) {
      ++t->matched;
      t->a_us += x.dur;
      t->b_us += y.dur;
      t->max_abs_rel_error = std::max(t->max_abs_rel_error, std::abs(rel));
    }
    sum_abs[size_t(x.kind)] += std::abs(rel);
    total_abs += std::abs(rel);
  }
  for (int64_t j : c.a_of_b)
    if (j < 0) ++c.unmatched_b;
  auto finish = [](KindError* k, double abs_sum) {
    if (k->matched) k->mean_abs_rel_error = abs_sum / double(k->matched);
    if (k->a_us > 0) k->total_rel_error = (k->b_us - k->a_us) / k->a_us;
  };
  for (int k = 0; k < kVizKindCount; ++k) {
    if (!per[size_t(k)].matched) continue;
    per[size_t(k)].name = std::string(VizKindName(VizKind(k)));
    finish(&per[size_t(k)], sum_abs[size_t(k)]);
    c.kinds.push_back(per[size_t(k)]);
  }
  finish(&total, total_abs);
  c.kinds.push_back(total);
  return c;
}

}  // namespace ringlab::viz
