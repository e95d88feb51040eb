#include "apps/resource_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/metrics.h"
#include "core/trace.h"

namespace ringlab::cli {
namespace {

// The simulator's memory, a lower bound that follows what it stores (sim/README.md "Large W"): O(W) per-rank state
// (the engine's rank record, totals, the program table's entry, the summary's metrics: about 1 KiB measured, counted
// as 2 KiB), a few whole compiled rank programs (the sampled checks and the splice sources), and per traced rank its
// schedule and one trace event per op. Ulysses runs (ulysses > 1) compile every rank whole: 16 bytes per rank and
// ring step on top (a quarter of a SimOp per op, so that a run that fits is never refused; one that still runs out is
// caught as std::bad_alloc, exit 3).
constexpr double kSimBytesPerRank = 2048;
constexpr double kSimWholePrograms = 24;  // 16 sampled ranks + the splice sources, compiled whole
constexpr double kSimOpBytes = 96;  // sizeof(sim::SimOp) is about 104 (this library does not link the simulator)
constexpr double kSimBytesPerRankStep = 16;
// The general engine's speed on the 2-core development machine under load (bench/results/sim_general_engine.md):
// about 5 M ops per CPU-second; GeneralEngineOpCap allows about an hour of it.
constexpr double kGeneralOpsPerSecond = 5e6;
constexpr double kGeneralSecondsCap = 3600;
// Stack reserved per thread when RLIMIT_STACK is unlimited (glibc's default for new threads is RLIMIT_STACK).
constexpr double kDefaultThreadStack = 8 << 20;

// The number of a "Key:   123 kB" line of a /proc file; -1 when absent.
double ProcField(const char* file, const std::string& key) {
  std::ifstream f(file);
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream in(line.substr(key.size() + 1));
      double x = -1;
      in >> x;
      return x;
    }
  return -1;
}

double ProcKiloBytes(const char* file, const std::string& key) {
  const double kb = ProcField(file, key);
  return kb < 0 ? -1 : kb * 1024;
}

double ReadNumber(const char* file) {
  std::ifstream f(file);
  double x = -1;
  if (!(f >> x)) return -1;
  return x;
}

double ThreadStackBytes() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) return double(rl.rlim_cur);
  return kDefaultThreadStack;
}

}  // namespace

std::string FormatBytes(double bytes) {
  char b[48];
  if (bytes >= 1024.0 * 1024 * 1024 * 1024)
    std::snprintf(b, sizeof b, "%.3g TiB", bytes / (1024.0 * 1024 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024 * 1024)
    std::snprintf(b, sizeof b, "%.3g GiB", bytes / (1024.0 * 1024 * 1024));
  else
    std::snprintf(b, sizeof b, "%.3g MiB", bytes / (1024.0 * 1024));
  return b;
}

double AvailableMemoryBytes(std::string* which) {
  double best = 1e300;
  auto consider = [&](double bytes, const char* name) {
    if (bytes >= 0 && bytes < best) {
      best = bytes;
      *which = name;
    }
  };
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(double(rl.rlim_cur) - std::max(0.0, ProcKiloBytes("/proc/self/status", "VmSize")),
             "the address-space limit, ulimit -v, less what is mapped");
  consider(ProcKiloBytes("/proc/meminfo", "MemAvailable"), "MemAvailable in /proc/meminfo");
  const double cg_max = ReadNumber("/sys/fs/cgroup/memory.max"), cg_now = ReadNumber("/sys/fs/cgroup/memory.current");
  if (cg_max > 0 && cg_now >= 0) consider(cg_max - cg_now, "the cgroup's memory.max less memory.current");
  if (best == 1e300) *which = "no limit found";
  return std::max(best, 0.0);
}

Status CheckMemory(const std::string& what, double bytes, const std::string& hint) {
  std::string which;
  const double available = AvailableMemoryBytes(&which);
  if (bytes <= available) return Status::Ok();
  return Status::InvalidArgument(what + " needs about " + FormatBytes(bytes) + " of memory but this process may use " +
                                 FormatBytes(available) + " (" + which + ")" + (hint.empty() ? "" : "; " + hint));
}

Status CheckThreads(const std::string& what, int64_t threads, const std::string& hint) {
  double limit = 1e300;
  std::string which;
  const double mine = std::max(1.0, ProcField("/proc/self/status", "Threads"));
  struct rlimit rl;
  if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && double(rl.rlim_cur) - mine < limit) {
    limit = double(rl.rlim_cur) - mine;
    which = "ulimit -u (RLIMIT_NPROC)";
  }
  // /proc/loadavg's fourth field is running/total threads on the machine.
  double total_now = -1;
  {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c, rt;
    if (f >> a >> b >> c >> rt && rt.find('/') != std::string::npos) total_now = std::stod(rt.substr(rt.find('/') + 1));
  }
  const double max = ReadNumber("/proc/sys/kernel/threads-max");
  if (max > 0 && total_now >= 0 && max - total_now < limit) {
    limit = max - total_now;
    which = "kernel.threads-max less the threads running";
  }
  if (double(threads) > limit)
    return Status::InvalidArgument(
        what + " starts " + std::to_string(threads) + " threads but this process may start " +
        std::to_string(int64_t(std::max(limit, 0.0))) + " more (" + which + ")" + (hint.empty() ? "" : "; " + hint));
  // Each thread reserves its stack's address space: that must fit the memory limit too.
  return CheckMemory(what + " (" + std::to_string(threads) + " threads' stacks)", double(threads) * ThreadStackBytes(),
                     hint);
}

double ScheduleBytes(const ScheduleConfig& cfg, int64_t* ops) {
  const double world = cfg.world;
  const double ring = world / std::max(cfg.ulysses, 1);
  // Every rank holds at least one op per ring step: when that alone is too much, rank 0 is not worth building.
  const double lower = world * ring * sizeof(Op);
  std::string which;
  if (lower > AvailableMemoryBytes(&which) || ring * sizeof(Op) > 1e9) {
    if (ops) *ops = int64_t(std::min(world * ring, 9e18));
    return lower;
  }
  const RankSchedule r0 = BuildRankSchedule(cfg, 0);
  if (ops) *ops = int64_t(world) * int64_t(r0.ops.size());
  return world *
         (double(r0.ops.size()) * sizeof(Op) + double(r0.buffers.size()) * sizeof(BufferInfo) + sizeof(RankSchedule));
}

double SimulationBytes(const ScheduleConfig& cfg, int traced_ranks) {
  const double world = cfg.world, ring = world / std::max(cfg.ulysses, 1);
  // Ops of one rank: rank 0's schedule when that is cheap to build, else a few per ring step.
  double ops = 3 * ring;
  if (ring * sizeof(Op) < 1e9 && ValidateConfig(cfg).ok()) ops = double(BuildRankSchedule(cfg, 0).ops.size());
  double bytes = world * kSimBytesPerRank + kSimWholePrograms * ops * kSimOpBytes +
                 double(traced_ranks) * ops * (sizeof(Op) + sizeof(TraceEvent));
  if (cfg.ulysses > 1) bytes += world * ring * kSimBytesPerRankStep;
  // A balanced sharding under a window or documents follows no rank pattern: every rank's program is compiled whole
  // (sim/README.md "Large W"), rank 0's op count per rank.
  if (cfg.sharding == ShardingKind::kBalanced && !cfg.problem.mask.IsPlain()) bytes += world * ops * kSimOpBytes;
  return bytes;
}

int64_t GeneralEngineOpCap() { return int64_t(kGeneralOpsPerSecond * kGeneralSecondsCap); }

}  // namespace ringlab::cli
