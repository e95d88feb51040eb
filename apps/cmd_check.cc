// `ringlab check`: run the CPU executor over the schedule and compare with the float64 reference.
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "kernels/cpu/reference_check.h"

namespace ringlab::cli {

struct CheckOptions {
  CommonOptions common;
  std::string precision = "fp64";
  uint64_t seed = 1;
  std::string trace_path;
  double tolerance = 0;
  bool force = false;
};

namespace {

// Reference attention on S tokens costs about 4·B·H·S²·D FLOPs per pass in float64 on the CPU.
constexpr double kMaxCpuFlops = 2e11;

}  // namespace

int RunCheck(const CheckOptions& o) {
  CommonOptions common = o.common;
  const bool backward = common.pass != "forward";
  if (common.pass == "backward") common.pass = "forward";  // the backward needs the forward's results: run both
  else common.pass = "forward";
  std::vector<ScheduleConfig> configs;
  if (Status st = MakeConfigs(common, &configs); !st.ok()) return ReportError(st);
  cpu::Precision precision;
  if (o.precision == "fp64") precision = cpu::Precision::kFloat64;
  else if (o.precision == "fp32") precision = cpu::Precision::kFloat32;
  else return ReportError(Status::InvalidArgument("--precision '" + o.precision + "' is not one of fp64, fp32"));
  const double flops = 4.0 * configs[0].problem.batch * configs[0].problem.heads * double(configs[0].problem.seq) *
                       double(configs[0].problem.seq) * configs[0].problem.head_dim * (backward ? 4.5 : 2);
  if (flops > kMaxCpuFlops && !o.force)
    return ReportError(Status::InvalidArgument(
        "--seq " + std::to_string(configs[0].problem.seq) + " needs about " + std::to_string(int(flops / 1e9)) +
        " GFLOP on the CPU; use a smaller problem (e.g. --seq 1024 --heads 8) or pass --force"));
  int worst = kExitOk;
  for (const ScheduleConfig& cfg : configs) {
    cpu::CheckReport report;
    if (Status st = cpu::CheckAgainstReference(cfg, backward, precision, o.seed, &report); !st.ok())
      return ReportError(st);
    const double tol = o.tolerance > 0 ? o.tolerance : report.tolerance;
    std::printf("== check %s, CPU executor in %s against the float64 reference (seed %llu)\n",
                Describe(cfg).c_str(), o.precision.c_str(), (unsigned long long)o.seed);
    std::printf("  %-6s %14s %14s %10s\n", "tensor", "max abs err", "rel err", "status");
    bool pass = true;
    for (const auto& e : report.errors) {
      const bool ok = e.relative <= tol;
      pass &= ok;
      std::printf("  %-6s %14.3e %14.3e %10s\n", e.name.c_str(), e.max_abs, e.relative, ok ? "ok" : "FAIL");
    }
    std::printf("  tolerance on relative error: %.1e -> %s\n", tol, pass ? "PASS" : "FAIL");
    if (!pass) worst = kExitCheckFailed;
    if (!o.trace_path.empty()) {
      std::string path = o.trace_path;
      if (configs.size() > 1) path.insert(path.rfind('.') == std::string::npos ? path.size() : path.rfind('.'),
                                          "." + std::string(MethodName(cfg.method)));
      if (Status st = AsRuntimeError(WriteTraceJson(report.forward_trace, path)); !st.ok()) return ReportError(st);
      std::printf("  wrote forward trace %s\n", path.c_str());
      if (backward) {
        std::string bpath = path;
        bpath.insert(bpath.rfind('.') == std::string::npos ? bpath.size() : bpath.rfind('.'), ".backward");
        if (Status st = AsRuntimeError(WriteTraceJson(report.backward_trace, bpath)); !st.ok())
          return ReportError(st);
        std::printf("  wrote backward trace %s\n", bpath.c_str());
      }
    }
  }
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
  cmd->add_option("--seed", opts->seed, "random inputs seed")->capture_default_str();
  cmd->add_option("--trace", opts->trace_path, "write the executor's wall-clock trace (source: cpu) to FILE");
  cmd->add_option("--tolerance", opts->tolerance, "relative error tolerance (default 1e-12 fp64, 1e-5 fp32)");
  cmd->add_flag("--force", opts->force, "run even if the reference would take long on this CPU");
  return opts;
}

}  // namespace ringlab::cli
