// Shift probe: how rank r + N's timeline relates to rank r's in a general-engine run, to the picosecond (the premise of
// a rank range that carries a time shift, sim/README.md "Large W"). Runs one config with every rank traced, pairs
// each op of rank r + N with the op of the same (stream, kind, step, position) on rank r, and prints, per step, the
// runs of consecutive ranks r whose pairs all have one start difference and equal durations, in integer picoseconds
// (the engine's time unit; the trace's microseconds are doubles, exact to far below a picosecond at these times).
// "lockstep" is a run with difference 0, "ramp" a run with one non-zero difference.
//
//   sim_shift_probe --world 256 [--tokens-per-gpu 128] [--profile h100_sxm_calibrated] [--method alltoall]
//                   [--pass backward] [--sharding contiguous] [--node 8] [--steps 64,128,255]
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "sim/simulate.h"
#include "sim/time_ps.h"

using namespace ringlab;

namespace {

using sim::TimePs;
// An op's identity within a rank: stream, kind, step, and its index among ops of that key (a step may hold two).
using OpKey = std::tuple<int, int, int, int>;

struct Timing {
  TimePs start, dur;
};

// A trace time (microseconds, a double made from integer picoseconds) back to the engine's picoseconds.
TimePs Ps(double us) { return sim::RoundPs(us * 1e6); }

std::vector<std::map<OpKey, Timing>> ByRank(const sim::SimResult& r, int world) {
  std::vector<std::map<OpKey, Timing>> out(world);
  std::vector<std::map<std::tuple<int, int, int>, int>> seen(world);
  for (const TraceEvent& e : r.trace.events) {
    const int index = seen[e.rank][{e.stream, int(e.kind), e.step}]++;
    out[e.rank][{e.stream, int(e.kind), e.step, index}] = {Ps(e.ts_us), Ps(e.dur_us)};
  }
  return out;
}

// Rank r + n against rank r over the ops of `step`: (true, the start difference) if every op of the step present on
// both agrees on one and lasts as long; (false, ...) otherwise or when the step has no op on either.
std::pair<bool, TimePs> StepShift(const std::map<OpKey, Timing>& a, const std::map<OpKey, Timing>& b, int step) {
  bool any = false, same = true;
  TimePs shift = 0;
  for (const auto& [key, ta] : a) {
    if (std::get<2>(key) != step) continue;
    const auto it = b.find(key);
    if (it == b.end()) continue;
    const TimePs d = it->second.start - ta.start;
    if (!any) shift = d;
    any = true;
    same = same && d == shift && it->second.dur == ta.dur;
  }
  return {any && same, shift};
}

}  // namespace

int main(int argc, char** argv) {
  int world = 256, node = 8;
  int64_t tokens = 128;
  std::string profile = "h100_sxm_calibrated", steps_arg;
  ScheduleConfig cfg;
  cfg.method = Method::kAllToAll;
  cfg.pass = Pass::kBackward;
  cfg.sharding = ShardingKind::kHeadTail;
  std::vector<int> steps;
  try {
    for (int i = 1; i < argc; i += 2) {
      if (i + 1 >= argc) return std::cerr << argv[i] << ": needs a value\n", 2;
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--world") world = std::stoi(v);
      else if (a == "--tokens-per-gpu") tokens = std::stoll(v);
      else if (a == "--profile") profile = v;
      else if (a == "--node") node = std::stoi(v);
      else if (a == "--steps") steps_arg = v;
      else if (a == "--method" && (v == "allgather" || v == "alltoall"))
        cfg.method = v == "allgather" ? Method::kAllGather : Method::kAllToAll;
      else if (a == "--pass" && (v == "forward" || v == "backward"))
        cfg.pass = v == "forward" ? Pass::kForward : Pass::kBackward;
      else if (a == "--sharding" && (v == "contiguous" || v == "head-tail"))
        cfg.sharding = v == "contiguous" ? ShardingKind::kContiguous : ShardingKind::kHeadTail;
      else if (a == "--method" || a == "--pass" || a == "--sharding")
        return std::cerr << a << " '" << v << "': allowed --method allgather|alltoall, --pass forward|backward, "
                         << "--sharding contiguous|head-tail\n", 2;
      else return std::cerr << "unknown option " << a << " (see the header of sim_shift_probe.cc)\n", 2;
    }
    std::stringstream ss(steps_arg.empty() ? std::to_string(world / 4) + "," + std::to_string(world / 2) + "," +
                                                 std::to_string(world - 2)
                                           : steps_arg);
    for (std::string s; std::getline(ss, s, ',');) steps.push_back(std::stoi(s));
  } catch (const std::exception&) {
    return std::cerr << "sim_shift_probe: --world, --tokens-per-gpu, --node and --steps take whole numbers\n", 2;
  }
  if (node < 1 || world < 2 * node || world > 1024 || tokens < 1)
    return std::cerr << "sim_shift_probe: --world must be in [2 x --node, 1024], --tokens-per-gpu >= 1\n", 2;
  sim::HardwareProfile hw;
  Status st = sim::LoadProfile(profile, &hw);
  if (!st.ok()) return std::cerr << st.message() << "\n", 2;
  cfg.world = world;
  cfg.problem.seq = int64_t(world) * tokens;
  sim::SimOptions opt;
  opt.trace = sim::TraceMode::kAll;
  sim::SimResult r;
  st = sim::Simulate(cfg, hw, opt, &r);
  if (!st.ok()) return std::cerr << st.message() << "\n", 1;
  const auto ranks = ByRank(r, world);
  printf("%s, step %.3f ms; rank r + %d against rank r, start difference in ps per run of ranks r (equal durations)\n",
         Describe(cfg).c_str(), r.summary.step_time_us / 1e3, node);
  for (int step : steps) {
    printf("step %d:", step);
    int lo = 0;
    std::pair<bool, TimePs> run = StepShift(ranks[0], ranks[node], step);
    for (int rank = 1; rank <= world - node; ++rank) {
      const auto cur =
          rank < world - node ? StepShift(ranks[rank], ranks[rank + node], step) : std::make_pair(false, TimePs{-1});
      if (rank < world - node && cur == run) continue;
      if (rank - lo >= 3) {  // runs of 3 ranks or more; shorter ones are transitions
        if (run.first) printf(" [%d-%d] %s %lld", lo, rank - 1, run.second == 0 ? "lockstep" : "ramp",
                              (long long)run.second);
        else printf(" [%d-%d] differ", lo, rank - 1);
      }
      lo = rank;
      run = cur;
    }
    printf("\n");
  }
  return 0;
}
