// `ringlab check`: run the CPU executor over the schedule and compare with the float64 reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/progress.h"
#include "apps/resource_limits.h"
#include "core/metrics.h"
#include "core/output_file.h"
#include "kernels/cpu/reference_check.h"

namespace ringlab::cli {

struct CheckOptions {
  CommonOptions common;
  std::string precision = "fp64";
  uint64_t seed = 1;
  std::string trace_path;
  double tolerance = 0;
  const CLI::Option* tolerance_flag = nullptr;  // given: it must be a positive finite number
  bool force = false;
};

namespace {

// Reference attention on S tokens costs about 4·B·H·S²·D FLOPs per pass in float64 on the CPU.
constexpr double kMaxCpuFlops = 2e11;
// Below this head dim the CPU's time goes per score pair (exp, max, the merge), not per FLOP: at equal FLOPs D = 7
// took 4.5x the time of D = 56 (33 s where D = 56 took 7 s), so small head dims count as this one.
constexpr int kMinCostHeadDim = 64;

// The CPU work of a check in FLOP-equivalents: the passes of every method's executor run (the reference is cheaper).
double CheckWork(const Problem& p, bool backward, size_t configs) {
  return 4.0 * p.batch * p.heads * double(p.seq) * double(p.seq) * std::max(p.head_dim, kMinCostHeadDim) *
         (backward ? 4.5 : 2) * double(configs);
}

// Memory of one check: the schedule, every rank's buffers in the executor's arithmetic, and the reference's float64
// tensors (Q, K, V, out, dOut, dQ, dK, dV, LSE, kept twice: inputs and results to compare).
double CheckBytes(const ScheduleConfig& cfg, bool backward, int element_bytes) {
  const Problem& p = cfg.problem;
  const double q = double(p.batch) * p.heads * double(p.seq) * p.head_dim;
  const double kv = double(p.batch) * p.kv_heads * double(p.seq) * p.head_dim;
  const double reference = 8.0 * 2 * (3 * q + 2 * kv + (backward ? q + 2 * kv : 0));
  double schedule = ScheduleBytes(cfg);
  const double world = cfg.world;
  if (schedule < 1e12) {  // rank 0's buffers, as the executor holds them, for every rank
    const RankSchedule r0 = BuildRankSchedule(cfg, 0);
    schedule += world * double(RankMemoryBytes(r0)) * element_bytes / DTypeBytes(p.dtype);
  }
  return (backward ? 2 : 1) * schedule + reference;
}

// The traces of every config, named by the one rule (core/output_file.h): a method suffix when there are several
// methods, ".backward" for the backward pass's trace.
Status CheckTracePaths(const CheckOptions& o, size_t configs, bool backward) {
  if (o.trace_path.empty()) return Status::Ok();
  if (configs * (backward ? 2 : 1) > 1)
    RINGLAB_RETURN_IF_ERROR(CheckSuffixable("--trace", o.trace_path, "a trace per method and pass"));
  RINGLAB_RETURN_IF_ERROR(CheckOutputPath(o.trace_path));
  // Every name the traces take (as RunCheck names them below), none of them a --mask file.
  std::vector<std::pair<std::string, std::string>> traces;
  for (std::string& path : MethodTracePaths(o.trace_path, configs > 1, backward)) traces.push_back({"--trace", path});
  return CheckOutputsAreNotInputs(traces, MaskInputs(o.common.mask));
}

}  // namespace

int RunCheck(const CheckOptions& o) {
  CommonOptions common = o.common;
  if (common.pass != "forward" && common.pass != "backward" && common.pass != "both")
    return ReportError(Status::InvalidArgument("--pass '" + common.pass + "' is not one of forward, backward, both"));
  const bool backward = common.pass != "forward";
  common.pass = "forward";  // the backward needs the forward's results: the check runs both
  std::vector<ScheduleConfig> configs;
  if (Status st = MakeConfigs(common, &configs); !st.ok()) return ReportError(st);
  cpu::Precision precision;
  if (o.precision == "fp64")
    precision = cpu::Precision::kFloat64;
  else if (o.precision == "fp32")
    precision = cpu::Precision::kFloat32;
  else
    return ReportError(Status::InvalidArgument("--precision '" + o.precision + "' is not one of fp64, fp32"));
  if (o.tolerance_flag->count() > 0 && !(std::isfinite(o.tolerance) && o.tolerance > 0 && o.tolerance < 1))
    return ReportError(Status::InvalidArgument("--tolerance must be a relative error in (0, 1), e.g. 1e-9; got " +
                                               o.tolerance_flag->as<std::string>()));
  const Problem& p = configs[0].problem;
  const double flops = CheckWork(p, backward, configs.size());
  if (flops > kMaxCpuFlops && !o.force)
    return ReportError(Status::InvalidArgument(
        "--seq " + std::to_string(p.seq) + " --batch " + std::to_string(p.batch) + " --heads " +
        std::to_string(p.heads) + " --dim " + std::to_string(p.head_dim) + " needs about " +
        std::to_string(std::llround(std::min(flops / 1e9, 1e18))) +
        " GFLOP on the CPU (head dims below 64 count as 64, each method runs once); use a smaller problem (e.g. "
        "--seq 1024 --heads 8) or pass --force"));
  const std::string hint = "use a smaller --world, --seq or --heads";
  if (Status st = CheckThreads("the CPU executor at W=" + std::to_string(configs[0].world) +
                                   " (a thread per rank and "
                                   "stream)",
                               int64_t(configs[0].world) * kStreamCount, "use a smaller --world");
      !st.ok())
    return ReportError(st);
  const int element_bytes = precision == cpu::Precision::kFloat64 ? 8 : 4;
  if (Status st = CheckMemory("the check", CheckBytes(configs[0], backward, element_bytes), hint); !st.ok())
    return ReportError(st);
  if (Status st = CheckTracePaths(o, configs.size(), backward); !st.ok()) return ReportError(st);
  FILE* out = HumanText({o.trace_path});
  OutputBatch traces;  // every trace of the run, committed together at the end
  std::vector<cpu::CheckReport> reports(configs.size());
  Progress progress("check", int64_t(configs.size()), "configurations");
  int worst = kExitOk;
  for (size_t i = 0; i < configs.size(); ++i) {
    const ScheduleConfig& cfg = configs[i];
    cpu::CheckReport& report = reports[i];
    auto share = [&progress, i](double fraction) { progress.Update(double(i) + fraction); };
    if (Status st = cpu::CheckAgainstReference(cfg, backward, precision, o.seed, &report, share); !st.ok())
      return ReportError(st);
    progress.Update(int64_t(i) + 1);
    const double tol = o.tolerance_flag->count() > 0 ? o.tolerance : report.tolerance;
    std::fprintf(out, "== check %s, CPU executor in %s against the float64 reference (seed %llu)\n",
                 Describe(cfg).c_str(), o.precision.c_str(), (unsigned long long)o.seed);
    std::fprintf(out, "  %-6s %14s %14s %10s\n", "tensor", "max abs err", "rel err", "status");
    bool pass = true;
    for (const auto& e : report.errors) {
      const bool ok = e.relative <= tol;
      pass &= ok;
      std::fprintf(out, "  %-6s %14.3e %14.3e %10s\n", e.name.c_str(), e.max_abs, e.relative, ok ? "ok" : "FAIL");
    }
    std::fprintf(out, "  tolerance on relative error: %.1e -> %s\n", tol, pass ? "PASS" : "FAIL");
    if (!pass) worst = kExitCheckFailed;
    if (o.trace_path.empty()) continue;
    const std::string path = configs.size() > 1
                                 ? OutputPathWithSuffix(o.trace_path, "." + std::string(MethodName(cfg.method)))
                                 : o.trace_path;
    std::ostream* f = nullptr;
    if (Status st = traces.Open(path, &f); !st.ok()) return ReportError(st);
    WriteTraceJson(report.forward_trace, *f);
    if (backward) {
      if (Status st = traces.Open(OutputPathWithSuffix(path, ".backward"), &f); !st.ok()) return ReportError(st);
      WriteTraceJson(report.backward_trace, *f);
    }
  }
  if (Status st = traces.Commit(); !st.ok()) return ReportError(st);
  const size_t files = configs.size() * (backward ? 2 : 1);
  if (!o.trace_path.empty() && o.trace_path != "-")
    spdlog::info("wrote {}{}", o.trace_path, files > 1 ? " (" + std::to_string(files) + " traces, suffixed)" : "");
  return worst;
}

std::shared_ptr<CheckOptions> SetupCheck(CLI::App* cmd) {
  auto opts = std::make_shared<CheckOptions>();
  // The default problem scaled down to what a CPU checks in seconds.
  opts->common.world = 4;
  opts->common.seq = 1024;
  opts->common.heads = 8;
  opts->common.kv_heads = 2;
  opts->common.dim = 64;
  opts->common.pass = "both";
  AddCommonOptions(cmd, &opts->common);
  cmd->add_option("--precision", opts->precision, "executor arithmetic: fp64 | fp32")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "random inputs seed")->capture_default_str()->check(IntegerIn(0, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--trace", opts->trace_path,
                  "write the executor's wall-clock trace (source: cpu) to FILE ('-' for stdout); with several "
                  "methods each gets .<method> before the extension, the backward pass's trace .backward");
  opts->tolerance_flag = cmd->add_option("--tolerance", opts->tolerance,
                                         "relative error tolerance in (0, 1) (default 1e-12 fp64, 1e-5 fp32)");
  cmd->add_flag("--force", opts->force, "run even if the reference would take long on this CPU");
  return opts;
}

}  // namespace ringlab::cli
