#include "viz/flows.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace ringlab::viz {
namespace {

// The time a flow's two events cover: from the earlier start to the later end.
double Lo(const TraceModel& m, const Flow& f) { return std::min(m.events[f.from].ts, m.events[f.to].ts); }
double Hi(const TraceModel& m, const Flow& f) { return std::max(m.events[f.from].End(), m.events[f.to].End()); }

}  // namespace

FlowSet MessageFlows(const TraceModel& m) {
  FlowSet set;
  std::vector<Flow>& out = set.flows;
  out = m.flows;
  if (out.empty()) {
    set.derived = true;
    // (sender, receiver, step) -> send; a recv's sender is its peer.
    std::map<std::tuple<int, int, int>, uint32_t> sends;
    for (uint32_t i = 0; i < m.events.size(); ++i) {
      const Event& e = m.events[i];
      if (e.kind == VizKind::kSend && e.peer >= 0) sends.emplace(std::make_tuple(m.lanes[e.lane].rank, e.peer, e.step), i);
    }
    for (uint32_t i = 0; i < m.events.size(); ++i) {
      const Event& e = m.events[i];
      if (e.kind != VizKind::kRecv || e.peer < 0) continue;
      auto it = sends.find({e.peer, m.lanes[e.lane].rank, e.step});
      if (it != sends.end()) out.push_back({it->second, i});
    }
  }
  std::stable_sort(out.begin(), out.end(), [&](const Flow& a, const Flow& b) { return Lo(m, a) < Lo(m, b); });
  for (const Flow& f : out) set.max_reach_us = std::max(set.max_reach_us, Hi(m, f) - Lo(m, f));
  return set;
}

void VisibleFlows(const TraceModel& m, const FlowSet& f, double t0, double t1, size_t limit, std::vector<Flow>* out) {
  out->clear();
  // Sorted by Lo: none with Lo after t1 is visible, nor one with Lo before t0 - max_reach.
  const std::vector<Flow>& flows = f.flows;
  auto begin = std::lower_bound(flows.begin(), flows.end(), t0 - f.max_reach_us,
                                [&](const Flow& x, double t) { return Lo(m, x) < t; });
  auto end = std::upper_bound(begin, flows.end(), t1, [&](double t, const Flow& x) { return t < Lo(m, x); });
  for (auto it = begin; it != end && out->size() < limit; ++it)
    if (Hi(m, *it) >= t0) out->push_back(*it);
}

}  // namespace ringlab::viz
