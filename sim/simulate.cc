#include "sim/simulate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <tuple>


#include "core/config_json.h"
#include "sim/collective_groups.h"
#include "sim/phased_run.h"
#include "sim/range_run.h"

namespace ringlab::sim {
namespace {

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

// Every rank's compiled program (program_table.h) and the full schedules of the traced ranks.
struct Compiled {
  ProgramTable table;
  std::vector<RankSchedule> kept;    // schedules of traced ranks
  std::vector<int> kept_index;       // per rank: its schedule in `kept`, or −1
  int64_t schedule_op_count = 0;
};

Compiled CompileAll(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt) {
  const int w = cfg.world;
  Compiled c;
  c.table = BuildProgramTable(cfg, hw, opt.share_probe_above, &c.schedule_op_count);
  c.kept_index.assign(w, -1);
  std::vector<bool> traced(w, false);
  if (opt.trace == TraceMode::kAll) traced.assign(w, true);
  if (opt.trace == TraceMode::kRanks)
    for (int r : opt.trace_ranks) traced[r] = true;
  for (int r = 0; r < w; ++r)
    if (traced[r]) {
      c.kept_index[r] = int(c.kept.size());
      c.kept.push_back(BuildRankSchedule(cfg, r));
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
    m.start_us = double(t_begin) * 1e-6;
    m.end_us = double(tot(r).end_ps) * 1e-6;
    m.compute_us = double(tot(r).compute_ps) * 1e-6;
    m.comm_us = double(tot(r).comm_ps) * 1e-6;
    m.both_us = double(tot(r).both_ps) * 1e-6;
    m.flops = c.table.Flops(r);
    s.peak_memory_bytes = std::max(s.peak_memory_bytes, c.table.MemoryBytes(r));
  }
  SummarizeRanks(hw.peak_tflops, &s);
  return s;
}

// The general engine's work is its op count (about one event per op): refused above opt.max_general_ops.
Status CheckGeneralEngineCap(const ScheduleConfig& cfg, const SimOptions& opt, int64_t ops) {
  if (opt.max_general_ops <= 0 || ops <= opt.max_general_ops) return Status::Ok();
  char counts[96];
  snprintf(counts, sizeof counts, "%.3g ops, more than the cap of %.3g", double(ops), double(opt.max_general_ops));
  return Status::InvalidArgument("--world " + std::to_string(cfg.world) + " --seq " + std::to_string(cfg.problem.seq) +
                                 ": this run takes the general engine (every rank simulated: " +
                                 (opt.trace == TraceMode::kAll ? "every rank is traced" : "no exact fast path applies") +
                                 "), " + counts + "; " + opt.general_cap_hint);
}

// Time is int64 picoseconds (about 106 days). A pass whose busiest GPU needs more than a week (lower bounds: the
// average rank's FLOPs at the profile's peak, or the K/V it receives from the other ring ranks at its fastest link) is
// refused before any op cost is computed, so no duration or total overflows (it did: "time went backwards"), and the
// wave model is never asked for such a kernel (it lists a kernel's CTAs one by one).
Status CheckClockRange(const ScheduleConfig& cfg, const HardwareProfile& hw) {
  constexpr double kMaxPassSeconds = 7 * 86400.0;
  const Problem& p = cfg.problem;
  const double flops = (cfg.pass == Pass::kForward ? p.ForwardFlops() : p.BackwardFlops()) / cfg.world;
  const double compute_s = flops / (std::max(hw.peak_tflops, 1e-3) * 1e12);
  const double ring = double(cfg.world) / std::max(1, cfg.ulysses);
  const double link = std::max({hw.nvlink_gbps, hw.nic_gbps, 1e-3}) * 1e9;
  const double comm_s = double(p.KvBytes(p.seq)) * (ring - 1) / ring / link;
  const double seconds = std::max(compute_s, comm_s);
  if (seconds <= kMaxPassSeconds) return Status::Ok();
  char msg[200];
  snprintf(msg, sizeof msg, "one %s pass needs at least %.3g days per GPU (%s at the profile's %s)",
           std::string(PassName(cfg.pass)).c_str(), seconds / 86400,
           compute_s >= comm_s ? "attention" : "receiving K/V", compute_s >= comm_s ? "peak" : "fastest link");
  return Status::InvalidArgument("--seq " + std::to_string(p.seq) + " --batch " + std::to_string(p.batch) +
                                 " --heads " + std::to_string(p.heads) + " --world " + std::to_string(cfg.world) +
                                 ": " + msg + "; the simulator's clock (int64 picoseconds) allows at most 7 days per "
                                 "pass: use a smaller --seq or --batch" +
                                 (compute_s >= comm_s ? ", or a larger --world" : ", or faster links"));
}

}  // namespace

int FindSymmetryPeriod(const Topology& topo, const ProgramTable& table) {
  const int w = topo.world();
  std::vector<int> offsets;
  for (const RankProgram& p : table.sources())
    if (NeedsGeneralEngine(p)) return w;  // all-to-all or group collectives: no symmetric run (README "Symmetry")
  for (const RankProgram& p : table.sources())
    for (const SimOp& o : p.streams[1]) {
      if (o.kind == OpKind::kAllGather || o.kind == OpKind::kReduceScatter) offsets.push_back(1 % w);
      else if (o.peer_offset >= 0) offsets.push_back(o.peer_offset);
    }
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  for (int period = 1; period < w; ++period) {
    if (w % period != 0) continue;
    // A transfer's two ends must stay two representatives: with both on one, a compute that ends and restarts at one
    // instant re-rates the transfer (its rate beside compute) twice, where in the general run the other end is
    // another rank, busy before and after its own restart, and nothing changes: the timing agrees but the stale
    // events do not (the range run keeps blocks of 2 on one node for the same reason).
    bool ok = std::none_of(offsets.begin(), offsets.end(), [&](int o) { return o % w != 0 && o % period == 0; });
    for (int r = period; r < w && ok; ++r) {
      const int c = r % period;
      if (table.ProgramId(r) != table.ProgramId(c)) ok = false;
      for (int o : offsets)
        if (ok && topo.SameNode(r, (r + o) % w) != topo.SameNode(c, (c + o) % w)) ok = false;
    }
    if (ok) return period;
  }
  return w;
}

static Status Finish(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt, SimResult res,
              std::vector<TraceEvent> events, SimResult* out);

Status Simulate(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt, SimResult* out) {
  RINGLAB_RETURN_IF_ERROR(ValidateConfig(cfg));
  RINGLAB_RETURN_IF_ERROR(CheckClockRange(cfg, hw));
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
  res.distinct_programs = c.table.DistinctPrograms();
  res.programs_shared_by_sample = c.table.shared_by_sample();
  res.programs_spliced = c.table.spliced();
  res.compile_s = Seconds(t0);
  int first_rank = -1;
  res.extrapolation = TallyRanks(c.table, &first_rank);
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
  // The fast paths below trace chosen ranks (--trace-ranks) as exactly as the general engine; a whole trace (every
  // rank) is left to the general engine (it is for small W).
  const bool fast = opt.use_symmetry && opt.trace != TraceMode::kAll;
  TracedRanks traced;
  for (int r = 0; r < w; ++r)
    if (c.kept_index[r] >= 0) traced.push_back({r, &c.kept[c.kept_index[r]]});
  int period = w;
  if (fast && w > 1) period = FindSymmetryPeriod(topo, c.table);
  std::optional<Engine> engine;
  // The pass's numbers from the profile, once for both engines below.
  const EngineParams params = EngineParams::ForPass(hw, cfg.pass == Pass::kForward, w);
  if (period < w) {
    engine.emplace(topo, params, c.table, period);
    engine->SetProgress(opt.progress);
    for (const auto& [rank, schedule] : traced) engine->TraceRank(rank, schedule);
    RINGLAB_RETURN_IF_ERROR(engine->Run());
    if (engine->symmetry_broken()) {
      res.symmetry_fallback = true;
      period = w;
      engine.reset();
    }
  }
  if (period == w && fast) {
    // All-gather runs whose programs differ: the phased run (phased_run.h), exact, O(W) events.
    PhasedRun phased;
    bool applied = false;
    RINGLAB_RETURN_IF_ERROR(RunPhased(topo, params, c.table, traced, &phased, &applied));
    if (applied) {
      res.run_s = Seconds(t1);
      res.symmetry_period = w;
      res.phased_period = phased.period;
      res.stats = phased.stats;
      res.summary = SummaryFromTotals(cfg, hw, c, phased.totals, w);
      res.transfers = phased.transfers;
      return Finish(cfg, hw, opt, std::move(res), std::move(phased.events), out);
    }
  }
  if (period == w && fast && w >= opt.range_run_above &&
      cfg.method == Method::kAllToAll && cfg.ulysses <= 1) {
    // Ring pass-KV whose programs differ: the rank-range run (range_run.h), exact.
    RangeRun ranged;
    bool applied = false;
    // Contiguous sharding is left to the general engine: there the range run's stale-event counts differed from the
    // general engine's (W = 48 and 96; timings equal), and its per-rank gradient keeps the ranges apart anyway.
    if (cfg.sharding == ShardingKind::kContiguous)
      res.range_fallback = "contiguous sharding (the rank-range run is exact for head-tail only)";
    else
      RINGLAB_RETURN_IF_ERROR(RunRanges(topo, params, c.table, traced, &ranged, &applied, &res.range_fallback));
    if (applied) {
      res.run_s = Seconds(t1);
      res.symmetry_period = w;
      res.range_period = ranged.period;
      res.range_max_ranges = ranged.max_ranges;
      res.stats = ranged.stats;
      res.summary = SummaryFromTotals(cfg, hw, c, ranged.totals, w);
      res.transfers = ranged.transfers;
      return Finish(cfg, hw, opt, std::move(res), std::move(ranged.events), out);
    }
  }
  if (!engine) {
    RINGLAB_RETURN_IF_ERROR(CheckGeneralEngineCap(cfg, opt, c.schedule_op_count));
    engine.emplace(topo, params, c.table);
    engine->SetProgress(opt.progress);
    for (const auto& [rank, schedule] : traced) engine->TraceRank(rank, schedule);
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
  res.transfers = engine->transfers();
  res.transfers.Scale(w / period);
  return Finish(cfg, hw, opt, std::move(res), engine->events(), out);
}

// The run's last checks and its trace's header.
static Status Finish(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt, SimResult res,
              std::vector<TraceEvent> events, SimResult* out) {
  if (opt.strict && res.transfers.ExtrapolatedCount() > 0) {
    char share[64];
    snprintf(share, sizeof share, "%.1f%%", 100 * res.transfers.Share());
    return Status::InvalidArgument("--strict: profile " + hw.name + ", " + res.transfers.first + "; " + share +
                                   " of the transferred bytes take extrapolated times");
  }

  res.trace.meta.source = "sim";
  res.trace.meta.config = cfg;
  res.trace.meta.hardware = hw.name;
  res.trace.meta.schedule_op_count = res.schedule_op_count;
  // One order whichever engine recorded them (each records in its own event order): by rank, then op.
  std::sort(events.begin(), events.end(),
            [](const TraceEvent& a, const TraceEvent& b) { return std::tie(a.rank, a.op) < std::tie(b.rank, b.op); });
  res.trace.events = std::move(events);
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
  j["programs_spliced"] = r.programs_spliced;
  j["symmetry_period"] = r.symmetry_period;
  j["symmetry_fallback"] = r.symmetry_fallback;
  j["phased_run"] = r.phased_period > 0;
  j["range_run"] = r.range_period > 0;
  if (r.range_period > 0) j["range_max_ranges"] = r.range_max_ranges;
  if (!r.range_fallback.empty()) j["range_fallback"] = r.range_fallback;
  if (r.config.ulysses > 1) j["alltoall_cost"] = r.alltoall_extrapolated ? "extrapolated" : "measured";
  j["engine"] = {{"ops", r.stats.ops}, {"events", r.stats.events}, {"flows", r.stats.flows}};
  j["extrapolation"] = ExtrapolationJson(r.extrapolation);
  j["transfer_extrapolation"] = TransferExtrapolationJson(r.transfers);
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
