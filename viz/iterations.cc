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

using SpanMap = std::map<std::pair<int, int>, RankIteration>;  // (rank, id)

void Extend(SpanMap* spans, int rank, int id, double t0, double t1) {
  auto [it, ins] = spans->try_emplace({rank, id});
  RankIteration& r = it->second;
  if (ins) r.rank = rank, r.id = id, r.t0 = t0, r.t1 = t1;
  r.t0 = std::min(r.t0, t0), r.t1 = std::max(r.t1, t1);
}

// Per rank: iteration spans from ProfilerStep annotations, or from iteration ids, or the rank's whole span. Work per
// event is an array lookup; map updates only for annotations, for each run of equal ids, and per lane.
SpanMap Spans(const TraceModel& m, IterationTable::Source* source) {
  std::vector<int> step_of_name(m.names.size());
  bool any_step = false;
  for (size_t i = 0; i < m.names.size(); ++i) any_step |= (step_of_name[i] = ProfilerStepId(m.names[i])) >= 0;
  SpanMap spans;
  *source = any_step ? IterationTable::Source::kProfilerStep : IterationTable::Source::kIterationIds;
  for (const Lane& l : m.lanes) {
    // A lane's events of one iteration id mostly come in runs: one map update per run.
    int run_id = -1;
    double run_t0 = 0, run_t1 = 0;
    auto flush = [&] {
      if (run_id >= 0) Extend(&spans, l.rank, run_id, run_t0, run_t1);
    };
    for (uint32_t i = l.begin; i < l.end; ++i) {
      const Event& e = m.events[i];
      if (any_step) {
        if (step_of_name[e.name] >= 0) Extend(&spans, l.rank, step_of_name[e.name], e.ts, e.End());
        continue;
      }
      if (e.iter < 0) continue;
      if (e.iter != run_id) flush(), run_id = e.iter, run_t0 = e.ts, run_t1 = e.End();
      run_t0 = std::min(run_t0, e.ts), run_t1 = std::max(run_t1, e.End());
    }
    flush();
  }
  if (!spans.empty()) return spans;
  *source = IterationTable::Source::kWholeTrace;
  for (size_t li = 0; li < m.lanes.size(); ++li) {
    const Lane& l = m.lanes[li];
    if (l.end > l.begin) Extend(&spans, l.rank, 0, m.events[l.begin].ts, m.max_end[l.end - 1]);
  }
  return spans;
}

// Device span of each rank iteration: non-host events starting in [t0, next iteration's t0) on the rank (for
// annotations, the GPU work an iteration launched may run past its end); with iteration ids, the ids decide.
void DeviceSpans(const TraceModel& m, IterationTable::Source source, SpanMap* spans) {
  std::map<int, std::vector<RankIteration*>> by_rank;  // ordered by t0
  for (auto& [key, r] : *spans) by_rank[key.first].push_back(&r);
  for (auto& [rank, v] : by_rank)
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->t0 < b->t0; });
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (auto& [key, r] : *spans) r.device_t0 = kInf, r.device_t1 = -kInf;
  for (const Lane& l : m.lanes) {
    std::vector<RankIteration*>& v = by_rank[l.rank];
    RankIteration* cur = nullptr;
    int cur_id = -2;
    for (uint32_t i = l.begin; i < l.end; ++i) {
      const Event& e = m.events[i];
      if (e.kind == VizKind::kHost) continue;
      RankIteration* r = nullptr;
      if (source == IterationTable::Source::kWholeTrace) {
        r = v.empty() ? nullptr : v.front();
      } else if (source == IterationTable::Source::kIterationIds) {
        if (e.iter != cur_id) {
          auto it = spans->find({l.rank, e.iter});
          cur = it == spans->end() ? nullptr : &it->second, cur_id = e.iter;
        }
        r = cur;
      } else {
        auto it = std::upper_bound(v.begin(), v.end(), e.ts, [](double t, auto* x) { return t < x->t0; });
        if (it != v.begin()) r = *(it - 1);
      }
      if (r) r->device_t0 = std::min(r->device_t0, e.ts), r->device_t1 = std::max(r->device_t1, e.End());
    }
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
  SpanMap spans = Spans(m, &t.source);
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
