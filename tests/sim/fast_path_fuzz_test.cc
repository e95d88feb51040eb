// Randomized differential test of the simulator's exact fast paths against its general engine: random configs
// (world sizes from 1 to ~600 including primes, batch, heads, GQA/MHA, head dims with and without a profile table,
// masks, sharding, method, pass, Ulysses degree, placement, topology, profiles and variants, traced ranks) run once
// with the fast paths allowed (shared and spliced programs, the symmetric, phased and rank-range runs, forced on at
// small W) and once with every rank compiled whole on the general engine; the two must agree bit for bit (summary
// JSON, op/event/flow counts, both extrapolation tallies, the traced ranks' events) or fail with the same message.
//
// Seeds are fixed, so a failure names the case (seed and index) and reproduces. RINGLAB_SIM_FUZZ_CASES=N runs N
// cases instead of the default count; RINGLAB_SIM_FUZZ_SEED=S starts from another seed; RINGLAB_SIM_FUZZ_VERBOSE=1
// prints each case before it runs; RINGLAB_SIM_FUZZ_MAX_FAILURES=N stops after N failures (default 5);
// RINGLAB_SIM_FUZZ_ONLY=I runs case I alone (the draws before it still happen, so it is the same case);
// RINGLAB_SIM_FUZZ_LARGE=N also runs N cases at W >= 1024 with the CLI's default options (about 4 s each).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/mask_spec.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

struct FuzzCase {
  ScheduleConfig cfg;
  std::string profile;
  std::string mask;  // as the CLI's --mask takes it
  SimOptions fast;
};

std::string DescribeCase(const FuzzCase& c) {
  std::ostringstream s;
  s << Describe(c.cfg) << " | profile " << c.profile << " mask " << c.mask << " | nodes " << c.fast.topology.nodes
    << " gpus/node " << c.fast.topology.gpus_per_node << " " << PlacementName(c.fast.topology.placement)
    << " | share_probe_above " << c.fast.share_probe_above << " range_run_above " << c.fast.range_run_above;
  if (c.fast.trace == TraceMode::kRanks) {
    s << " trace-ranks";
    for (int r : c.fast.trace_ranks) s << " " << r;
  }
  return s.str();
}

class Drawer {
 public:
  explicit Drawer(uint64_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  T Pick(const std::vector<T>& v) { return v[size_t(Int(0, int(v.size()) - 1))]; }

  // A world: mostly small (every size the fast paths treat specially: 1, 2, primes, not powers of two, whole and
  // partial nodes), sometimes large enough that spliced programs and the range run apply on their own.
  int World(int max_world) {
    if (max_world > 64 && Chance(0.2)) return Int(65, max_world);
    return Pick<int>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 20, 24, 26, 30, 31, 32, 36, 37, 40, 48, 64});
  }

  FuzzCase Draw(int max_world) {
    FuzzCase c;
    ScheduleConfig& cfg = c.cfg;
    cfg.world = World(max_world);
    Problem& p = cfg.problem;
    p.batch = Pick<int>({1, 1, 2, 3});
    p.heads = Pick<int>({1, 2, 4, 8, 12, 16, 32, 40});
    std::vector<int> kv;
    for (int d = 1; d <= p.heads; ++d)
      if (p.heads % d == 0) kv.push_back(d);
    p.kv_heads = Chance(0.3) ? p.heads : Pick(kv);
    p.head_dim = Pick<int>({64, 128, 128, 256, 96, 160});
    cfg.method = Chance(0.5) ? Method::kAllGather : Method::kAllToAll;
    cfg.pass = Chance(0.5) ? Pass::kForward : Pass::kBackward;
    cfg.sharding = Pick<ShardingKind>({ShardingKind::kHeadTail, ShardingKind::kHeadTail, ShardingKind::kContiguous,
                                       ShardingKind::kBalanced});
    if (cfg.world > 1 && Chance(0.15)) {
      std::vector<int> u;
      for (int d = 2; d <= cfg.world; ++d)
        if (cfg.world % d == 0 && p.heads % d == 0 && (d % p.kv_heads == 0 || p.kv_heads % d == 0)) u.push_back(d);
      if (!u.empty()) {
        cfg.ulysses = Pick(u);
        cfg.placement = Chance(0.5) ? UlyssesPlacement::kConsecutive : UlyssesPlacement::kStrided;
        if (Chance(0.3)) cfg.ring = cfg.world / cfg.ulysses;
      }
    }
    // Tokens: 4 chunks per rank (every sharding divides), a chunk of 1..512 tokens, fewer at large W.
    const int64_t chunk = cfg.world > 128 ? Pick<int>({1, 4, 8, 32}) : Pick<int>({1, 2, 3, 8, 16, 24, 32, 128, 512});
    p.seq = int64_t(cfg.world) * 4 * chunk;
    c.mask = MaskText(p.seq);
    c.profile = Pick<std::string>({"h100_sxm", "h100_sxm_calibrated", "h100_sxm_calibrated", "h100_pytorch_peer",
                                   "h100_pytorch_peer", "h100_sxm_calibrated_wgmma", "h200", "b200", "a100_sxm"});
    if (c.profile == "h100_pytorch_peer") {
      cfg.variants.fused_merge = Chance(0.3);
      cfg.variants.pack_kv = Chance(0.5);
    }
    Topo(cfg.world, &c.fast.topology);
    c.fast.share_probe_above = Pick<int>({0, 4, 8, 16, 256});
    c.fast.range_run_above = Pick<int>({0, 0, 16, 1024});
    if (Chance(0.25)) {
      c.fast.trace = TraceMode::kRanks;
      const int n = Int(1, 3);
      for (int i = 0; i < n; ++i) c.fast.trace_ranks.push_back(Int(0, cfg.world - 1));
    }
    return c;
  }

 private:
  std::string MaskText(int64_t seq) {
    std::string base = Pick<std::string>({"causal", "causal", "causal", "full"});
    const auto extent = [&] { return Chance(0.2) ? int64_t(-1) : int64_t(Int(0, int(std::min<int64_t>(seq, 1 << 20)))); };
    if (Chance(0.2)) base += "+window:" + std::to_string(extent()) + "," + std::to_string(Chance(0.5) ? 0 : extent());
    if (Chance(0.2))
      base += "+docs-synthetic:" +
              Pick<std::string>({"uniform", "lognormal", "pretrain-mix", "fixed-3", "fixed-" + std::to_string(Int(1, 50))}) +
              (Chance(0.3) ? ":" + std::to_string(Int(1, 9)) : "");
    return base;
  }

  void Topo(int world, TopologyConfig* t) {
    switch (Int(0, 4)) {
      case 0: break;  // the profile's 8 GPUs per node, as many nodes as needed
      case 1: t->gpus_per_node = Pick<int>({1, 2, 3, 4, 6, 8}); break;
      case 2: t->gpus_per_node = world; break;  // one node
      case 3:
        t->placement = Placement::kRoundRobin;
        t->gpus_per_node = Pick<int>({2, 4, 8});
        t->nodes = (world + t->gpus_per_node - 1) / t->gpus_per_node + Int(0, 2);
        break;
      default:
        t->gpus_per_node = Pick<int>({2, 4, 8});
        t->nodes = (world + t->gpus_per_node - 1) / t->gpus_per_node + Int(0, 1);
        break;
    }
  }

  std::mt19937_64 rng_;
};

// How often each fast path ran (so the log shows the draw reaches them).
struct PathCounts {
  int symmetric = 0, phased = 0, ranged = 0, spliced = 0, shared = 0, fallbacks = 0;
  int range_event_counts = 0;  // range runs whose stale-event count differed (nothing else)
  void Add(const SimResult& r) {
    symmetric += r.symmetry_period < r.config.world;
    phased += r.phased_period > 0;
    ranged += r.range_period > 0;
    spliced += r.programs_spliced;
    shared += r.programs_shared_by_sample;
    fallbacks += r.symmetry_fallback || !r.range_fallback.empty();
  }
};

// Runs `c` on the fast paths and on the general engine; returns what differs ("" when nothing does).
std::string Compare(const FuzzCase& c, const HardwareProfile& hw, const ScheduleConfig& cfg, PathCounts* paths) {
  SimOptions general = c.fast;
  general.share_probe_above = 0;
  general.use_symmetry = false;
  SimResult a, b;
  const Status sa = Simulate(cfg, hw, c.fast, &a), sb = Simulate(cfg, hw, general, &b);
  if (sa.ok() != sb.ok() || sa.message() != sb.message())
    return "status: fast '" + sa.message() + "' general '" + sb.message() + "'";
  if (!sa.ok()) return "";
  paths->Add(a);
  std::string diff;
  const auto field = [&](const char* name, const std::string& x, const std::string& y) {
    if (x != y) diff += std::string(name) + ": fast " + x.substr(0, 300) + " general " + y.substr(0, 300) + "; ";
  };
  field("summary", ToJson(a.summary).dump(), ToJson(b.summary).dump());
  field("ops", std::to_string(a.stats.ops), std::to_string(b.stats.ops));
  // The rank-range run's stale-event count may differ (sim/README.md "Large W": same-instant events of neighbouring
  // ranges run in another order than the general engine's); counted apart, everything else must agree.
  if (a.range_period > 0 && a.stats.events != b.stats.events)
    ++paths->range_event_counts;
  else
    field("events", std::to_string(a.stats.events), std::to_string(b.stats.events));
  field("flows", std::to_string(a.stats.flows), std::to_string(b.stats.flows));
  field("compute extrapolation", ExtrapolationJson(a.extrapolation).dump(), ExtrapolationJson(b.extrapolation).dump());
  field("transfer extrapolation", TransferExtrapolationJson(a.transfers).dump(),
        TransferExtrapolationJson(b.transfers).dump());
  field("schedule ops", std::to_string(a.schedule_op_count), std::to_string(b.schedule_op_count));
  if (c.fast.trace != TraceMode::kNone) {
    std::ostringstream ta, tb;
    WriteTraceJson(a.trace, ta);
    WriteTraceJson(b.trace, tb);
    if (ta.str() != tb.str()) diff += "traces differ; ";
  }
  if (!diff.empty()) {
    char path[160];
    snprintf(path, sizeof path, "symmetry %d/%d fallback %d phased %d range %d (%s) spliced %d shared %d; ",
             a.symmetry_period, cfg.world, a.symmetry_fallback, a.phased_period, a.range_period,
             a.range_fallback.c_str(), a.programs_spliced, a.programs_shared_by_sample);
    diff = path + diff;
  }
  return diff;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

void RunCases(uint64_t seed, int cases, int max_world) {
  Drawer d(seed);
  const bool verbose = EnvInt("RINGLAB_SIM_FUZZ_VERBOSE", 0) != 0;
  int ran = 0, invalid = 0, failures = 0;
  PathCounts paths;
  const int max_failures = EnvInt("RINGLAB_SIM_FUZZ_MAX_FAILURES", 5), only = EnvInt("RINGLAB_SIM_FUZZ_ONLY", -1);
  for (int i = 0; i < cases && failures < max_failures; ++i) {
    const FuzzCase c = d.Draw(max_world);
    if (only >= 0 && i != only) continue;
    const std::string what = "seed " + std::to_string(seed) + " case " + std::to_string(i) + ": " + DescribeCase(c);
    if (verbose) fprintf(stderr, "%s\n", what.c_str());
    HardwareProfile hw = testing::LoadNamed(c.profile);
    ScheduleConfig cfg = c.cfg;
    if (!ApplyMaskSpec(c.mask, &cfg.problem).ok() || !ValidateConfig(cfg).ok()) {
      ++invalid;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string diff = Compare(c, hw, cfg, &paths);
    if (verbose)
      fprintf(stderr, "  %.2f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    ++ran;
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << what << "\n  " << diff;
    }
  }
  fprintf(stderr,
          "fast-path fuzz seed %llu: %d cases compared (symmetric %d, phased %d, range %d, spliced %d, shared %d, "
          "fell back %d), %d invalid configs skipped, %d failures, %d range runs with another stale-event count\n",
          (unsigned long long)seed, ran, paths.symmetric, paths.phased, paths.ranged, paths.spliced, paths.shared,
          paths.fallbacks, invalid, failures, paths.range_event_counts);
  if (only < 0) EXPECT_GT(ran, cases / 2);
}

TEST(SimFastPathFuzz, SmallWorlds) {
  RunCases(uint64_t(EnvInt("RINGLAB_SIM_FUZZ_SEED", 1)), EnvInt("RINGLAB_SIM_FUZZ_CASES", 1000), 64);
}

TEST(SimFastPathFuzz, DefaultOptionsAboveTheRangeRunThreshold) {
  // W >= 1024 with the CLI's options (range_run_above 1024, sampled sharing above 256): ring pass-KV head-tail, few
  // tokens per GPU so the general engine's W² ops stay seconds (~4 s a case: opt in with RINGLAB_SIM_FUZZ_LARGE=N).
  const int cases = EnvInt("RINGLAB_SIM_FUZZ_LARGE", 0);
  if (cases <= 0) GTEST_SKIP() << "about 4 s a case: RINGLAB_SIM_FUZZ_LARGE=N runs N (range_run_test covers W = 1024)";
  Drawer d(uint64_t(EnvInt("RINGLAB_SIM_FUZZ_SEED", 1)) + 2000);
  PathCounts paths;
  for (int i = 0; i < cases; ++i) {
    FuzzCase c;
    c.cfg = testing::RingConfig(d.Pick<int>({1024, 1040, 1536}), 0, Method::kAllToAll,
                                d.Chance(0.5) ? Pass::kForward : Pass::kBackward);
    c.cfg.problem.seq = int64_t(c.cfg.world) * d.Pick<int>({4, 8, 128});
    c.profile = d.Pick<std::string>({"h100_sxm_calibrated", "h100_pytorch_peer"});
    c.mask = "causal";
    if (d.Chance(0.5)) c.fast.topology.gpus_per_node = d.Pick<int>({2, 4});
    SCOPED_TRACE(DescribeCase(c));
    const std::string diff = Compare(c, testing::LoadNamed(c.profile), c.cfg, &paths);
    EXPECT_EQ(diff, "");
  }
  fprintf(stderr, "W >= 1024: %d cases (range %d, symmetric %d, fell back %d)\n", cases, paths.ranged,
          paths.symmetric, paths.fallbacks);
}

TEST(SimFastPathFuzz, LargeWorlds) {
  RunCases(uint64_t(EnvInt("RINGLAB_SIM_FUZZ_SEED", 1)) + 1000, EnvInt("RINGLAB_SIM_FUZZ_CASES", 1000) / 10, 600);
}

}  // namespace
}  // namespace ringlab::sim
