// `ringlab plan`: which context-parallel layout to use for one model's attention on one cluster. Simulates every
// valid (method, Ulysses × ring, placement, sharding) forward and backward and prints them ranked, with the reason the
// best wins (sim/plan.h).
//
//   ringlab plan --heads 64 --kv-heads 8 --dim 128 --seq 524288 --gpus-per-node 8 --nodes 8
#include <climits>
#include <limits>
#include <thread>
#include <iostream>
#include <memory>
#include <sstream>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/resource_limits.h"
#include "apps/sim_flags.h"
#include "core/output_file.h"
#include "sim/plan.h"
#include "sim/profile.h"

namespace ringlab::cli {

struct PlanOptions {
  int batch = 1, heads = 32, kv_heads = 8, dim = 128;
  int64_t seq = 131072;
  bool causal = true, exhaustive = false;
  int gpus_per_node = 8, nodes = 1, workers = 0;
  std::string profile = sim::kDefaultProfile, methods = "allgather,alltoall", shardings = "head-tail,contiguous";
  std::string dtype = "bf16", json;
  bool strict = false;
};

namespace {

Status ParseNames(const std::string& flag, const std::string& text, std::vector<std::string>* out) {
  RINGLAB_RETURN_IF_ERROR(CheckListText(flag, text));
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out->push_back(item);
  if (out->empty()) return Status::InvalidArgument(flag + " needs at least one value");
  return Status::Ok();
}

Status MakeSpec(const PlanOptions& o, sim::PlanSpec* spec) {
  auto dtype = ParseDType(o.dtype);
  if (!dtype) return Status::InvalidArgument("--dtype '" + o.dtype + "' is not one of bf16, fp16, fp32, fp64");
  spec->problem = Problem{.batch = o.batch, .heads = o.heads, .kv_heads = o.kv_heads, .seq = o.seq,
                          .head_dim = o.dim, .dtype = *dtype, .causal = o.causal};
  spec->gpus_per_node = o.gpus_per_node;
  spec->nodes = o.nodes;
  spec->workers = o.workers;
  spec->exhaustive = o.exhaustive;
  spec->strict = o.strict;
  std::vector<std::string> names;
  RINGLAB_RETURN_IF_ERROR(ParseNames("--methods", o.methods, &names));
  spec->methods.clear();
  for (const std::string& n : names) {
    auto m = ParseMethod(n);
    if (!m) return Status::InvalidArgument("--methods: '" + n + "' is not one of allgather, alltoall");
    spec->methods.push_back(*m);
  }
  names.clear();
  RINGLAB_RETURN_IF_ERROR(ParseNames("--shardings", o.shardings, &names));
  spec->shardings.clear();
  for (const std::string& n : names) {
    auto s = ParseSharding(n);
    if (!s) return Status::InvalidArgument("--shardings: '" + n + "' is not one of " + kShardingChoices);
    spec->shardings.push_back(*s);
  }
  if (int64_t(o.gpus_per_node) * o.nodes > INT_MAX)
    return Status::InvalidArgument("--gpus-per-node " + std::to_string(o.gpus_per_node) + " × --nodes " +
                                   std::to_string(o.nodes) + " GPUs: the world must be at most " +
                                   std::to_string(INT_MAX));
  return Status::Ok();
}

// The largest candidate (a plain ring over every GPU, contiguous: one program per rank) must fit in memory on each
// worker, and the workers must be startable, before any simulation starts.
Status CheckPlanFits(const sim::PlanSpec& spec) {
  ScheduleConfig ring{.problem = spec.problem, .world = spec.gpus_per_node * spec.nodes};
  const int workers = spec.workers > 0 ? spec.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  RINGLAB_RETURN_IF_ERROR(CheckMemory("planning W=" + std::to_string(ring.world) + " on " + std::to_string(workers) +
                                          " workers",
                                      SimulationBytes(ring, 0) * workers,
                                      "use fewer GPUs (--gpus-per-node x --nodes) or --workers"));
  return CheckThreads("the plan's workers", workers, "use fewer --workers");
}

}  // namespace

std::shared_ptr<PlanOptions> SetupPlan(CLI::App* cmd) {
  auto o = std::make_shared<PlanOptions>();
  const CLI::Validator positive = IntegerIn(1, INT_MAX);
  cmd->add_option("--heads", o->heads, "query heads")->capture_default_str()->check(positive);
  cmd->add_option("--kv-heads", o->kv_heads, "key/value heads (GQA)")->capture_default_str()->check(positive);
  cmd->add_option("--dim,-d", o->dim, "head dim")->capture_default_str()->check(positive);
  cmd->add_option("--seq,-s", o->seq, "global sequence length in tokens")
      ->capture_default_str()
      ->check(IntegerIn(1, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--batch,-b", o->batch, "batch size")->capture_default_str()->check(positive);
  cmd->add_flag("--causal,!--no-causal", o->causal, "causal mask (default) or full attention")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "element type: bf16 | fp16 | fp32 | fp64")->capture_default_str();
  cmd->add_option("--gpus-per-node", o->gpus_per_node, "GPUs per node")->capture_default_str()->check(positive);
  cmd->add_option("--nodes", o->nodes, "nodes (the world is gpus-per-node × nodes)")
      ->capture_default_str()
      ->check(positive);
  cmd->add_option("--profile", o->profile, "hardware profile: a bundled name or a path to a .json")
      ->capture_default_str();
  cmd->add_option("--methods", o->methods, "methods across the ring dimension: allgather,alltoall")
      ->capture_default_str();
  cmd->add_option("--shardings", o->shardings, "ring shardings to try: head-tail,contiguous")->capture_default_str();
  cmd->add_option("--workers", o->workers, "simulation threads (0: one per core)")
      ->capture_default_str()
      ->check(IntegerIn(0, INT_MAX));
  cmd->add_flag("--exhaustive", o->exhaustive,
                "simulate every layout, also those whose compute alone is slower than a simulated one (slower)");
  cmd->add_flag("--strict", o->strict,
                "a layout with any op or transfer cost outside the profile's measured data fails (its row names the "
                "first; exit 1)");
  cmd->add_option("--json", o->json, "also write the ranked rows as JSON to FILE ('-': stdout, instead of the table)");
  cmd->footer(
      std::string("Examples:\n") +
      "  ringlab plan --heads 32 --kv-heads 8 --seq 131072 --nodes 1 --profile h100_sxm_calibrated\n"
      "  ringlab plan --heads 128 --kv-heads 8 --seq 1048576 --nodes 128 --json plan.json\n"
      "  ringlab plan --heads 64 --kv-heads 8 --seq 524288 --nodes 8 --shardings head-tail --json - | jq .rows[0]\n"
      "Every valid layout W = U × R is simulated forward and backward (Ulysses degree U dividing the heads, "
      "placement consecutive = Ulysses inside a node, strided = ring inside a node). Rows are ranked by forward + "
      "backward step time; over-capacity memory ranks last. Layouts whose compute alone (a lower bound of their step) "
      "exceeds a simulated layout's step are listed as pruned with that bound unless --exhaustive.\n\n" +
      cmd->get_footer());  // the exit codes, set by AddSubcommands
  return o;
}

int RunPlan(const PlanOptions& o) {
  sim::PlanSpec spec;
  if (Status st = MakeSpec(o, &spec); !st.ok()) return ReportError(st);
  if (!o.json.empty())
    if (Status st = CheckOutputPath(o.json); !st.ok()) return ReportError(st);
  if (Status st = CheckOutputsAreNotInputs({{"--json", o.json}}, {{"--profile", sim::ProfilePath(o.profile)}});
      !st.ok())
    return ReportError(st);
  sim::HardwareProfile hw;
  if (Status st = LoadProfileFlag(o.profile, &hw); !st.ok()) return ReportError(st);
  if (Status st = CheckPlanFits(spec); !st.ok()) return ReportError(st);
  sim::PlanResult plan;
  if (Status st = sim::RunPlan(spec, hw, &plan); !st.ok()) return ReportError(st);
  if (o.json != "-") std::cout << sim::PlanTable(plan) << std::flush;
  if (!o.json.empty()) {
    if (Status st = WriteOutputFile(o.json, sim::PlanJson(plan).dump(1) + "\n"); !st.ok()) return ReportError(st);
    if (o.json != "-") spdlog::info("wrote {}", o.json);
  }
  if (o.strict) {
    int failed = 0;
    for (const sim::PlanRow& r : plan.rows) failed += !r.error.empty();
    if (failed > 0) {
      std::cerr << "ringlab plan: " << failed << " of " << plan.rows.size()
                << " layouts failed (--strict: extrapolated beyond the profile's measurements; see their errors)\n";
      return kExitCheckFailed;
    }
  }
  return kExitOk;
}

}  // namespace ringlab::cli
