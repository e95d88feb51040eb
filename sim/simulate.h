// Simulate one schedule config on a hardware profile: compile the ranks, run the engine, summarise.
//
//   HardwareProfile hw;  LoadProfile("h100_sxm", &hw);
//   SimOptions opt;  opt.trace = TraceMode::kAll;
//   SimResult res;
//   Status st = Simulate(cfg, hw, opt, &res);   // res.summary, res.trace (source "sim")
//
// Large worlds: ranks are compiled one at a time into compact programs (peers relative to the rank), and ranks whose
// programs are equal share one copy, so memory follows the number of distinct programs, not W². Above
// `share_probe_above` ranks, the compiler first compiles a deterministic sample of ranks; if they are all equal
// (every rank of a head-tail ring is), all ranks share that program (`programs_shared_by_sample` says so). Otherwise
// every rank is compiled, or, when the programs differ only by the causal block orientation, stored as splices of a
// few whole ones in O(W) memory (program_table.h, `programs_spliced`). Only traced ranks keep their full schedule.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/metrics.h"
#include "core/schedule.h"
#include "core/trace.h"
#include "sim/cost_model.h"
#include "sim/engine.h"
#include "sim/profile.h"
#include "sim/program_table.h"
#include "sim/topology.h"

namespace ringlab::sim {

enum class TraceMode { kNone, kAll, kRanks };

struct SimOptions {
  TopologyConfig topology;
  TraceMode trace = TraceMode::kNone;
  std::vector<int> trace_ranks;  // kRanks: these ranks only
  int share_probe_above = 256;   // W above which programs are shared on a sampled check (0: always compile all)
  // Simulate one representative per symmetry class of ranks when the system is provably shift-symmetric and nothing
  // is traced (README "Symmetry"); false always runs every rank (the general path).
  bool use_symmetry = true;
  // W from which ring pass-KV runs with distinct rank programs take the rank-range engine (range_run.h).
  int range_run_above = 1024;
  // Any op whose cost leaves the profile's measured data (cost_model.h) is an error: InvalidArgument naming the first
  // such op, its rank and the dimension (`--strict`); so is any extrapolated transfer (transfer_tally.h), found by
  // the run.
  bool strict = false;
  // A run that must take the general engine (every rank simulated: traced ranks, or no exact fast path applies) with
  // more than this many ops in all is refused before it starts: InvalidArgument naming --world and --seq, the op
  // count, the cap and `general_cap_hint` (what to do instead). 0: no cap. The CLI sets about an hour's worth.
  int64_t max_general_ops = 0;
  std::string general_cap_hint = "use a smaller --world or --seq";
  // Called now and then with (engine ops done, ops to run) while the engine runs (engine.h SetProgress).
  std::function<void(int64_t, int64_t)> progress;
};

struct SimResult {
  ScheduleConfig config;
  std::string hardware;
  std::string topology;
  RunSummary summary;
  Trace trace;  // events of the traced ranks only (meta filled in any case)
  EngineStats stats;
  int64_t schedule_op_count = 0;
  int distinct_programs = 0;
  bool programs_shared_by_sample = false;
  bool programs_spliced = false;  // distinct programs stored as splices of a few whole ones (program_table.h)
  int symmetry_period = 0;        // ranks simulated: P < W when the symmetric run was used, else W
  bool symmetry_fallback = false;  // a symmetric run was tried, met a case it cannot prove exact, and was redone
  // > 0: the phased all-gather run (phased_run.h) ran, its symmetric phases with this many representatives.
  int phased_period = 0;
  // > 0: the rank-range run (range_run.h) ran, over blocks of this many ranks, with at most range_max_ranges ranges.
  int range_period = 0, range_max_ranges = 0;
  std::string range_fallback;  // the rank-range run was tried and could not apply: why (the general engine ran)
  // Ulysses/hybrid: the all-to-all costs come from the NVLink/NIC line, not a measured table (network.alltoall_time_us).
  bool alltoall_extrapolated = false;
  double compile_s = 0, run_s = 0;  // host wall time
  // Every rank's compute time and how much of it is extrapolated (cost_model.h), and the card's memory for the
  // over-capacity flag (summary.peak_memory_bytes > memory_capacity_gib).
  ExtrapolationTally extrapolation;
  // Every transfer and which of them take their time from outside the profile's measured tables (transfer_tally.h).
  TransferTally transfers;
  double memory_capacity_gib = 0;
  bool OverCapacity() const { return double(summary.peak_memory_bytes) > memory_capacity_gib * double(1 << 30); }
};

// The smallest P dividing W (P < W) such that shifting every rank by P maps the system onto itself: rank r + P runs
// the same program as r, and for every peer offset o the programs use (and 1, the collective ring step) the transfer
// r + P → r + P + o takes the same kind of route (NVLink or NIC) as r → r + o, and P divides no such o (a transfer's
// two ends are never one representative: README "Symmetry"). Returns W when there is none.
int FindSymmetryPeriod(const Topology& topo, const ProgramTable& table);
inline int FindSymmetryPeriod(const Topology& topo, const std::vector<RankProgram>& programs,
                              const std::vector<uint32_t>& program_of_rank) {
  return FindSymmetryPeriod(topo, ProgramTable(programs, program_of_rank));
}

Status Simulate(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& options, SimResult* out);

// The summary as JSON: core's RunSummary fields plus the simulation's facts (profile, topology, ops, programs).
// `per_rank` false drops the per-rank array (for huge W).
nlohmann::json ToJson(const SimResult& r, bool per_rank = true);

// Sum of the step times of passes run one after the other (forward then backward).
double TotalStepUs(const std::vector<const SimResult*>& passes);

}  // namespace ringlab::sim
