#include "viz/name_stats.h"

#include <algorithm>
#include <cmath>

namespace ringlab::viz {

double NearestRankPercentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t rank = std::clamp<size_t>(size_t(std::ceil(p / 100.0 * double(v.size()))), 1, v.size());
  std::nth_element(v.begin(), v.begin() + ptrdiff_t(rank - 1), v.end());
  return v[rank - 1];
}

std::vector<NameStats> ComputeNameStats(const TraceModel& m, double t0, double t1) {
  std::vector<std::vector<double>> durs(m.names.size());
  std::vector<VizKind> kind(m.names.size(), VizKind::kKernel);
  for (size_t li = 0; li < m.lanes.size(); ++li) {
    const Lane& l = m.lanes[li];
    // Events sorted by start in each lane: the window's are one contiguous range.
    auto b = m.events.begin() + l.begin, e = m.events.begin() + l.end;
    auto lo = std::lower_bound(b, e, t0, [](const Event& x, double t) { return x.ts < t; });
    for (auto it = lo; it != e && it->ts < t1; ++it) {
      std::vector<double>& d = durs[it->name];
      if (d.empty()) kind[it->name] = it->kind;
      d.push_back(it->dur);
    }
  }
  std::vector<NameStats> rows;
  for (uint32_t n = 0; n < durs.size(); ++n) {
    std::vector<double>& d = durs[n];
    if (d.empty()) continue;
    NameStats r;
    r.name = n;
    r.kind = kind[n];
    r.count = int64_t(d.size());
    for (double x : d) r.total_us += x, r.max_us = std::max(r.max_us, x);
    r.mean_us = r.total_us / double(r.count);
    r.p99_us = NearestRankPercentile(d, 99);
    r.p50_us = NearestRankPercentile(d, 50);
    rows.push_back(r);
  }
  std::sort(rows.begin(), rows.end(), [](const NameStats& a, const NameStats& b) {
    return a.total_us != b.total_us ? a.total_us > b.total_us : a.name < b.name;
  });
  return rows;
}

}  // namespace ringlab::viz
