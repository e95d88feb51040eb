#include "viz/stats.h"

#include <algorithm>

#include "core/intervals.h"
#include "viz/iterations.h"

namespace ringlab::viz {

WindowStats ComputeWindowStats(const TraceModel& m, double t0, double t1) {
  WindowStats ws;
  ws.t0 = t0;
  ws.t1 = t1;
  std::vector<Interval> comp, comm;
  for (int rank : m.ranks) {
    RankWindowStats r;
    r.rank = rank;
    comp.clear();
    comm.clear();
    double span0 = 1e300, span1 = -1e300;
    for (int li : m.LanesOfRank(rank)) {
      const Lane& l = m.lanes[size_t(li)];
      if (l.end > l.begin) {
        span0 = std::min(span0, m.events[l.begin].ts);
        span1 = std::max(span1, m.max_end[l.end - 1]);
      }
      for (uint32_t i = m.FirstVisible(li, t0); i < l.end && m.events[i].ts <= t1; ++i) {
        const Event& e = m.events[i];
        if (e.kind == VizKind::kHost) continue;
        double a = std::max(e.ts, t0), b = std::min(e.End(), t1);
        if (e.ts >= t0) r.flops += e.flops, r.bytes += double(e.bytes);
        if (b <= a) continue;
        (IsCommKind(e.kind) ? comm : comp).push_back({a, b});
      }
    }
    MergeInPlace(&comp);
    MergeInPlace(&comm);
    r.compute_us = Length(comp);
    r.comm_us = Length(comm);
    r.both_us = IntersectionLength(comp, comm);
    r.wall_us = std::max(0.0, std::min(t1, span1) - std::max(t0, span0));
    AddRankStats(r, &ws);
  }
  FinishTotals(&ws);
  return ws;
}

void AddRankStats(RankWindowStats r, WindowStats* ws) {
  r.idle_us = std::max(0.0, r.wall_us - (r.compute_us + r.comm_us - r.both_us));
  r.exposed_comm_us = std::max(0.0, r.wall_us - r.compute_us);
  r.overlap_fraction = r.comm_us > 0 ? r.both_us / r.comm_us : 0;
  RankWindowStats& t = ws->total;
  t.wall_us += r.wall_us;
  t.compute_us += r.compute_us;
  t.comm_us += r.comm_us;
  t.both_us += r.both_us;
  t.idle_us += r.idle_us;
  t.exposed_comm_us += r.exposed_comm_us;
  t.flops += r.flops;
  t.bytes += r.bytes;
  ws->ranks.push_back(r);
}

void FinishTotals(WindowStats* ws) {
  ws->total.rank = -1;
  ws->total.overlap_fraction = ws->total.comm_us > 0 ? ws->total.both_us / ws->total.comm_us : 0;
}

RunInfo Summarize(const TraceModel& m, const IterationTable* iterations) {
  RunInfo r;
  r.events = int64_t(m.events.size());
  r.ranks = int(m.ranks.size());
  r.step_time_us = m.t_max - m.t_min;
  // A capture of several iterations: the median iteration's step time, not the whole capture.
  const IterationTable it = iterations ? *iterations : DetectIterations(m);
  r.iterations = int(it.iterations.size());
  r.step_source = it.SourceName();
  if (it.source != IterationTable::Source::kWholeTrace) r.step_time_us = it.median_step_us;
  for (const FileInfo& f : m.files) {
    if (!r.files.empty()) r.files += ", ";
    r.files += f.path;
  }
  if (const ScheduleConfig* c = m.Config()) {
    r.problem = Describe(c->problem);
    r.method = std::string(MethodName(c->method)) + " " + std::string(PassName(c->pass)) + " " +
               std::string(ShardingName(c->sharding)) + " W=" + std::to_string(c->world);
    for (const FileInfo& f : m.files)
      if (f.ringlab) {
        r.source = f.meta.source;
        r.hardware = f.meta.hardware;
        break;
      }
  } else {
    r.source = m.files.empty() ? "" : m.files[0].format;
  }
  return r;
}

}  // namespace ringlab::viz
