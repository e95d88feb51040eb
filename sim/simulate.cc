#include "sim/simulate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <unordered_map>

#include "core/config_json.h"
#include "sim/collective_groups.h"

namespace ringlab::sim {
namespace {

uint64_t HashProgram(const RankProgram& p) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (int s = 0; s < kStreamCount; ++s) {
    mix(p.streams[s].size());
    for (const SimOp& o : p.streams[s]) {
      mix(uint64_t(o.op_id) << 8 | uint64_t(o.kind) | uint64_t(o.group_with_next) << 40);
      mix(uint64_t(uint32_t(o.need_done[0])) << 32 | uint32_t(o.need_done[1]));
      mix(uint64_t(uint32_t(o.peer_offset)) << 32 | uint32_t(o.tag));
      mix(uint64_t(o.bytes));
      mix(uint64_t(o.dur_ps));
    }
  }
  return h;
}

std::vector<int> SampleRanks(int w) {
  std::vector<int> s = {0, 1, 2, w / 2, w - 2, w - 1};
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 10; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s.push_back(int(x % uint64_t(w)));
  }
  return s;
}

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

// Every rank's compiled program (equal programs stored once) and the full schedules of the traced ranks.
struct Compiled {
  std::vector<RankProgram> programs;
  std::vector<uint32_t> program_of;  // per rank: its program
  std::vector<RankSchedule> kept;    // schedules of traced ranks
  std::vector<int> kept_index;       // per rank: its schedule in `kept`, or −1
  int64_t schedule_op_count = 0;
  bool shared_by_sample = false;     // above share_probe_above ranks, a sample of equal programs made all share one
};

Compiled CompileAll(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt) {
  const int w = cfg.world;
  const CostModel cost(hw, cfg);
  Compiled c;
  c.program_of.assign(w, 0);
  c.kept_index.assign(w, -1);
  std::vector<bool> traced(w, false);
  if (opt.trace == TraceMode::kAll) traced.assign(w, true);
  if (opt.trace == TraceMode::kRanks)
    for (int r : opt.trace_ranks) traced[r] = true;
  auto keep = [&](int r, RankSchedule rs) {
    c.kept_index[r] = int(c.kept.size());
    c.kept.push_back(std::move(rs));
  };
  // Sharing by sample is proven for whole-world collectives only: Ulysses and hybrid schedules compile every rank.
  if (opt.share_probe_above > 0 && w > opt.share_probe_above && cfg.ulysses <= 1) {
    std::vector<RankProgram> sample;
    bool equal = true;
    for (int r : SampleRanks(w)) {
      RankProgram p = CompileRank(BuildRankSchedule(cfg, r), r, w, cost, hw.listed_start_order);
      if (!sample.empty() && !(p == sample.front())) {
        equal = false;
        break;
      }
      if (sample.empty()) sample.push_back(std::move(p));
    }
    if (equal) {
      c.shared_by_sample = true;
      c.programs.push_back(std::move(sample.front()));
      c.schedule_op_count = c.programs[0].OpCount() * w;
      for (int r = 0; r < w; ++r)
        if (traced[r]) keep(r, BuildRankSchedule(cfg, r));
      return c;
    }
  }
  std::unordered_multimap<uint64_t, uint32_t> by_hash;
  for (int r = 0; r < w; ++r) {
    RankSchedule rs = BuildRankSchedule(cfg, r);
    RankProgram p = CompileRank(rs, r, w, cost, hw.listed_start_order);
    AssignCollectiveGroups(cfg, r, &p);
    c.schedule_op_count += int64_t(rs.ops.size());
    const uint64_t h = HashProgram(p);
    int found = -1;
    auto [a, b] = by_hash.equal_range(h);
    for (auto it = a; it != b; ++it)
      if (c.programs[it->second] == p) found = int(it->second);
    if (found < 0) {
      found = int(c.programs.size());
      c.programs.push_back(std::move(p));
      by_hash.emplace(h, uint32_t(found));
    }
    c.program_of[r] = uint32_t(found);
    if (traced[r]) keep(r, std::move(rs));
  }
  return c;
}

// The summary from the engine's per-rank totals (`totals[r % period]` stands for rank r): the same quantities core's
// Summarize computes from a full trace.
RunSummary SummaryFromTotals(const ScheduleConfig& cfg, const HardwareProfile& hw, const Compiled& c,
                             const std::vector<RankTotals>& totals, int period) {
  const int w = cfg.world;
  auto tot = [&](int r) -> const RankTotals& { return totals[r % period]; };
  RunSummary s;
  s.ranks.resize(w);
  TimePs t_begin = std::numeric_limits<TimePs>::max(), t_end = 0;
  for (int r = 0; r < w; ++r) {
    t_begin = std::min(t_begin, tot(r).start_ps);
    t_end = std::max(t_end, tot(r).end_ps);
  }
  if (w == 0 || t_begin == std::numeric_limits<TimePs>::max()) t_begin = 0;
  // The ranks' host threads start a pass up to the profile's start skew apart; the ring waits for the last (W > 1).
  const double skew_us =
      w > 1 ? (cfg.pass == Pass::kForward ? hw.forward_start_skew_us : hw.backward_start_skew_us) : 0;
  s.step_time_us = double(t_end - t_begin) * 1e-6 + skew_us;
  for (int r = 0; r < w; ++r) {
    RankMetrics& m = s.ranks[r];
    const RankProgram& p = c.programs[c.program_of[r]];
    m.start_us = double(t_begin) * 1e-6;
    m.end_us = double(tot(r).end_ps) * 1e-6;
    m.compute_us = double(tot(r).compute_ps) * 1e-6;
    m.comm_us = double(tot(r).comm_ps) * 1e-6;
    m.both_us = double(tot(r).both_ps) * 1e-6;
    m.flops = p.flops;
    s.peak_memory_bytes = std::max(s.peak_memory_bytes, p.memory_bytes);
  }
  SummarizeRanks(hw.peak_tflops, &s);
  return s;
}

}  // namespace

int FindSymmetryPeriod(const Topology& topo, const std::vector<RankProgram>& programs,
                       const std::vector<uint32_t>& program_of) {
  const int w = topo.world();
  std::vector<int> offsets;
  for (const RankProgram& p : programs)
    if (NeedsGeneralEngine(p)) return w;  // all-to-all or group collectives: no symmetric run (README "Symmetry")
  for (const RankProgram& p : programs)
    for (const SimOp& o : p.streams[1]) {
      if (o.kind == OpKind::kAllGather || o.kind == OpKind::kReduceScatter) offsets.push_back(1 % w);
      else if (o.peer_offset >= 0) offsets.push_back(o.peer_offset);
    }
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  for (int period = 1; period < w; ++period) {
    if (w % period != 0) continue;
    bool ok = true;
    for (int r = period; r < w && ok; ++r) {
      const int c = r % period;
      if (program_of[r] != program_of[c]) ok = false;
      for (int o : offsets)
        if (ok && topo.SameNode(r, (r + o) % w) != topo.SameNode(c, (c + o) % w)) ok = false;
    }
    if (ok) return period;
  }
  return w;
}

Status Simulate(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt, SimResult* out) {
  RINGLAB_RETURN_IF_ERROR(ValidateConfig(cfg));
  const int w = cfg.world;
  Topology topo;
  RINGLAB_RETURN_IF_ERROR(Topology::Make(hw, w, opt.topology, &topo));
  for (int r : opt.trace_ranks)
    if (r < 0 || r >= w)
      return Status::InvalidArgument("--trace-ranks: rank " + std::to_string(r) + " is not in [0, " +
                                     std::to_string(w) + ")");
  const auto t0 = std::chrono::steady_clock::now();
  SimResult res;
  res.config = cfg;
  res.hardware = hw.name;
  res.topology = topo.Describe();
  const Compiled c = CompileAll(cfg, hw, opt);
  res.schedule_op_count = c.schedule_op_count;
  res.distinct_programs = int(c.programs.size());
  res.programs_shared_by_sample = c.shared_by_sample;
  res.compile_s = Seconds(t0);
  int first_rank = -1;
  res.extrapolation = TallyRanks(c.programs, c.program_of, &first_rank);
  res.memory_capacity_gib = hw.memory_gib;
  if (opt.strict && first_rank >= 0) {
    const RankSchedule rs = BuildRankSchedule(cfg, first_rank);
    char share[64];
    snprintf(share, sizeof share, "%.1f%%", 100 * res.extrapolation.Share());
    return Status::InvalidArgument("--strict: profile " + hw.name + ", rank " + std::to_string(first_rank) + ", " +
                                   CostModel(hw, cfg).DescribeExtrapolation(rs.ops[res.extrapolation.first_op]) +
                                   "; " + share + " of the simulated compute time is extrapolated");
  }
  res.alltoall_extrapolated = cfg.ulysses > 1 && hw.alltoall_time_us.empty();

  const auto t1 = std::chrono::steady_clock::now();
  int period = w;
  if (opt.use_symmetry && opt.trace == TraceMode::kNone && w > 1)
    period = FindSymmetryPeriod(topo, c.programs, c.program_of);
  std::optional<Engine> engine;
  // The pass's numbers from the profile, once for both engines below.
  const EngineParams params = EngineParams::ForPass(hw, cfg.pass == Pass::kForward, w);
  if (period < w) {
    engine.emplace(topo, params, c.programs, c.program_of, period);
    RINGLAB_RETURN_IF_ERROR(engine->Run());
    if (engine->symmetry_broken()) {
      res.symmetry_fallback = true;
      period = w;
      engine.reset();
    }
  }
  if (!engine) {
    engine.emplace(topo, params, c.programs, c.program_of);
    for (int r = 0; r < w; ++r)
      if (c.kept_index[r] >= 0) engine->TraceRank(r, &c.kept[c.kept_index[r]]);
    RINGLAB_RETURN_IF_ERROR(engine->Run());
  }
  res.run_s = Seconds(t1);
  res.symmetry_period = period;
  res.stats = engine->stats();
  // A symmetric run simulates one rank per class of W/P ranks that behave identically.
  res.stats.ops *= w / period;
  res.stats.events *= w / period;
  res.stats.flows *= w / period;
  res.summary = SummaryFromTotals(cfg, hw, c, engine->totals(), period);

  res.trace.meta.source = "sim";
  res.trace.meta.config = cfg;
  res.trace.meta.hardware = hw.name;
  res.trace.meta.schedule_op_count = res.schedule_op_count;
  res.trace.events = engine->events();
  *out = std::move(res);
  return Status::Ok();
}

nlohmann::json ToJson(const SimResult& r, bool per_rank) {
  nlohmann::json j = ringlab::ToJson(r.summary);
  if (!per_rank) j.erase("ranks");
  j["config"] = ringlab::ToJson(r.config);
  j["describe"] = Describe(r.config);
  j["source"] = "sim";
  j["profile"] = r.hardware;
  j["topology"] = r.topology;
  j["schedule_op_count"] = r.schedule_op_count;
  j["distinct_rank_programs"] = r.distinct_programs;
  j["programs_shared_by_sample"] = r.programs_shared_by_sample;
  j["symmetry_period"] = r.symmetry_period;
  j["symmetry_fallback"] = r.symmetry_fallback;
  if (r.config.ulysses > 1) j["alltoall_cost"] = r.alltoall_extrapolated ? "extrapolated" : "measured";
  j["engine"] = {{"ops", r.stats.ops}, {"events", r.stats.events}, {"flows", r.stats.flows}};
  j["extrapolation"] = ExtrapolationJson(r.extrapolation);
  j["memory_capacity_gib"] = r.memory_capacity_gib;
  j["memory_over_capacity"] = r.OverCapacity();
  return j;
}

double TotalStepUs(const std::vector<const SimResult*>& passes) {
  double t = 0;
  for (const SimResult* p : passes) t += p->summary.step_time_us;
  return t;
}

}  // namespace ringlab::sim
