#include "core/metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/intervals.h"

namespace ringlab {

RunSummary Summarize(const Trace& trace, double peak_tflops) {
  const int w = trace.meta.config.world;
  RunSummary s;
  s.ranks.resize(w);
  std::vector<std::vector<Interval>> compute(w), comm(w);
  double t0 = 1e300, t1 = -1e300;
  for (const TraceEvent& e : trace.events) {
    if (e.rank < 0 || e.rank >= w) continue;
    (e.stream == int(StreamKind::kCompute) ? compute : comm)[e.rank].push_back({e.ts_us, e.ts_us + e.dur_us});
    s.ranks[e.rank].flops += e.flops;
    t0 = std::min(t0, e.ts_us);
    t1 = std::max(t1, e.ts_us + e.dur_us);
  }
  if (trace.events.empty()) return s;
  s.step_time_us = t1 - t0;
  for (int r = 0; r < w; ++r) {
    RankMetrics& m = s.ranks[r];
    auto c = Union(compute[r]), n = Union(comm[r]);
    m.start_us = t0;
    m.end_us = std::max(c.empty() ? t0 : c.back().end, n.empty() ? t0 : n.back().end);
    m.compute_us = Length(c);
    m.comm_us = Length(n);
    m.both_us = IntersectionLength(c, n);
  }
  SummarizeRanks(peak_tflops, &s);
  return s;
}

void SummarizeRanks(double peak_tflops, RunSummary* s) {
  const int w = int(s->ranks.size());
  double comm_total = 0, hidden_total = 0;
  for (RankMetrics& m : s->ranks) {
    m.idle_us = s->step_time_us - (m.compute_us + m.comm_us - m.both_us);
    s->max_compute_us = std::max(s->max_compute_us, m.compute_us);
    s->mean_compute_us += m.compute_us / w;
    s->total_flops += m.flops;
    comm_total += m.comm_us;
    hidden_total += m.both_us;
  }
  s->exposed_comm_us = std::max(0.0, s->step_time_us - s->max_compute_us);
  s->overlap_fraction = comm_total > 0 ? hidden_total / comm_total : 1.0;
  s->load_imbalance = s->mean_compute_us > 0 ? s->max_compute_us / s->mean_compute_us : 1.0;
  s->tflops_per_gpu = s->step_time_us > 0 ? s->total_flops / (s->step_time_us * 1e-6) / w / 1e12 : 0;
  s->mfu = peak_tflops > 0 ? s->tflops_per_gpu / peak_tflops : 0;
}

int64_t RankMemoryBytes(const RankSchedule& rank) {
  int64_t b = 0;
  for (const BufferInfo& info : rank.buffers) b += info.bytes;
  return b;
}

int64_t PeakMemoryBytes(const Schedule& schedule) {
  int64_t peak = 0;
  for (const RankSchedule& r : schedule.ranks) peak = std::max(peak, RankMemoryBytes(r));
  return peak;
}

nlohmann::json ToJson(const RunSummary& s) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const RankMetrics& m : s.ranks)
    ranks.push_back({{"compute_us", m.compute_us},
                     {"comm_us", m.comm_us},
                     {"overlap_us", m.both_us},
                     {"idle_us", m.idle_us},
                     {"flops", m.flops}});
  return {{"step_time_us", s.step_time_us},       {"max_compute_us", s.max_compute_us},
          {"mean_compute_us", s.mean_compute_us}, {"exposed_comm_us", s.exposed_comm_us},
          {"overlap_fraction", s.overlap_fraction}, {"load_imbalance", s.load_imbalance},
          {"total_flops", s.total_flops},         {"tflops_per_gpu", s.tflops_per_gpu},
          {"mfu", s.mfu},                         {"peak_memory_bytes", s.peak_memory_bytes},
          {"ranks", ranks}};
}

std::string FormatSummaries(const std::vector<std::pair<std::string, RunSummary>>& columns) {
  std::ostringstream o;
  char buf[64];
  auto row = [&](const char* label, auto value_of, const char* fmt) {
    snprintf(buf, sizeof buf, "%-26s", label);
    o << buf;
    for (const auto& [name, s] : columns) {
      snprintf(buf, sizeof buf, fmt, value_of(s));
      o << buf;
    }
    o << "\n";
  };
  snprintf(buf, sizeof buf, "%-26s", "");
  o << buf;
  for (const auto& [name, s] : columns) {
    snprintf(buf, sizeof buf, "%16s", name.c_str());
    o << buf;
  }
  o << "\n";
  row("step time (ms)", [](const RunSummary& s) { return s.step_time_us / 1e3; }, "%16.3f");
  row("compute, slowest rank (ms)", [](const RunSummary& s) { return s.max_compute_us / 1e3; }, "%16.3f");
  row("exposed comm (ms)", [](const RunSummary& s) { return s.exposed_comm_us / 1e3; }, "%16.3f");
  row("comm hidden (%)", [](const RunSummary& s) { return 100 * s.overlap_fraction; }, "%16.1f");
  row("load imbalance (max/mean)", [](const RunSummary& s) { return s.load_imbalance; }, "%16.3f");
  row("TFLOP/s per GPU", [](const RunSummary& s) { return s.tflops_per_gpu; }, "%16.1f");
  row("MFU (%)", [](const RunSummary& s) { return 100 * s.mfu; }, "%16.1f");
  row("peak memory/GPU (GiB)", [](const RunSummary& s) { return double(s.peak_memory_bytes) / (1 << 30); }, "%16.2f");
  return o.str();
}

}  // namespace ringlab
