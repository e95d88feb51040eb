#include "viz/compare.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "viz/iterations.h"

namespace ringlab::viz {
namespace {

bool NameSaysAttention(std::string_view n) {
  std::string low(n);
  for (char& c : low) c = char(std::tolower((unsigned char)c));
  for (const char* w : {"flash", "fmha", "attn", "attention", "sdpa"})
    if (low.find(w) != std::string::npos) return true;
  return false;
}

// Per rank, the time window of the iteration taking part: [t0, t1) by start time; the whole trace when `id` < 0.
struct IterWindow {
  int id = -1;
  int count = 1;
  std::map<int, std::pair<double, double>> by_rank;
  double device_t0 = 0;  // earliest device work of the iteration over ranks
};

IterWindow PickIteration(const TraceModel& m, int want) {
  IterWindow w;
  const IterationTable it = DetectIterations(m);
  w.count = int(it.iterations.size());
  w.device_t0 = m.t_min;
  if (it.iterations.size() < 2 && want < 0) return w;
  int id = want >= 0 ? want : it.iterations.empty() ? -1 : it.iterations.front().id;
  w.id = id;
  double dev = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < it.per_rank.size(); ++i) {
    const RankIteration& r = it.per_rank[i];
    if (r.id != id) continue;
    // Ends where the rank's next iteration starts (work launched in this one may run past its annotation).
    double next = std::numeric_limits<double>::infinity();
    for (const RankIteration& o : it.per_rank)
      if (o.rank == r.rank && o.t0 > r.t0) next = std::min(next, o.t0);
    w.by_rank[r.rank] = {r.t0, next};
    if (r.device_t1 > r.device_t0) dev = std::min(dev, r.device_t0);
  }
  if (dev < std::numeric_limits<double>::infinity()) w.device_t0 = dev;
  return w;
}

bool InWindow(const IterWindow& w, int rank, double ts) {
  if (w.id < 0) return true;
  auto it = w.by_rank.find(rank);
  return it != w.by_rank.end() && ts >= it->second.first && ts < it->second.second;
}

// (rank, match kind) -> events of the compared iteration in start order (host work left out).
using Sequences = std::map<std::pair<int, int>, std::vector<uint32_t>>;
Sequences KindSequences(const TraceModel& m, const IterWindow& w) {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < m.events.size(); ++i) {
    const Event& e = m.events[i];
    if (e.kind != VizKind::kHost && InWindow(w, m.lanes[e.lane].rank, e.ts)) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return m.events[x].ts < m.events[y].ts; });
  Sequences s;
  for (uint32_t i : order) s[{m.lanes[m.events[i].lane].rank, int(MatchKind(m, m.events[i]))}].push_back(i);
  return s;
}

// Warnings when the two traces run different schedules: ringlab methods differ, or a collective kind occurs in one
// trace's compared iteration and not in the other's.
void ScheduleWarnings(const TraceModel& a, const TraceModel& b, const Sequences& sa, const Sequences& sb,
                      Comparison* c) {
  const ScheduleConfig* ca = a.Config();
  const ScheduleConfig* cb = b.Config();
  if (ca && cb && ca->method != cb->method)
    c->warnings.push_back("schedules differ: A is " + std::string(MethodName(ca->method)) + ", B is " +
                          std::string(MethodName(cb->method)) + "; ops are matched by kind and order only");
  // Communication by family: a send and its recv are one message (PyTorch's batched p2p is one SendRecv kernel).
  auto family = [](VizKind k) -> std::string {
    return k == VizKind::kSend || k == VizKind::kRecv ? "send/recv" : std::string(VizKindName(k));
  };
  std::map<std::string, int64_t> na, nb;
  for (auto& [k, v] : sa) if (IsCommKind(VizKind(k.second))) na[family(VizKind(k.second))] += int64_t(v.size());
  for (auto& [k, v] : sb) if (IsCommKind(VizKind(k.second))) nb[family(VizKind(k.second))] += int64_t(v.size());
  auto only = [](const std::map<std::string, int64_t>& x, const std::map<std::string, int64_t>& y) {
    std::string out;
    for (const auto& [k, n] : x)
      if (!y.count(k)) out += (out.empty() ? "" : ", ") + k + " x" + std::to_string(n);
    return out.empty() ? std::string("none") : out;
  };
  const std::string only_a = only(na, nb), only_b = only(nb, na);
  if (only_a != "none" || only_b != "none")
    c->warnings.push_back("schedules differ: communication only in A: " + only_a + "; only in B: " + only_b +
                          " (left unmatched)");
}

// Lanes: B's lane goes under the A lane of its rank holding most of its matched ops, else the A lane with the same
// (rank, stream) or the same position among its rank's lanes, else the rank's last A lane.
void PairLanes(const TraceModel& a, const TraceModel& b, Comparison* c) {
  std::map<std::pair<int, int64_t>, int> a_lane;
  std::map<int, int> seen_a, seen_b, last_a;
  for (int i = 0; i < int(a.lanes.size()); ++i) {
    const Lane& l = a.lanes[size_t(i)];
    a_lane[{l.rank, l.stream >= 0 ? l.stream : 1000 + seen_a[l.rank]++}] = i;
    last_a[l.rank] = i;
  }
  std::vector<std::map<int, int64_t>> votes(b.lanes.size());
  for (size_t i = 0; i < c->b_of_a.size(); ++i)
    if (c->b_of_a[i] >= 0) ++votes[b.events[size_t(c->b_of_a[i])].lane][int(a.events[i].lane)];
  c->lane_a_of_b.assign(b.lanes.size(), -1);
  c->lane_b_of_a.assign(a.lanes.size(), -1);
  for (int i = 0; i < int(b.lanes.size()); ++i) {
    const Lane& l = b.lanes[size_t(i)];
    int best = -1;
    int64_t most = 0;
    for (auto [la, n] : votes[size_t(i)])
      if (n > most) best = la, most = n;
    if (best < 0) {
      auto it = a_lane.find({l.rank, l.stream >= 0 ? l.stream : 1000 + seen_b[l.rank]++});
      if (it != a_lane.end()) best = it->second;
      else if (last_a.count(l.rank)) best = last_a[l.rank];
    }
    c->lane_a_of_b[size_t(i)] = best;
    if (best >= 0 && c->lane_b_of_a[size_t(best)] < 0) c->lane_b_of_a[size_t(best)] = i;
  }
}

void Tabulate(const TraceModel& a, const TraceModel& b, Comparison* cp) {
  Comparison& c = *cp;
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
    const size_t k = size_t(MatchKind(a, x));
    for (KindError* t : {&per[k], &total}) {
      ++t->matched;
      t->a_us += x.dur;
      t->b_us += y.dur;
      t->max_abs_rel_error = std::max(t->max_abs_rel_error, std::abs(rel));
    }
    sum_abs[k] += std::abs(rel);
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
}

}  // namespace

VizKind MatchKind(const TraceModel& m, const Event& e) {
  if (e.kind == VizKind::kKernel && NameSaysAttention(m.NameOf(e))) return VizKind::kAttend;
  return e.kind;
}

Comparison CompareTraces(const TraceModel& a, const TraceModel& b, const CompareOptions& opt) {
  Comparison c;
  c.b_of_a.assign(a.events.size(), -1);
  c.rel_diff.assign(a.events.size(), 0.f);
  c.a_of_b.assign(b.events.size(), -1);
  const IterWindow wa = PickIteration(a, opt.iteration_a), wb = PickIteration(b, opt.iteration_b);
  c.iteration_a = wa.id, c.iteration_b = wb.id;
  c.iterations_a = wa.count, c.iterations_b = wb.count;
  const Sequences sa = KindSequences(a, wa), sb = KindSequences(b, wb);
  ScheduleWarnings(a, b, sa, sb, &c);
  const ScheduleConfig* ca = a.Config();
  const ScheduleConfig* cb = b.Config();
  const bool same_schedule = ca && cb && ca->method == cb->method && ca->world == cb->world;
  c.by_op_id = same_schedule && wa.id < 0 && wb.id < 0 && !a.op_index.empty() && !b.op_index.empty();
  if (c.by_op_id) {
    for (uint32_t i = 0; i < a.events.size(); ++i) {
      const Event& e = a.events[i];
      int64_t j = b.FindOp(a.lanes[e.lane].rank, e.op);
      if (j >= 0 && b.events[size_t(j)].kind == e.kind) c.b_of_a[i] = j;
    }
  } else {
    for (const auto& [key, va] : sa) {
      auto it = sb.find(key);
      if (it == sb.end()) continue;
      for (size_t k = 0; k < va.size() && k < it->second.size(); ++k) c.b_of_a[va[k]] = it->second[k];
    }
  }
  // Step times of the compared iterations: the device span (the slowest rank's) of an iteration of a capture, whose
  // annotation also covers host time; a whole trace's span. B is drawn so the two start together.
  auto step = [](const TraceModel& m, const IterWindow& w) {
    if (w.id < 0) return m.t_max - m.t_min;
    for (const IterationSummary& s : DetectIterations(m).iterations)
      if (s.id == w.id) return s.device_us > 0 ? s.device_us : s.step_us;
    return 0.0;
  };
  c.step_a_us = step(a, wa), c.step_b_us = step(b, wb);
  c.start_shift_us = wb.device_t0 - wa.device_t0;
  PairLanes(a, b, &c);
  Tabulate(a, b, &c);
  return c;
}

}  // namespace ringlab::viz
