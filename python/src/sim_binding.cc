// ringlab.simulate, sweep, plan, load_profile and the trace summary: the simulator (sim/) and core's metrics from
// Python. Results cross as the CLI's JSON text (the package parses it), traces as numpy columns. The GIL is released
// while the simulator runs.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "apps/sim_flags.h"
#include "core/config_json.h"
#include "core/metrics.h"
#include "core/trace.h"
#include "python/src/binding.h"
#include "sim/plan.h"
#include "sim/profile.h"
#include "sim/simulate.h"
#include "sim/sweep.h"

namespace ringlab::python {
namespace {

int OrNotGiven(std::optional<int> v) { return v ? *v : cli::kNotGiven; }

sim::HardwareProfile LoadHardware(const std::string& profile) {
  sim::HardwareProfile hw;
  ThrowIfError(sim::LoadProfile(profile, &hw));
  return hw;
}

// The trace's ringlab metadata block as a trace file carries it (core/trace.h).
nlohmann::json TraceMetaJson(const TraceMeta& m) {
  nlohmann::json j = ToJson(m.config);
  j["version"] = m.version, j["source"] = m.source, j["hardware"] = m.hardware;
  j["schedule_op_count"] = m.schedule_op_count;
  return j;
}

nb::dict TraceColumns(const Trace& t) {
  std::vector<int32_t> rank, stream, op, step, peer;
  std::vector<uint8_t> kind;
  std::vector<double> ts, dur, flops;
  std::vector<int64_t> bytes;
  for (const TraceEvent& e : t.events) {
    rank.push_back(e.rank), stream.push_back(e.stream), op.push_back(e.op), step.push_back(e.step);
    peer.push_back(e.peer), kind.push_back(uint8_t(e.kind)), ts.push_back(e.ts_us), dur.push_back(e.dur_us);
    flops.push_back(e.flops), bytes.push_back(e.bytes);
  }
  nb::dict d;
  d["rank"] = NumpyColumn(std::move(rank)), d["stream"] = NumpyColumn(std::move(stream));
  d["op"] = NumpyColumn(std::move(op)), d["kind"] = NumpyColumn(std::move(kind));
  d["step"] = NumpyColumn(std::move(step)), d["peer"] = NumpyColumn(std::move(peer));
  d["ts_us"] = NumpyColumn(std::move(ts)), d["dur_us"] = NumpyColumn(std::move(dur));
  d["bytes"] = NumpyColumn(std::move(bytes)), d["flops"] = NumpyColumn(std::move(flops));
  d["meta"] = TraceMetaJson(t.meta).dump();
  return d;
}

// Like `ringlab sim --json -`: {"runs": [...]} plus "forward_plus_backward" when both passes ran; and the traces.
std::pair<std::string, std::vector<nb::dict>> Simulate(const std::vector<ScheduleConfig>& configs,
                                                        const std::string& profile, std::optional<int> nodes,
                                                        std::optional<int> gpus_per_node, const std::string& placement,
                                                        std::optional<std::vector<int>> trace_ranks, bool strict,
                                                        bool per_rank) {
  if (configs.empty()) ThrowIfError(Status::InvalidArgument("simulate: no configuration given"));
  sim::SimOptions opt;
  opt.strict = strict;
  ThrowIfError(cli::ParseTopology(OrNotGiven(nodes), OrNotGiven(gpus_per_node), placement, &opt.topology));
  const int world = configs.front().world;
  if (trace_ranks) {
    opt.trace = trace_ranks->empty() ? sim::TraceMode::kAll : sim::TraceMode::kRanks;
    if (trace_ranks->empty() && world > 64)
      ThrowIfError(Status::InvalidArgument("--trace of all " + std::to_string(world) +
                                           " ranks is too large; pass --trace-ranks (e.g. 0,1,2) to sample ranks"));
    for (int r : *trace_ranks)
      if (r < 0 || r >= world)
        ThrowIfError(Status::InvalidArgument("--trace-ranks: '" + std::to_string(r) + "' is not a rank in 0.." +
                                             std::to_string(world - 1)));
    opt.trace_ranks = *trace_ranks;
  }
  std::vector<sim::SimResult> results(configs.size());
  nlohmann::json j;
  {
    nb::gil_scoped_release release;
    const sim::HardwareProfile hw = LoadHardware(profile);
    for (size_t i = 0; i < configs.size(); ++i) ThrowIfError(sim::Simulate(configs[i], hw, opt, &results[i]));
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& r : results) runs.push_back(sim::ToJson(r, per_rank));
    j["runs"] = runs;
    const bool two_passes = configs.size() % 2 == 0 && configs.size() > 1 &&
                            configs[0].pass == Pass::kForward && configs[1].pass == Pass::kBackward;
    if (two_passes) {
      nlohmann::json totals = nlohmann::json::object();
      for (size_t i = 0; i + 1 < results.size(); i += 2)
        totals[std::string(MethodName(results[i].config.method))] = {
            {"step_time_us", sim::TotalStepUs({&results[i], &results[i + 1]})}};
      j["forward_plus_backward"] = totals;
    }
  }
  std::vector<nb::dict> traces;
  if (trace_ranks)
    for (const auto& r : results) traces.push_back(TraceColumns(r.trace));
  return {j.dump(), std::move(traces)};
}

// Like `ringlab sweep --json -`: the rows as JSON text.
std::string Sweep(const std::vector<std::string>& flags, const std::string& worlds, const std::string& seqs,
                  const std::string& methods, const std::string& passes, const std::string& profile,
                  std::optional<int> gpus_per_node, const std::string& placement, bool strict, int workers) {
  sim::SweepSpec spec;
  spec.options.strict = strict;
  ThrowIfError(cli::MakeSweepGrid(ParseCommonFlags(flags), {worlds, seqs, methods, passes}, &spec));
  ThrowIfError(cli::ParseTopology(cli::kNotGiven, OrNotGiven(gpus_per_node), placement, &spec.options.topology));
  if (workers < 1)
    ThrowIfError(Status::InvalidArgument("--workers (-j) must be >= 1 (leave it out for every core), got " +
                                         std::to_string(workers)));
  spec.workers = workers;
  nb::gil_scoped_release release;
  const sim::HardwareProfile hw = LoadHardware(profile);
  std::vector<sim::SweepRow> rows;
  ThrowIfError(sim::RunSweep(spec, hw, nullptr, &rows));
  return sim::SweepJson(rows).dump();
}

// Like `ringlab plan --json -`. The problem's flags go through the CLI's table as for Config.
std::string Plan(const std::vector<std::string>& flags, int gpus_per_node, int nodes, const std::string& profile,
                 const std::vector<std::string>& methods, const std::vector<std::string>& shardings, int workers) {
  std::vector<ScheduleConfig> configs;
  cli::CommonOptions common = ParseCommonFlags(flags);
  common.world = 1;  // the plan chooses the layout; validate the problem alone
  common.seq = 2;
  ThrowIfError(cli::MakeConfigs(common, &configs));
  sim::PlanSpec spec;
  spec.problem = configs.front().problem;
  spec.problem.seq = ParseCommonFlags(flags).seq;
  if (gpus_per_node < 1 || nodes < 1)
    ThrowIfError(Status::InvalidArgument("--gpus-per-node and --nodes must be positive"));
  spec.gpus_per_node = gpus_per_node, spec.nodes = nodes, spec.workers = workers;
  spec.methods.clear(), spec.shardings.clear();
  for (const std::string& n : methods) {
    auto m = ParseMethod(n);
    if (!m) ThrowIfError(Status::InvalidArgument("--methods: '" + n + "' is not one of allgather, alltoall"));
    spec.methods.push_back(*m);
  }
  for (const std::string& n : shardings) {
    auto s = ParseSharding(n);
    if (!s) ThrowIfError(Status::InvalidArgument("--shardings: '" + n + "' is not one of " + kShardingChoices));
    spec.shardings.push_back(*s);
  }
  nb::gil_scoped_release release;
  const sim::HardwareProfile hw = LoadHardware(profile);
  sim::PlanResult plan;
  ThrowIfError(sim::RunPlan(spec, hw, &plan));
  return sim::PlanJson(plan).dump();
}

// The profile's file (validated by the simulator's parser) and its path. The text is the one the parser read: the
// file was read a second time with an ifstream, which waited for ever on a fifo already drained by the first read.
// The GIL is released while it reads: a fifo's writer may be a Python thread.
std::pair<std::string, std::string> ProfileFile(const std::string& name_or_path) {
  nb::gil_scoped_release release;
  sim::HardwareProfile hw;
  std::string text;
  ThrowIfError(sim::LoadProfile(name_or_path, &hw, &text));
  return {sim::ProfilePath(name_or_path), std::move(text)};
}

// core's RunSummary of a ringlab trace file (the numbers `ringlab sim` and `run` print), as JSON text.
std::string SummarizeTraceFile(const std::string& path, double peak_tflops) {
  nb::gil_scoped_release release;
  Trace t;
  ThrowIfError(ReadTraceJson(path, &t));
  return ToJson(Summarize(t, peak_tflops)).dump();
}

}  // namespace

void BindSim(nb::module_& m) {
  m.def("simulate", &Simulate, nb::arg("configs"), nb::arg("profile"), nb::arg("nodes").none(),
        nb::arg("gpus_per_node").none(), nb::arg("placement"), nb::arg("trace_ranks").none(), nb::arg("strict"),
        nb::arg("per_rank"),
        "Simulates each config on the profile. Returns (the JSON text of `ringlab sim --json -`, one trace per "
        "config as columns when trace_ranks is not None; [] traces every rank). Releases the GIL.");
  m.def("sweep", &Sweep, nb::arg("flags"), nb::arg("worlds"), nb::arg("seqs"), nb::arg("methods"), nb::arg("passes"),
        nb::arg("profile"), nb::arg("gpus_per_node").none(), nb::arg("placement"), nb::arg("strict"),
        nb::arg("workers"),
        "Runs `ringlab sweep` (grid lists as comma-separated text, as the CLI takes them) and returns its JSON rows "
        "as text. Releases the GIL; `workers` threads simulate in parallel.");
  m.def("plan", &Plan, nb::arg("flags"), nb::arg("gpus_per_node"), nb::arg("nodes"), nb::arg("profile"),
        nb::arg("methods"), nb::arg("shardings"), nb::arg("workers"),
        "Runs `ringlab plan` for the problem in `flags` and returns its JSON (ranked rows) as text. Releases the GIL.");
  m.def("profile_file", &ProfileFile, nb::arg("name_or_path"),
        "Validates a hardware profile with the simulator's parser and returns (its path, its JSON text). Releases "
        "the GIL.");
  m.def("summarize_trace_file", &SummarizeTraceFile, nb::arg("path"), nb::arg("peak_tflops") = 0.0,
        "core's run summary (step time, per-rank compute/comm/both/idle, overlap) of a ringlab trace file, as JSON "
        "text.");
  m.def("default_profile", [] { return std::string(sim::kDefaultProfile); }, "The profile `ringlab sim` uses.");
}

}  // namespace ringlab::python
