#include "viz/iterations.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <tuple>

namespace ringlab::viz {
namespace {

constexpr std::string_view kProfilerStep = "ProfilerStep#";

// N of "ProfilerStep#N", or -1.
int ProfilerStepId(std::string_view name) {
  if (name.substr(0, kProfilerStep.size()) != kProfilerStep) return -1;
  int id = -1;
  const char* b = name.data() + kProfilerStep.size();
  auto r = std::from_chars(b, name.data() + name.size(), id);
  return r.ec == std::errc() && r.ptr == name.data() + name.size() ? id : -1;
}

// Per rank: iteration spans from ProfilerStep annotations, or from iteration ids, or the rank's whole span.
std::map<std::pair<int, int>, RankIteration> Spans(const TraceModel& m, IterationTable::Source* source) {
  std::vector<int> step_of_name(m.names.size());
  bool any_step = false;
  for (size_t i = 0; i < m.names.size(); ++i) any_step |= (step_of_name[i] = ProfilerStepId(m.names[i])) >= 0;
  std::map<std::pair<int, int>, RankIteration> spans;  // (rank, id)
  auto extend = [&](int rank, int id, double t0, double t1) {
    auto [it, ins] = spans.try_emplace({rank, id});
    RankIteration& r = it->second;
    if (ins) r.rank = rank, r.id = id, r.t0 = t0, r.t1 = t1;
    r.t0 = std::min(r.t0, t0), r.t1 = std::max(r.t1, t1);
  };
  *source = any_step ? IterationTable::Source::kProfilerStep : IterationTable::Source::kIterationIds;
  for (const Event& e : m.events) {
    const int rank = m.lanes[e.lane].rank;
    if (any_step) {
      if (step_of_name[e.name] >= 0) extend(rank, step_of_name[e.name], e.ts, e.End());
    } else if (e.iter >= 0) {
      extend(rank, e.iter, e.ts, e.End());
    }
  }
  if (!spans.empty()) return spans;
  *source = IterationTable::Source::kWholeTrace;
  for (const Event& e : m.events) extend(m.lanes[e.lane].rank, 0, e.ts, e.End());
  return spans;
}

// Device span of each rank iteration: non-host events starting in [t0, next iteration's t0) on the rank (for
// annotations, the GPU work an iteration launched may run past its end); with iteration ids, the ids decide.
void DeviceSpans(const TraceModel& m, IterationTable::Source source,
                 std::map<std::pair<int, int>, RankIteration>* spans) {
  std::map<int, std::vector<RankIteration*>> by_rank;  // ordered by t0
  for (auto& [key, r] : *spans) by_rank[key.first].push_back(&r);
  for (auto& [rank, v] : by_rank)
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->t0 < b->t0; });
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (auto& [key, r] : *spans) r.device_t0 = kInf, r.device_t1 = -kInf;
  for (const Event& e : m.events) {
    if (e.kind == VizKind::kHost) continue;
    const int rank = m.lanes[e.lane].rank;
    RankIteration* r = nullptr;
    if (source == IterationTable::Source::kIterationIds) {
      auto it = spans->find({rank, e.iter});
      if (it != spans->end()) r = &it->second;
    } else {
      auto& v = by_rank[rank];
      auto it = std::upper_bound(v.begin(), v.end(), e.ts, [](double t, auto* x) { return t < x->t0; });
      if (it != v.begin()) r = *(it - 1);
    }
    if (!r) continue;
    r->device_t0 = std::min(r->device_t0, e.ts), r->device_t1 = std::max(r->device_t1, e.End());
  }
  for (auto& [key, r] : *spans) {
    if (r.device_t1 < r.device_t0) r.device_t0 = r.device_t1 = 0;
    r.device_us = r.device_t1 - r.device_t0;
  }
}

}  // namespace

std::string IterationTable::SourceName() const {
  switch (source) {
    case Source::kProfilerStep: return "ProfilerStep annotations";
    case Source::kIterationIds: return "iteration ids";
    case Source::kWholeTrace: return "whole trace (no iteration marks)";
  }
  return "";
}

IterationTable DetectIterations(const TraceModel& m) {
  IterationTable t;
  if (m.empty()) return t;
  auto spans = Spans(m, &t.source);
  DeviceSpans(m, t.source, &spans);
  std::map<int, IterationSummary> sums;
  for (auto& [key, r] : spans) {
    r.step_us = r.t1 - r.t0;
    t.per_rank.push_back(r);
    auto [it, ins] = sums.try_emplace(r.id);
    IterationSummary& s = it->second;
    if (ins) s.id = r.id, s.t0 = r.t0, s.t1 = r.t1;
    s.t0 = std::min(s.t0, r.t0), s.t1 = std::max(s.t1, r.t1);
    s.step_us = std::max(s.step_us, r.step_us);
    s.device_us = std::max(s.device_us, r.device_us);
    ++s.ranks;
  }
  std::sort(t.per_rank.begin(), t.per_rank.end(),
            [](const RankIteration& a, const RankIteration& b) { return std::tie(a.id, a.rank) < std::tie(b.id, b.rank); });
  for (auto& [id, s] : sums) t.iterations.push_back(s);
  std::vector<double> steps;
  for (const IterationSummary& s : t.iterations) steps.push_back(s.step_us);
  std::sort(steps.begin(), steps.end());
  if (!steps.empty())
    t.median_step_us = steps.size() % 2 ? steps[steps.size() / 2]
                                        : (steps[steps.size() / 2 - 1] + steps[steps.size() / 2]) / 2;
  return t;
}

}  // namespace ringlab::viz
