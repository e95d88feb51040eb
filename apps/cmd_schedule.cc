// `ringlab schedule`: generate, validate and print (or write as JSON) the schedule of a configuration.
#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/resource_limits.h"
#include "core/config_json.h"
#include "core/metrics.h"
#include "core/output_file.h"
#include "core/schedule_validator.h"

namespace ringlab::cli {

struct ScheduleOptions {
  CommonOptions common;
  std::string json_path;
  int show_ranks = 2;
  bool validate = true;
};

namespace {

std::string BlockText(const Op& op) {
  if (op.kind != OpKind::kAttend && op.kind != OpKind::kMerge) return "";
  const AttendBlock& b = op.attend;
  char buf[128];
  snprintf(buf, sizeof buf, "q[%lld,%lld) x kv%d[%lld,%lld) %s", (long long)b.q_begin, (long long)b.q_end, b.kv_origin,
           (long long)b.kv_begin, (long long)b.kv_end, b.masked ? "masked" : b.causal ? "causal" : "full");
  return buf;
}

void PrintRank(FILE* out, const Schedule& s, int r) {
  const RankSchedule& rs = s.ranks[r];
  std::fprintf(out, "rank %d: %zu ops, %.2f MiB of buffers\n", r, rs.ops.size(), RankMemoryBytes(rs) / 1048576.0);
  std::fprintf(out, "  %4s %-7s %-14s %4s %4s  %-38s %10s %10s  %s\n", "op", "stream", "kind", "step", "peer", "block",
               "MiB", "GFLOP", "deps");
  for (const Op& op : rs.ops) {
    std::string deps;
    for (int32_t d : op.deps) deps += (deps.empty() ? "" : ",") + std::to_string(d);
    std::fprintf(out, "  %4d %-7s %-14s %4d %4s  %-38s %10.3f %10.3f  %s\n", op.id,
                 std::string(StreamName(op.stream)).c_str(), std::string(OpKindName(op.kind)).c_str(), op.step,
                 op.peer >= 0 ? std::to_string(op.peer).c_str() : "-", BlockText(op).c_str(), op.bytes / 1048576.0,
                 op.flops / 1e9, deps.c_str());
  }
}

// The schedule (and its JSON tree, about this many bytes per op) must fit before it is built.
constexpr double kJsonBytesPerOp = 1500;

Status CheckScheduleFits(const ScheduleConfig& cfg, bool json) {
  int64_t ops = 0;
  double bytes = ScheduleBytes(cfg, &ops);
  if (json) bytes += double(ops) * kJsonBytesPerOp;
  spdlog::debug("{}: {} ops, about {} with{} its JSON", Describe(cfg), ops, FormatBytes(bytes), json ? "" : "out");
  return CheckMemory("the schedule of W=" + std::to_string(cfg.world) + " (" + std::to_string(ops) + " ops" +
                         (json ? ", with its JSON" : "") + ")",
                     bytes, "use a smaller --world");
}

}  // namespace

int RunSchedule(const ScheduleOptions& o) {
  std::vector<ScheduleConfig> configs;
  if (Status st = MakeConfigs(o.common, &configs); !st.ok()) return ReportError(st);
  if (o.show_ranks < 0)
    return ReportError(Status::InvalidArgument("--ranks must be >= 0, got " + std::to_string(o.show_ranks)));
  const bool json = !o.json_path.empty();
  if (json)
    if (Status st = CheckOutputPath(o.json_path); !st.ok()) return ReportError(st);
  if (Status st = CheckOutputsAreNotInputs({{"--json", o.json_path}}, MaskInputs(o.common.mask)); !st.ok())
    return ReportError(st);
  for (const ScheduleConfig& cfg : configs)
    if (Status st = CheckScheduleFits(cfg, json); !st.ok()) return ReportError(st);
  FILE* out = HumanText({o.json_path});
  nlohmann::json all = nlohmann::json::array();
  for (const ScheduleConfig& cfg : configs) {
    const auto t0 = std::chrono::steady_clock::now();
    Schedule s;
    if (Status st = BuildSchedule(cfg, &s); !st.ok()) return ReportError(st);
    const double gen_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(out, "== %s\n", Describe(cfg).c_str());
    std::fprintf(out, "generated %lld ops over %d ranks in %.1f ms; peak buffers per GPU %.2f GiB\n",
                 (long long)s.OpCount(), cfg.world, gen_ms, PeakMemoryBytes(s) / double(1 << 30));
    if (o.validate) {
      const auto t1 = std::chrono::steady_clock::now();
      Status st = ValidateSchedule(s);
      const double val_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
      if (!st.ok()) {
        std::fprintf(stderr, "ringlab: %s\n", st.message().c_str());
        return kExitCheckFailed;
      }
      std::fprintf(out, "all invariants hold (validated in %.1f ms)\n", val_ms);
    }
    if (!json)
      for (int r = 0; r < std::min(o.show_ranks, cfg.world); ++r) PrintRank(out, s, r);
    else
      all.push_back(ToJson(s));
    if (!json && o.show_ranks < cfg.world)
      std::fprintf(out, "(%d more ranks not shown; --ranks N shows more, --json FILE writes all)\n",
                   cfg.world - o.show_ranks);
  }
  if (json) {
    if (Status st = WriteOutputFile(o.json_path, (all.size() == 1 ? all[0] : all).dump(1) + "\n"); !st.ok())
      return ReportError(st);
    if (o.json_path != "-") spdlog::info("wrote {}", o.json_path);
  }
  return kExitOk;
}

std::shared_ptr<ScheduleOptions> SetupSchedule(CLI::App* cmd) {
  auto opts = std::make_shared<ScheduleOptions>();
  AddCommonOptions(cmd, &opts->common);
  cmd->add_option("--json", opts->json_path,
                  "write the whole schedule (every rank, every op) as JSON to FILE ('-' for stdout); several "
                  "configs (--method/--pass both) give one JSON array");
  cmd->add_option("--ranks", opts->show_ranks, "how many ranks to print as tables")->capture_default_str();
  cmd->add_flag("!--no-validate", opts->validate, "skip the invariant checks (for timing generation alone)");
  return opts;
}

}  // namespace ringlab::cli
