// `ringlab sim` and `ringlab sweep`: the simulator's subcommands (one configuration on a hardware profile; a grid of
// world sizes, sequence lengths, methods and passes).
#include <algorithm>
#include <climits>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/progress.h"
#include "apps/resource_limits.h"
#include "apps/sim_flags.h"
#include "core/metrics.h"
#include "core/output_file.h"
#include "core/trace.h"
#ifdef RINGLAB_HAVE_CHAKRA
#include "export/chakra_export.h"
#endif
#include "sim/profile.h"
#include "sim/simulate.h"
#include "sim/sweep.h"

namespace ringlab::cli {

struct SimFlags {
  CommonOptions common;
  std::string profile = sim::kDefaultProfile;
  int nodes = kNotGiven, gpus_per_node = kNotGiven;
  std::string placement = "block";
  std::string trace, trace_ranks, json;
  std::string chakra;  // folder for Chakra execution traces, one per rank
  bool per_rank = false, strict = false;
  bool force = false;  // run the general engine past GeneralEngineOpCap
};

struct SweepFlags {
  CommonOptions common;
  std::string profile = sim::kDefaultProfile;
  int gpus_per_node = kNotGiven;
  std::string placement = "block";
  std::string worlds = "8", seqs = "131072", methods = "allgather,alltoall", passes = "forward";
  std::string csv, json, shard = "0/1";
  int workers = kNotGiven;
  bool strict = false;
  // The sweep's own subcommand: which single-value flags (--world, --seq, --method, --pass) were given.
  CLI::App* app = nullptr;
};

namespace {

// --trace-ranks: distinct ranks of the world, e.g. 0,1,4095.
Status ParseTraceRanks(const std::string& text, int world, std::vector<int>* ranks) {
  const std::string flag = "--trace-ranks '" + text + "'";
  RINGLAB_RETURN_IF_ERROR(CheckListText("--trace-ranks", text));
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    int64_t r = 0;
    RINGLAB_RETURN_IF_ERROR(ParseWholeNumber(flag, item, 0, world - 1, &r));
    if (std::find(ranks->begin(), ranks->end(), int(r)) != ranks->end())
      return Status::InvalidArgument(flag + ": rank " + item + " is listed twice");
    ranks->push_back(int(r));
  }
  return Status::Ok();
}

// --shard i/n: 0 <= i < n <= jobs (a shard count above the job count would leave shards with nothing to run).
Status ParseShard(const std::string& text, int64_t jobs, int* index, int* count) {
  const std::string flag = "--shard '" + text + "'";
  const size_t slash = text.find('/');
  if (slash == std::string::npos)
    return Status::InvalidArgument(flag + " must be i/n with 0 <= i < n <= " + std::to_string(jobs) +
                                   " (the jobs of this sweep), e.g. 0/4");
  int64_t i = 0, n = 0;
  RINGLAB_RETURN_IF_ERROR(ParseWholeNumber(flag + ": n", text.substr(slash + 1), 1, std::min<int64_t>(jobs, INT_MAX),
                                           &n));
  RINGLAB_RETURN_IF_ERROR(ParseWholeNumber(flag + ": i", text.substr(0, slash), 0, n - 1, &i));
  *index = int(i);
  *count = int(n);
  return Status::Ok();
}

// The naming rule of core/output_file.h: with several configs each trace gets .<method>.<pass> before the extension.
std::string TracePath(const std::string& base, const ScheduleConfig& cfg, bool several) {
  if (!several) return base;
  return OutputPathWithSuffix(base, "." + std::string(MethodName(cfg.method)) + "." + std::string(PassName(cfg.pass)));
}

// --chakra writes every rank's file, so the simulation traces every rank (the --trace limit applies).
Status CheckChakraFlags(const SimFlags& f) {
  if (f.chakra.empty()) return Status::Ok();
#ifndef RINGLAB_HAVE_CHAKRA
  return Status::InvalidArgument("--chakra: this build has no Chakra export (protobuf was not found when it was "
                                 "configured; scripts/setup_debian.sh installs it)");
#endif
  if (f.chakra == "-") return Status::InvalidArgument("--chakra takes a folder (one file per rank), not '-'");
  if (!f.trace_ranks.empty())
    return Status::InvalidArgument("--chakra writes a file for every rank; it cannot take --trace-ranks");
  if (f.common.world > 64)
    return Status::InvalidArgument("--chakra of all " + std::to_string(f.common.world) +
                                   " ranks is too large; --world at most 64");
  return Status::Ok();
}

#ifdef RINGLAB_HAVE_CHAKRA
// The file-name prefix of a config's Chakra files: DIR/ringlab[.<method>.<pass>].RANK.et.
std::string ChakraPrefix(const ScheduleConfig& c, bool several) {
  if (!several) return "ringlab";
  return "ringlab." + std::string(MethodName(c.method)) + "." + std::string(PassName(c.pass));
}

// Adds DIR/ringlab[.<method>.<pass>].RANK.et for every rank of every simulated config to the run's outputs.
Status AddChakraOutputs(const std::string& dir, const std::vector<std::unique_ptr<sim::SimResult>>& results,
                        OutputBatch* outputs) {
  // The batch removes the folder again if the run fails after this.
  if (Status st = outputs->CreateFolder(dir); !st.ok()) return Status::InvalidArgument("--chakra: " + st.message());
  for (const auto& res : results)
    RINGLAB_RETURN_IF_ERROR(AddChakraFiles(res->config, res->trace, dir,
                                           ChakraPrefix(res->config, results.size() > 1), outputs));
  return Status::Ok();
}

// `path` made absolute with its links resolved (as far as it exists), without a trailing slash: for comparing paths.
std::filesystem::path ResolvedPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  if (ec) p = std::filesystem::path(path).lexically_normal();
  return p.has_filename() ? p : p.parent_path();
}

// --chakra's folder, before the simulation (it is created only when the run ends): it must be creatable and
// writable, must not be (or lie inside) a file another flag writes, and its files must not be another output's.
Status CheckChakraOutputs(const std::string& dir, const std::vector<ScheduleConfig>& configs,
                          const std::vector<std::pair<std::string, std::string>>& others) {
  const std::filesystem::path folder = ResolvedPath(dir);
  for (const auto& [flag, path] : others) {
    if (IsSpecialOutput(path)) continue;
    const std::filesystem::path file = ResolvedPath(path);
    if (std::mismatch(file.begin(), file.end(), folder.begin(), folder.end()).first == file.end())
      return Status::InvalidArgument(flag + " " + path + " and --chakra " + dir + ": the file would be the folder " +
                                     "--chakra writes into (or a folder above it); each output needs its own path");
  }
  if (Status st = CheckOutputFolder(dir); !st.ok()) return Status::InvalidArgument("--chakra: " + st.message());
  for (const ScheduleConfig& cfg : configs)
    for (int r = 0; r < cfg.world; ++r)
      for (const auto& other : others)
        RINGLAB_RETURN_IF_ERROR(CheckDistinctOutputs(
            {other, {"--chakra", ChakraRankPath(dir, ChakraPrefix(cfg, configs.size() > 1), r)}}));
  return Status::Ok();
}
#endif

// Every file of the run, named from the flags before any simulation (the naming rule of core/output_file.h, so a
// suffixed trace name that is another output's file is found now, not after the summary was printed): each must be
// writable and each must have its own path; so must --chakra's folder and files.
Status CheckOutputs(const SimFlags& f, const std::vector<ScheduleConfig>& configs) {
  std::vector<std::pair<std::string, std::string>> files;  // {flag, path}
  if (!f.trace.empty())
    for (const ScheduleConfig& cfg : configs) files.push_back({"--trace", TracePath(f.trace, cfg, configs.size() > 1)});
  if (!f.json.empty()) files.push_back({"--json", f.json});
  for (const auto& file : files) RINGLAB_RETURN_IF_ERROR(CheckOutputPath(file.second));
  RINGLAB_RETURN_IF_ERROR(CheckDistinctOutputs(files));
  std::vector<std::pair<std::string, std::string>> inputs = MaskInputs(f.common.mask);
  inputs.emplace_back("--profile", sim::ProfilePath(f.profile));
  RINGLAB_RETURN_IF_ERROR(CheckOutputsAreNotInputs(files, inputs));
#ifdef RINGLAB_HAVE_CHAKRA
  if (!f.chakra.empty()) RINGLAB_RETURN_IF_ERROR(CheckChakraOutputs(f.chakra, configs, files));
#endif
  return Status::Ok();
}

// Every simulation of the run must fit in memory before the first starts.
Status CheckSimulationFits(const ScheduleConfig& cfg, int traced_ranks) {
  return CheckMemory("simulating W=" + std::to_string(cfg.world), SimulationBytes(cfg, traced_ranks),
                     "use a smaller --world (or fewer --trace-ranks)");
}

// Which engine ran (sim/README.md "Large W"): the symmetric run of P representatives or the general engine over every
// rank, and why, one line per run.
std::string EngineLine(const std::vector<std::unique_ptr<sim::SimResult>>& results) {
  std::string out;
  for (const auto& r : results) {
    const int w = r->config.world;
    std::string line = "engine: ";
    if (r->phased_period > 0) {
      line += "phased all-gather run (" + std::to_string(r->phased_period) + " of " + std::to_string(w) +
              " ranks simulated per collective, per-rank compute summed; exact)";
    } else if (r->range_period > 0) {
      line += "rank-range run (blocks of " + std::to_string(r->range_period) + " ranks, at most " +
              std::to_string(r->range_max_ranges) + " ranges of blocks in one state; exact)";
    } else if (r->symmetry_period < w) {
      line += "symmetric (" + std::to_string(r->symmetry_period) + " of " + std::to_string(w) + " ranks simulated)";
    } else {
      line += "general (all " + std::to_string(w) + " ranks; ";
      std::set<int> traced;
      for (const TraceEvent& e : r->trace.events) traced.insert(e.rank);
      line += r->symmetry_fallback          ? "the symmetric run met a case it cannot prove exact)"
              : int(traced.size()) == w     ? "every rank traced)"
              : r->distinct_programs > 1    ? std::to_string(r->distinct_programs) + " distinct rank programs)"
                                            : "no shift symmetry)";
      if (!r->range_fallback.empty()) line += "; rank-range run not used: " + r->range_fallback;
    }
    out += line + "\n";
  }
  return out;
}

// The summary's honesty lines: memory per GPU against the card, and the share of compute time extrapolated.
std::string CapacityAndExtrapolation(const std::vector<std::unique_ptr<sim::SimResult>>& results) {
  std::string out;
  char buf[160];
  double peak = 0, capacity = 0;
  sim::ExtrapolationTally tally;
  sim::TransferTally transfers;
  for (const auto& r : results) {
    peak = std::max(peak, double(r->summary.peak_memory_bytes) / (1 << 30));
    capacity = r->memory_capacity_gib;
    tally.Merge(r->extrapolation);
    transfers.Merge(r->transfers);
  }
  if (peak > capacity) {
    snprintf(buf, sizeof buf, "memory: %.0f GiB per GPU > %.0f GiB capacity (does not fit)\n", peak, capacity);
    out += buf;
  }
  return out + sim::ExtrapolationLine(tally) + "\n" + sim::TransferExtrapolationLine(transfers) + "\n" +
         EngineLine(results);
}

// Sweep: a single-value flag (--world, --seq, --method, --pass) sets its grid list unless the list flag is given
// too; then the two disagree and the message names the list flag.
Status ApplySingleValueFlags(const SweepFlags& f, SweepFlags* grid) {
  struct Pair {
    const char* single;
    const char* list;
    std::string value;
    std::string* dst;
  };
  const Pair pairs[] = {{"--world", "--worlds", std::to_string(f.common.world), &grid->worlds},
                        {"--seq", "--seqs", std::to_string(f.common.seq), &grid->seqs},
                        {"--method", "--methods", f.common.method == "both" ? "allgather,alltoall" : f.common.method,
                         &grid->methods},
                        {"--pass", "--passes", f.common.pass, &grid->passes}};
  for (const Pair& p : pairs) {
    if (!f.app || f.app->count(p.single) == 0) continue;
    if (f.app->count(p.list) > 0)
      return Status::InvalidArgument(std::string(p.single) + " and " + p.list + " both given: a sweep takes its " +
                                     "grid from " + p.list + " (e.g. " + p.list + " " + p.value + ")");
    *p.dst = p.value;
  }
  return Status::Ok();
}

}  // namespace

int RunSim(const SimFlags& f) {
  std::vector<ScheduleConfig> configs;
  Status st = MakeConfigs(f.common, &configs);
  if (!st.ok()) return ReportError(st);
  sim::HardwareProfile hw;
  st = LoadProfileFlag(f.profile, &hw);
  if (!st.ok()) return ReportError(st);
  sim::SimOptions opt;
  opt.strict = f.strict;
  opt.max_general_ops = f.force ? 0 : GeneralEngineOpCap();
  opt.general_cap_hint = "use a smaller --world or --seq, or --force to run it anyway (hours)";
  st = ParseTopology(f.nodes, f.gpus_per_node, f.placement, &opt.topology);
  if (!st.ok()) return ReportError(st);
  if (!(st = CheckChakraFlags(f)).ok()) return ReportError(st);
  if (!f.chakra.empty()) opt.trace = sim::TraceMode::kAll;
  if (!f.trace.empty()) {
    if (f.trace_ranks.empty()) {
      if (f.common.world > 64)
        return ReportError(Status::InvalidArgument("--trace of all " + std::to_string(f.common.world) +
                                     " ranks is too large; pass --trace-ranks (e.g. 0,1,2) to sample ranks"));
      opt.trace = sim::TraceMode::kAll;
    } else {
      opt.trace = sim::TraceMode::kRanks;
      if (!(st = ParseTraceRanks(f.trace_ranks, f.common.world, &opt.trace_ranks)).ok()) return ReportError(st);
    }
  } else if (!f.trace_ranks.empty()) {
    return ReportError(Status::InvalidArgument("--trace-ranks needs --trace FILE (the ranks to put in it)"));
  }
  if (!f.trace.empty() && configs.size() > 1)
    if (!(st = CheckSuffixable("--trace", f.trace, "one per method and pass")).ok()) return ReportError(st);
  if (f.trace == "-" && f.json == "-")
    return ReportError(Status::InvalidArgument("--trace - and --json -: only one output can go to stdout"));
  if (!(st = CheckOutputs(f, configs)).ok()) return ReportError(st);
  const int traced = f.trace.empty() && f.chakra.empty() ? 0
                     : opt.trace == sim::TraceMode::kAll ? f.common.world
                                                         : int(opt.trace_ranks.size());
  for (const ScheduleConfig& cfg : configs)
    if (!(st = CheckSimulationFits(cfg, traced)).ok()) return ReportError(st);
  std::vector<std::unique_ptr<sim::SimResult>> results;
  {
    Progress progress("sim", int64_t(configs.size()), "configurations");
    for (const ScheduleConfig& cfg : configs) {
      const double before = double(results.size());
      opt.progress = [&progress, before](int64_t done, int64_t total) {
        progress.Update(before + (total > 0 ? double(done) / double(total) : 0));
      };
      auto res = std::make_unique<sim::SimResult>();
      st = sim::Simulate(cfg, hw, opt, res.get());
      if (!st.ok()) return ReportError(st);
      results.push_back(std::move(res));
      progress.Update(int64_t(results.size()));
    }
    opt.progress = nullptr;  // it points at `progress`, which ends here
  }
  // Every output of the run is committed together at the end: all of them whole, or none.
  OutputBatch outputs;
  for (const auto& res : results) {
    if (f.trace.empty()) break;
    std::ostream* out = nullptr;
    if (!(st = outputs.Open(TracePath(f.trace, res->config, configs.size() > 1), &out)).ok()) return ReportError(st);
    WriteTraceJson(res->trace, *out);
  }
#ifdef RINGLAB_HAVE_CHAKRA
  if (!f.chakra.empty() && !(st = AddChakraOutputs(f.chakra, results, &outputs)).ok()) return ReportError(st);
#endif
  FILE* human = HumanText({f.trace, f.json});
  std::ostringstream table;
  // Table: one column per (method, pass), then per method the forward + backward total.
  const bool two_passes = f.common.pass == "both";
  std::vector<std::pair<std::string, RunSummary>> cols;
  for (const auto& r : results) {
    std::string name(MethodName(r->config.method));
    if (two_passes) name += r->config.pass == Pass::kForward ? " fwd" : " bwd";
    cols.emplace_back(name, r->summary);
  }
  table << Describe(configs.front().problem) << ", " << ShardingName(configs.front().sharding)
        << ", W=" << f.common.world << "\nprofile " << hw.name << " (" << hw.gpu << "), " << results.front()->topology
        << "\n\n"
        << FormatSummaries(cols);
  table << CapacityAndExtrapolation(results);
  nlohmann::json totals = nlohmann::json::object();
  if (two_passes) {
    char buf[64];
    snprintf(buf, sizeof buf, "%-26s", "fwd+bwd step time (ms)");
    table << buf;
    for (size_t i = 0; i + 1 < results.size(); i += 2) {
      const double total = sim::TotalStepUs({results[i].get(), results[i + 1].get()});
      snprintf(buf, sizeof buf, "%32.3f", total / 1e3);
      table << buf;
      totals[std::string(MethodName(results[i]->config.method))] = {{"step_time_us", total}};
    }
    table << "\n";
  }
  std::fputs(table.str().c_str(), human);
  std::fflush(human);
  if (!f.json.empty()) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& r : results) runs.push_back(sim::ToJson(*r, f.per_rank));
    nlohmann::json j{{"runs", runs}};
    if (two_passes) j["forward_plus_backward"] = totals;
    if (!(st = outputs.Add(f.json, j.dump(1) + "\n")).ok()) return ReportError(st);
  }
  if (!(st = outputs.Commit()).ok()) return ReportError(st);
  for (const auto& res : results)
    if (!f.trace.empty() && f.trace != "-")
      spdlog::info("wrote {} ({} events)", TracePath(f.trace, res->config, configs.size() > 1),
                   res->trace.events.size());
  if (!f.json.empty() && f.json != "-") spdlog::info("wrote {}", f.json);
  if (!f.chakra.empty())
    spdlog::info("wrote {} Chakra execution traces in {}", int64_t(results.size()) * f.common.world, f.chakra);
  return kExitOk;
}

int RunSweepCommand(const SweepFlags& flags) {
  SweepFlags f = flags;
  if (Status st = ApplySingleValueFlags(flags, &f); !st.ok()) return ReportError(st);
  sim::SweepSpec spec;
  spec.options.strict = f.strict;
  spec.options.max_general_ops = GeneralEngineOpCap();
  spec.options.general_cap_hint = "use smaller --worlds or --seqs";
  Status st = MakeSweepGrid(f.common, {f.worlds, f.seqs, f.methods, f.passes}, &spec);
  if (!st.ok()) return ReportError(st);
  const int64_t jobs = int64_t(spec.worlds.size()) * int64_t(spec.seqs.size()) * int64_t(spec.methods.size()) *
                       int64_t(spec.passes.size());
  if (!(st = ParseShard(f.shard, jobs, &spec.shard_index, &spec.shard_count)).ok()) return ReportError(st);
  // Every row is kept until the run ends (its config as JSON, strings, the CSV/JSON text): about 4 KiB each. A grid
  // of 3000 x 3000 took 7 GB before its first row and never answered.
  constexpr double kRowBytes = 4096;
  if (!(st = CheckMemory("a sweep of " + std::to_string((jobs + spec.shard_count - 1) / spec.shard_count) + " rows",
                         double(jobs) / spec.shard_count * kRowBytes,
                         "use fewer --worlds, --seqs, --methods or --passes, or split the grid with --shard i/n"))
           .ok())
    return ReportError(st);
  if (!(st = ParseTopology(kNotGiven, f.gpus_per_node, f.placement, &spec.options.topology)).ok())
    return ReportError(st);
  if (f.workers != kNotGiven && f.workers < 1)
    return ReportError(Status::InvalidArgument("--workers (-j) must be >= 1 (leave it out for every core), got " +
                                               std::to_string(f.workers)));
  spec.workers = f.workers != kNotGiven ? f.workers : std::max(1u, std::thread::hardware_concurrency());
  if (f.csv == "-" && f.json == "-")
    return ReportError(Status::InvalidArgument("--csv - and --json -: only one output can go to stdout"));
  if (!(st = CheckDistinctOutputs({{"--csv", f.csv}, {"--json", f.json}})).ok()) return ReportError(st);
  for (const std::string& path : {f.csv, f.json})
    if (!path.empty() && !(st = CheckOutputPath(path)).ok()) return ReportError(st);
  std::vector<std::pair<std::string, std::string>> inputs = MaskInputs(f.common.mask);
  inputs.emplace_back("--profile", sim::ProfilePath(f.profile));
  if (!(st = CheckOutputsAreNotInputs({{"--csv", f.csv}, {"--json", f.json}}, inputs)).ok()) return ReportError(st);
  for (int64_t w : spec.worlds) {
    ScheduleConfig cfg = spec.base;
    cfg.world = int(std::min<int64_t>(w, INT_MAX));
    if (!spec.seqs.empty()) cfg.problem.seq = *std::max_element(spec.seqs.begin(), spec.seqs.end());
    if (!(st = CheckMemory("simulating W=" + std::to_string(w) + " on " + std::to_string(spec.workers) + " workers",
                           SimulationBytes(cfg, 0) * spec.workers, "use smaller --worlds or fewer --workers"))
             .ok())
      return ReportError(st);
  }
  if (!(st = CheckThreads("the sweep's workers", spec.workers, "use fewer --workers")).ok()) return ReportError(st);
  sim::HardwareProfile hw;
  if (!(st = LoadProfileFlag(f.profile, &hw)).ok()) return ReportError(st);
  std::unique_ptr<Progress> progress;
  auto report = [&progress](int done, int total) {
    if (!progress) progress = std::make_unique<Progress>("sweep", total, "jobs");  // first call: under RunSweep's lock
    progress->Update(done);
  };
  std::vector<sim::SweepRow> rows;
  if (!(st = sim::RunSweep(spec, hw, report, &rows)).ok()) return ReportError(st);
  progress.reset();
  OutputBatch outputs;  // CSV and JSON: both whole, or neither
  if (!f.csv.empty() && !(st = outputs.Add(f.csv, sim::SweepCsv(rows))).ok()) return ReportError(st);
  if (!f.json.empty() && !(st = outputs.Add(f.json, sim::SweepJson(rows).dump(1) + "\n")).ok()) return ReportError(st);
  if (f.csv.empty() && f.json.empty() && !(st = outputs.Add("-", sim::SweepCsv(rows))).ok()) return ReportError(st);
  if (!(st = outputs.Commit()).ok()) return ReportError(st);
  for (const std::string& path : {f.csv, f.json})
    if (!path.empty() && path != "-") spdlog::info("wrote {} ({} rows)", path, rows.size());
  int failed = 0;
  for (const auto& r : rows) failed += !r.error.empty();
  int over = 0, extrapolated = 0;
  for (const auto& r : rows) over += r.over_capacity, extrapolated += r.extrapolated_share > 0;
  if (over) std::cerr << "ringlab sweep: " << over << " of " << rows.size() << " jobs need more memory per GPU than "
                      << "the card has (over_capacity column)\n";
  if (extrapolated)
    std::cerr << "ringlab sweep: " << extrapolated << " of " << rows.size() << " jobs are partly extrapolated beyond "
              << "the profile's measurements (extrapolated_share column; --strict makes them fail)\n";
  if (failed) {
    std::cerr << "ringlab sweep: " << failed << " of " << rows.size() << " jobs failed (see error column)\n";
    return kExitCheckFailed;
  }
  return kExitOk;
}

constexpr const char* kProfileHelp =
    "hardware profile: a bundled name or a path to a .json. h100_sxm_calibrated (default): our kernels and NCCL "
    "fitted to H100 measurements, validated on held-out real runs (bench/results/sim_validation.md); "
    "h100_pytorch_peer: PyTorch context parallel, fitted in-sample; h100_sxm: what-if with cuDNN-rate kernels; "
    "h200, a100_sxm, b200: assumptions, not validated";
constexpr const char* kStrictHelp =
    "fail (exit 2) when any op's cost leaves the profile's measured data (head dim without a table, block size or "
    "batch x heads outside the measured range, ...), naming the first such op";

std::shared_ptr<SimFlags> SetupSim(CLI::App* s) {
  auto sf = std::make_shared<SimFlags>();
  AddCommonOptions(s, &sf->common, /*placement_alias=*/false);
  s->add_option("--profile", sf->profile, kProfileHelp)->capture_default_str();
  // Ranges checked by ParseTopology (apps/sim_flags.h), which the Python package shares: one message for both.
  s->add_option("--nodes", sf->nodes, "nodes, >= 1 (default: as many as the world needs)");
  s->add_option("--gpus-per-node", sf->gpus_per_node, "GPUs per node, >= 1 (default: the profile's)");
  s->add_option("--placement", sf->placement, "rank to GPU: block | round-robin")->capture_default_str();
  s->add_option("--trace", sf->trace,
                "write the simulated trace (Chrome JSON, source sim; '-' for stdout); with "
                "several configs each gets .<method>.<pass> before the extension");
  s->add_option("--trace-ranks", sf->trace_ranks, "trace only these ranks, e.g. 0,1,4095 (needed above W=64)");
  s->add_option("--json", sf->json, "write the summaries as JSON ('-' for stdout)");
  s->add_option("--chakra", sf->chakra,
                "write Chakra execution traces for ASTRA-sim/SimAI into this folder: DIR/ringlab.RANK.et per rank "
                "(DIR/ringlab.<method>.<pass>.RANK.et with several configs); W <= 64");
  s->add_flag("--per-rank", sf->per_rank, "include per-rank metrics in the JSON");
  s->add_flag("--strict", sf->strict, kStrictHelp);
  s->add_flag("--force", sf->force,
              "run even when the general engine (traced ranks, or no exact fast path) would take over an hour");
  return sf;
}

std::shared_ptr<SweepFlags> SetupSweep(CLI::App* w) {
  auto wf = std::make_shared<SweepFlags>();
  AddCommonOptions(w, &wf->common, /*placement_alias=*/false);
  wf->app = w;
  w->add_option("--profile", wf->profile, kProfileHelp)->capture_default_str();
  w->add_flag("--strict", wf->strict, "a job with any extrapolated op fails (error column; exit 1)");
  w->add_option("--gpus-per-node", wf->gpus_per_node, "GPUs per node, >= 1 (default: the profile's)");
  w->add_option("--placement", wf->placement, "rank to GPU: block | round-robin")->capture_default_str();
  w->add_option("--worlds", wf->worlds, "world sizes, comma separated (--world W: just W)")->capture_default_str();
  w->add_option("--seqs", wf->seqs, "global sequence lengths, comma separated (--seq S: just S)")
      ->capture_default_str();
  w->add_option("--methods", wf->methods, "allgather,alltoall (--method M: just M)")->capture_default_str();
  w->add_option("--passes", wf->passes, "forward,backward,both (both = forward + backward summed; --pass P: just P)")
      ->capture_default_str();
  w->add_option("--workers,-j", wf->workers, "parallel workers, >= 1 (default: all cores)")
      ->check(IntegerIn(1, INT_MAX));
  w->add_option("--shard", wf->shard, "run shard i of n (jobs j with j mod n = i), e.g. 3/16")->capture_default_str();
  w->add_option("--csv", wf->csv, "write rows as CSV ('-' stdout; the default when neither --csv nor --json)");
  w->add_option("--json", wf->json, "write rows as JSON ('-' for stdout)");
  return wf;
}

}  // namespace ringlab::cli
