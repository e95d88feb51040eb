// `ringlab balance`: load balancing of packed documents without padding (core/mask_balance.h): per layout the
// max/mean attention work per rank, the largest shard and the estimated ring step, and the layout chosen by it.
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/sim_flags.h"
#include "core/mask_balance.h"
#include "core/mask_spec.h"
#include "core/output_file.h"
#include "sim/balance_model.h"
#include "sim/balance_sim.h"

namespace ringlab::cli {

struct BalanceOptions {
  std::string mask = "causal+docs-synthetic:lognormal";
  std::string worlds = "8,64,1024";
  int64_t seq = 1 << 20;
  int batch = 1, heads = 32, kv_heads = 8, dim = 128;
  double tflops = 0, link_gbps = 0;  // 0: from the profile
  std::string profile = "h100_sxm_calibrated";
  std::string json_path;
  int simulate_up_to = 1024;  // event-simulate the executable shardings at W up to this
};

namespace {

// The what-if rates (--tflops, --link-gbps): wide enough for any card, narrow enough that every step time stays finite
// and above zero.
constexpr double kWhatIfRateMin = 1e-3, kWhatIfRateMax = 1e6;

// The list parsers' rules (apps/common_options.h): no empty item, no value twice, whole numbers without leading
// zeros ("+4", " 4" and "04" passed strtol).
Status ParseWorlds(const std::string& text, std::vector<int>* worlds) {
  worlds->clear();
  RINGLAB_RETURN_IF_ERROR(CheckListText("--world", text));
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    int64_t w = 0;
    RINGLAB_RETURN_IF_ERROR(ParseWholeNumber("--world '" + text + "'", item, 1, 1 << 20, &w));
    worlds->push_back(int(w));
  }
  return Status::Ok();
}

// The executable shardings at `w`, event-simulated (sim/balance_sim.h): printed, and appended to `rows`.
Status PrintSimulatedShardings(const Problem& p, int w, const sim::HardwareProfile& hw, FILE* human,
                               nlohmann::json* rows) {
  std::vector<sim::ShardingStep> steps;
  int best = -1;
  spdlog::info("simulating W={} (contiguous, head-tail, balanced)...", w);
  RINGLAB_RETURN_IF_ERROR(sim::SimulateShardings(p, w, hw, Pass::kForward, &steps, &best));
  for (size_t i = 0; i < steps.size(); ++i) {
    const sim::ShardingStep& s = steps[i];
    const std::string name = std::string(ShardingName(s.sharding));
    if (!s.skipped.empty()) {
      std::fprintf(human, "%6d  %-14s not simulated: %s\n", w, ("sim " + name).c_str(), s.skipped.c_str());
      rows->push_back({{"world", w}, {"sharding", name}, {"simulated", false}, {"why_not", s.skipped}});
      continue;
    }
    std::fprintf(human, "%6d  %-14s %10.3f %12s %12s %10s %6s %10.1f%s  (%s engine, %.0f%% extrapolated)\n", w,
                 ("sim " + name).c_str(), s.imbalance, "", "", "", "", s.step_us,
                 int(i) == best ? "  <- fastest simulated" : "", s.engine.c_str(), 100 * s.extrapolated);
    rows->push_back({{"world", w}, {"sharding", name}, {"simulated", true}, {"imbalance", s.imbalance},
                     {"step_us", s.step_us}, {"engine", s.engine}, {"extrapolated_share", s.extrapolated},
                     {"chosen", int(i) == best}});
  }
  return Status::Ok();
}

}  // namespace

int RunBalance(const BalanceOptions& o) {
  std::vector<int> worlds;
  if (Status st = ParseWorlds(o.worlds, &worlds); !st.ok()) return ReportError(st);
  if (o.tflops < 0 || o.link_gbps < 0 || (o.tflops > 0) != (o.link_gbps > 0))
    return ReportError(Status::InvalidArgument(
        "--tflops and --link-gbps: give both (> 0) for the analytic what-if, or neither to use --profile"));
  const bool analytic = o.tflops > 0;
  std::vector<std::pair<std::string, std::string>> inputs = MaskInputs(o.mask);
  if (!analytic) inputs.emplace_back("--profile", sim::ProfilePath(o.profile));
  if (Status st = CheckOutputsAreNotInputs({{"--json", o.json_path}}, inputs); !st.ok()) return ReportError(st);
  Problem p{.batch = o.batch, .heads = o.heads, .kv_heads = o.kv_heads, .seq = o.seq, .head_dim = o.dim};
  if (Status st = ApplyMaskSpec(o.mask, &p); !st.ok()) return ReportError(st);
  if (Status st = ValidateProblem(p); !st.ok()) return ReportError(st);
  nlohmann::json rows = nlohmann::json::array(), simulated = nlohmann::json::array();
  FILE* human = HumanText({o.json_path});  // `--json -`: stdout carries the JSON alone
  std::fprintf(human, "%s, %lld documents; step costs: %s\n", Describe(p).c_str(),
               (long long)p.mask.DocumentCount(),
               analytic ? "analytic what-if (--tflops, --link-gbps)" : ("profile " + o.profile).c_str());
  std::fprintf(human, "%6s  %-14s %10s %12s %12s %10s %6s %10s\n", "W", "layout", "max/mean", "max tokens",
               "compute us", "hop us", "hops", "step us");
  auto hw = std::make_shared<sim::HardwareProfile>();
  if (!analytic)
    if (Status st = LoadProfileFlag(o.profile, hw.get()); !st.ok()) return ReportError(st);
  for (int w : worlds) {
    const StepModel model = analytic ? StepModel{.tflops = o.tflops, .link_gbps = o.link_gbps}
                                     : sim::ProfileStepModel(hw, p, w);
    std::vector<BalanceReport> reports;
    int best = 0;
    if (Status st = ChooseLayout(p, w, model, &reports, &best); !st.ok()) return ReportError(st);
    for (size_t i = 0; i < reports.size(); ++i) {
      const BalanceReport& r = reports[i];
      std::fprintf(human, "%6d  %-14s %10.3f %12lld %12.1f %10.2f %6d %10.1f%s\n", w,
                   std::string(BalanceLayoutName(r.layout)).c_str(), r.Imbalance(), (long long)r.max_tokens,
                   r.compute_us, r.hop_us, r.reach, r.step_us, int(i) == best ? "  <- chosen" : "");
      rows.push_back({{"world", w}, {"layout", BalanceLayoutName(r.layout)}, {"imbalance", r.Imbalance()},
                      {"max_work", r.max_work}, {"mean_work", r.mean_work}, {"max_tokens", r.max_tokens},
                      {"compute_us", r.compute_us}, {"hop_us", r.hop_us}, {"reach", r.reach}, {"step_us", r.step_us},
                      {"chosen", int(i) == best}});
    }
    if (analytic) continue;
    if (w > o.simulate_up_to) {
      std::fprintf(human, "%6d  shardings not simulated above --simulate-up-to %d\n", w, o.simulate_up_to);
      continue;
    }
    if (Status st = PrintSimulatedShardings(p, w, *hw, human, &simulated); !st.ok()) return ReportError(st);
  }
  if (o.json_path.empty()) return 0;
  nlohmann::json doc{{"problem", Describe(p)}, {"mask", o.mask}, {"documents", p.mask.DocumentCount()},
                     {"step_costs", analytic ? nlohmann::json{{"tflops", o.tflops}, {"link_gbps", o.link_gbps}}
                                             : nlohmann::json{{"profile", o.profile}}},
                     {"rows", rows}, {"simulated_shardings", simulated}};
  OutputBatch batch;
  if (Status st = batch.Add(o.json_path, doc.dump(1) + "\n"); !st.ok()) return ReportError(st);
  if (Status st = batch.Commit(); !st.ok()) return ReportError(st);
  if (o.json_path != "-") std::fprintf(stderr, "wrote %s\n", o.json_path.c_str());
  return 0;
}

std::shared_ptr<BalanceOptions> SetupBalance(CLI::App* cmd) {
  auto o = std::make_shared<BalanceOptions>();
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  cmd->add_option("--mask", o->mask, "mask with documents (core/mask_spec.h), e.g. causal+docs-synthetic:pretrain-mix")
      ->capture_default_str();
  cmd->add_option("--world,-w", o->worlds, "comma-separated world sizes")->capture_default_str();
  cmd->add_option("--seq,-s", o->seq, "global sequence length")
      ->capture_default_str()
      ->check(IntegerIn(1, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--batch,-b", o->batch, "batch size")->capture_default_str()->check(IntegerIn(1, kIntMax));
  cmd->add_option("--heads", o->heads, "query heads")->capture_default_str()->check(IntegerIn(1, kIntMax));
  cmd->add_option("--kv-heads", o->kv_heads, "key/value heads")->capture_default_str()->check(IntegerIn(1, kIntMax));
  cmd->add_option("--dim,-d", o->dim, "head dim")->capture_default_str()->check(IntegerIn(1, kIntMax));
  CLI::Option* profile =
      cmd->add_option("--profile", o->profile,
                      "hardware profile the step estimate takes its kernel and link costs from (sim/profiles)")
          ->capture_default_str();
  // A range, not just > 0: NaN passed the '> 0' test as not given (the profile was used), and a rate near 0 or
  // infinity gave infinite or zero step times (null in the JSON). With --profile one of the two was ignored.
  cmd->add_option("--tflops", o->tflops, "what-if instead of --profile: attention rate of the step estimate (with --link-gbps)")
      ->check(FiniteIn(kWhatIfRateMin, kWhatIfRateMax))
      ->excludes(profile);
  cmd->add_option("--link-gbps", o->link_gbps, "what-if instead of --profile: K/V hop bandwidth (GB/s, with --tflops)")
      ->check(FiniteIn(kWhatIfRateMin, kWhatIfRateMax))
      ->excludes(profile);
  cmd->add_option("--json", o->json_path, "write the rows as JSON to FILE ('-' for stdout)");
  cmd->add_option("--simulate-up-to", o->simulate_up_to,
                  "event-simulate the executable shardings (contiguous, head-tail, balanced; ring pass-KV forward) "
                  "at world sizes up to this (0: none)")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 20));
  cmd->footer(
      std::string("Examples:\n") +
      "  ringlab balance --seq 1048576 --world 8,64,1024 --mask causal+docs-synthetic:pretrain-mix\n"
      "  ringlab balance --seq 262144 --world 16 --mask causal+docs-synthetic:uniform+window:4096,0 --json rows.json\n"
      "  ringlab balance --world 64 --tflops 900 --link-gbps 100      (a what-if instead of the calibrated profile)\n"
      "Layouts: contiguous, head-tail, doc-head-tail (every document cut into 2W pieces), greedy (whole documents onto "
      "the least-loaded rank, a min-heap). The step estimate takes kernel and link costs from --profile (the "
      "simulator's cost model); the layout with the shortest estimated step is chosen. doc-head-tail and greedy give "
      "ranks different token counts, which no schedule runs; the shardings the executors run (--sharding "
      "contiguous | head-tail | balanced: 4 chunks per rank handed out by their work) are scheduled and "
      "event-simulated (rows 'sim ...', ring pass-KV forward on --profile) and the fastest is marked.\n\n" +
      cmd->get_footer());  // the exit codes, set by AddSubcommands
  return o;
}

}  // namespace ringlab::cli
