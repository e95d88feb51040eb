// The rank-range run (sim/range_run.h) must give exactly the general engine's results: the summary (step time,
// per-rank stats) as JSON text, every double to the bit, the op/event/flow counts and the compute and transfer
// extrapolation tallies, for ring pass-KV (method alltoall) × forward/backward × head-tail/contiguous with the
// calibrated and the peer profile (whose rank programs all differ), whole and spliced program tables, one node and
// several. Runs it cannot do exactly must take the general engine and say why (checked below).
#include <gtest/gtest.h>

#include <string>

#include "core/mask_spec.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::RingConfig;
const auto Load = testing::LoadNamed;

ScheduleConfig Config(int w, Pass pass, ShardingKind sharding, bool gqa = true) {
  ScheduleConfig c = RingConfig(w, int64_t(128) * w, Method::kAllToAll, pass);
  c.sharding = sharding;
  if (!gqa) c.problem.kv_heads = c.problem.heads;
  return c;
}

// Runs `cfg` with the range run allowed at any W and on the general engine; returns the fast run's result.
SimResult ExpectSameAsGeneral(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above = 256,
                              TopologyConfig topo = {}, int64_t event_slack = 0) {
  SCOPED_TRACE(hw.name + ": " + Describe(cfg) + " gpus/node " + std::to_string(topo.gpus_per_node));
  SimOptions fast;
  fast.topology = topo;
  fast.share_probe_above = share_probe_above;
  fast.range_run_above = 0;
  return testing::ExpectSameAsGeneralEngine(cfg, hw, fast, event_slack);
}

TEST(SimRangeRun, HeadTailCalibratedEqualsGeneralEngine) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  TopologyConfig one_node;
  for (Pass p : {Pass::kForward, Pass::kBackward}) {
    // 8 GPUs per node: blocks of 8; W = 64 compiled whole, 200 spliced (W not a power of two).
    for (int w : {64, 200}) {
      const SimResult r = ExpectSameAsGeneral(Config(w, p, ShardingKind::kHeadTail), hw, w == 64 ? 256 : 8);
      EXPECT_EQ(r.range_period, 8) << w << ": " << r.range_fallback;
    }
    // One node: every hop takes NVLink, blocks of 2 ranks keep a rank and its neighbour apart.
    one_node.gpus_per_node = 36;
    const SimResult r = ExpectSameAsGeneral(Config(36, p, ShardingKind::kHeadTail), hw, 8, one_node);
    EXPECT_EQ(r.range_period, 2) << r.range_fallback;
    // W = 37 on one node would need blocks of one rank: the general engine runs it, and says why.
    one_node.gpus_per_node = 37;
    const SimResult odd = ExpectSameAsGeneral(Config(37, p, ShardingKind::kHeadTail), hw, 8, one_node);
    EXPECT_EQ(odd.range_period, 0);
    EXPECT_NE(odd.range_fallback.find("odd"), std::string::npos) << odd.range_fallback;
  }
  // W = 512, spliced by default.
  const SimResult r = ExpectSameAsGeneral(Config(512, Pass::kForward, ShardingKind::kHeadTail), hw);
  EXPECT_EQ(r.range_period, 8) << r.range_fallback;
}

TEST(SimRangeRun, DefaultOptionsAtW1024) {
  // The default path (range_run_above = 1024): 128 tokens per GPU give equal programs whose symmetric run falls back;
  // the range run takes them as a couple of ranges, exactly.
  const SimResult r = testing::ExpectSameAsGeneralEngine(Config(1024, Pass::kForward, ShardingKind::kHeadTail),
                                                         Load("h100_sxm_calibrated"), SimOptions{});
  EXPECT_EQ(r.range_period, 8) << r.range_fallback;
  EXPECT_LE(r.range_max_ranges, 4);
}

TEST(SimRangeRun, PeerProfileTwoGpusPerNodeGqaAndMha) {
  TopologyConfig two;
  two.gpus_per_node = 2;
  for (const char* name : {"h100_sxm_calibrated", "h100_pytorch_peer"})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      for (bool gqa : {true, false}) {
        const HardwareProfile hw = Load(name);
        const SimResult a = ExpectSameAsGeneral(Config(48, p, ShardingKind::kHeadTail, gqa), hw, 8, two);
        const SimResult b = ExpectSameAsGeneral(Config(96, p, ShardingKind::kHeadTail, gqa), hw, 8);
        // Equal programs take the shift-symmetric run when it can prove itself exact, else the range run.
        EXPECT_TRUE(a.symmetry_period < 48 || a.range_period == 2) << name << " " << a.range_fallback;
        EXPECT_TRUE(b.symmetry_period < 96 || b.range_period == 8) << name << " " << b.range_fallback;
      }
}

// Balanced sharding of `c` under `mask` on nodes of `gpus_per_node`: the range run (blocks of 2) equals the general
// engine.
void ExpectBalancedRangeRunExact(ScheduleConfig c, const std::string& mask, const std::string& profile,
                                 int share_probe_above, int gpus_per_node) {
  c.sharding = ShardingKind::kBalanced;
  ASSERT_TRUE(ApplyMaskSpec(mask, &c.problem).ok());
  TopologyConfig topo;
  topo.gpus_per_node = gpus_per_node;
  // Under documents or a window the range run's stale-event count may differ by a few (sim/README.md, "Large W").
  const SimResult r = ExpectSameAsGeneral(c, Load(profile), share_probe_above, topo, /*event_slack=*/4);
  EXPECT_EQ(r.range_period, 2) << r.range_fallback;
}

TEST(SimRangeRun, SplitKeepsACrossingEndLeftToTheFamily) {
  // Found by fast_path_fuzz_test (it stalled: "rank 0 compute stream never finished"): a crossing transfer that ended
  // at one instant left its end in a longer range to that range's family, due at the same instant; a program split
  // before that end left the part without a family, and the end was lost. Balanced sharding under a window, blocks of
  // 2 ranks, every range one block.
  ExpectBalancedRangeRunExact(RingConfig(20, 80, Method::kAllToAll, Pass::kForward), "full+window:36,19",
                              "h100_pytorch_peer", 0, 2);
}

TEST(SimRangeRun, RingTableChoiceDoesNotDependOnWhichEndPostsLast) {
  // Found by fast_path_fuzz_test: with documents some ranks' groups are not ring steps (a send without a receive), and
  // a transfer took the ring or the pair time table from whichever end posted last. The general engine and the range
  // run post the two ends of a transfer at one instant in different orders, so rank 15's step ended 0.7 us apart.
  // A transfer is now a ring step when either end's group is one (the same in both engines).
  ScheduleConfig c = RingConfig(16, 2048, Method::kAllToAll, Pass::kForward);
  c.problem = Problem{.batch = 2, .heads = 8, .kv_heads = 8, .seq = 2048, .head_dim = 64};
  ExpectBalancedRangeRunExact(c, "causal+docs-synthetic:fixed-3", "h100_sxm_calibrated", 8, 16);
}

TEST(SimRangeRun, FallbacksNameTheirReason) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Pass p : {Pass::kForward, Pass::kBackward}) {
    // Contiguous sharding takes the general engine (simulate.cc says why).
    const SimResult c = ExpectSameAsGeneral(Config(64, p, ShardingKind::kContiguous), hw);
    EXPECT_EQ(c.range_period, 0);
    EXPECT_NE(c.range_fallback.find("contiguous"), std::string::npos) << c.range_fallback;
    // Fewer than three blocks.
    const SimResult small = ExpectSameAsGeneral(Config(16, p, ShardingKind::kHeadTail), hw);
    EXPECT_EQ(small.range_period, 0);
    EXPECT_NE(small.range_fallback.find("three blocks"), std::string::npos) << small.range_fallback;
  }
  // Round robin over 6 nodes: every hop crosses nodes (one route), W even: blocks of 2.
  TopologyConfig rr;
  rr.placement = Placement::kRoundRobin;
  rr.nodes = 6;
  const SimResult r = ExpectSameAsGeneral(Config(48, Pass::kForward, ShardingKind::kHeadTail), hw, 8, rr);
  EXPECT_TRUE(r.range_period == 2 || !r.range_fallback.empty());
  // Ulysses (all-to-all and group collectives) never takes it.
  ScheduleConfig u = Config(64, Pass::kForward, ShardingKind::kHeadTail);
  u.ulysses = 2;
  const SimResult ul = ExpectSameAsGeneral(u, hw);
  EXPECT_EQ(ul.range_period, 0);
}

}  // namespace
}  // namespace ringlab::sim
