// Scale benchmark: simulates one alltoall (ring pass-KV) forward at world size W, summary only, and prints one JSON
// line: ops, events, wall time (compile + run), engine ops per second on one core, distinct rank programs, peak RSS.
// Run one W per process so peak RSS belongs to that W (bench/sim/run_scale.sh loops).
// `--general 1` turns the symmetric run off (every rank simulated): the engine's raw event rate.
// ops_per_s is simulated ops over run wall time; cpu_s is the process's user+system CPU time (the bench machine may be
// shared, so wall can exceed CPU); engine_ops is the ops the engine actually executed (ops / (W / period)).
//
// `--method`, `--pass`, `--sharding` pick the run (default alltoall forward head-tail); phased_period > 0 says the
// phased all-gather run (sim/phased_run.h) ran.
//
//   sim_scale_bench --world 16384 [--tokens-per-gpu 128] [--profile h100_sxm] [--general 1]
//                   [--method allgather] [--pass backward] [--sharding contiguous]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "sim/simulate.h"

using namespace ringlab;

int main(int argc, char** argv) {
  int world = 1024;
  int64_t tokens = 128;
  std::string profile = "h100_sxm";
  bool general = false;
  Method method = Method::kAllToAll;
  Pass pass = Pass::kForward;
  ShardingKind sharding = ShardingKind::kHeadTail;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--world")) world = std::stoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--tokens-per-gpu")) tokens = std::stoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--profile")) profile = argv[i + 1];
    else if (!strcmp(argv[i], "--general")) general = std::stoi(argv[i + 1]) != 0;
    else if (!strcmp(argv[i], "--method")) method = !strcmp(argv[i + 1], "allgather") ? Method::kAllGather : Method::kAllToAll;
    else if (!strcmp(argv[i], "--pass")) pass = !strcmp(argv[i + 1], "backward") ? Pass::kBackward : Pass::kForward;
    else if (!strcmp(argv[i], "--sharding"))
      sharding = !strcmp(argv[i + 1], "contiguous") ? ShardingKind::kContiguous : ShardingKind::kHeadTail;
  }
  sim::HardwareProfile hw;
  Status st = sim::LoadProfile(profile, &hw);
  if (!st.ok()) return std::cerr << st.message() << "\n", 2;
  ScheduleConfig cfg;
  cfg.problem.seq = int64_t(world) * tokens;
  cfg.world = world;
  cfg.method = method;
  cfg.pass = pass;
  cfg.sharding = sharding;
  const auto t0 = std::chrono::steady_clock::now();
  sim::SimResult r;
  sim::SimOptions opt;
  opt.use_symmetry = !general;
  st = sim::Simulate(cfg, hw, opt, &r);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!st.ok()) return std::cerr << st.message() << "\n", 1;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  const int64_t engine_ops = r.stats.ops / (world / r.symmetry_period);  // the phased run: all W ranks' ops
  printf("{\"world\": %d, \"seq\": %lld, \"ops\": %lld, \"events\": %lld, \"flows\": %lld, \"wall_s\": %.3f, "
         "\"cpu_s\": %.3f, \"compile_s\": %.3f, \"run_s\": %.3f, \"ops_per_s\": %.0f, \"symmetry_period\": %d, "
         "\"symmetry_fallback\": %s, \"engine_ops\": %lld, \"engine_ops_per_s\": %.0f, \"distinct_programs\": %d, "
         "\"shared_by_sample\": %s, \"phased_period\": %d, \"range_period\": %d, \"range_max_ranges\": %d, "
         "\"range_fallback\": \"%s\", \"peak_rss_mib\": %.1f, \"step_ms\": %.3f}\n",
         world, (long long)cfg.problem.seq, (long long)r.stats.ops, (long long)r.stats.events,
         (long long)r.stats.flows, wall, cpu, r.compile_s, r.run_s, r.stats.ops / r.run_s, r.symmetry_period,
         r.symmetry_fallback ? "true" : "false", (long long)engine_ops, engine_ops / r.run_s, r.distinct_programs,
         r.programs_shared_by_sample ? "true" : "false", r.phased_period, r.range_period, r.range_max_ranges,
         r.range_fallback.c_str(), ru.ru_maxrss / 1024.0, r.summary.step_time_us / 1e3);
  return 0;
}
