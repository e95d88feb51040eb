// The rank-range run (sim/range_run.h) must give exactly the general engine's results: the summary (step time,
// per-rank stats) as JSON text, every double to the bit, the op/event/flow counts and the compute and transfer
// extrapolation tallies, for ring pass-KV (method alltoall) × forward/backward × head-tail/contiguous with the
// calibrated and the peer profile (whose rank programs all differ), whole and spliced program tables, one node and
// several. Runs it cannot do exactly must take the general engine and say why (checked below).
#include <gtest/gtest.h>

#include <string>

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

// Runs `cfg` with the range run allowed at any W and on the general engine (every rank compiled whole and
// simulated); checks both agree bit for bit and returns the fast run's result.
SimResult ExpectSameAsGeneral(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above = 256,
                              TopologyConfig topo = {}) {
  SCOPED_TRACE(hw.name + ": " + Describe(cfg) + " gpus/node " + std::to_string(topo.gpus_per_node));
  SimOptions fast, general;
  fast.topology = general.topology = topo;
  fast.share_probe_above = share_probe_above;
  fast.range_run_above = 0;
  general.share_probe_above = 0;
  general.use_symmetry = false;
  SimResult a, b;
  const Status sa = Simulate(cfg, hw, fast, &a), sb = Simulate(cfg, hw, general, &b);
  EXPECT_TRUE(sa.ok()) << sa.message();
  EXPECT_TRUE(sb.ok()) << sb.message();
  EXPECT_EQ(b.range_period, 0);
  EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
  EXPECT_EQ(a.stats.ops, b.stats.ops);
  EXPECT_EQ(a.stats.events, b.stats.events);
  EXPECT_EQ(a.stats.flows, b.stats.flows);
  EXPECT_EQ(ExtrapolationJson(a.extrapolation).dump(), ExtrapolationJson(b.extrapolation).dump());
  EXPECT_EQ(TransferExtrapolationJson(a.transfers).dump(), TransferExtrapolationJson(b.transfers).dump());
  return a;
}

TEST(SimRangeRun, HeadTailCalibratedEqualsGeneralEngine) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  TopologyConfig one_node;
  for (Pass p : {Pass::kForward, Pass::kBackward}) {
    for (int w : {64, 200, 512}) {  // 8 GPUs per node: blocks of 8; 200 and 512 spliced
      const SimResult r = ExpectSameAsGeneral(Config(w, p, ShardingKind::kHeadTail), hw);
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
}

TEST(SimRangeRun, ContiguousAndOtherShapes) {
  TopologyConfig two;
  two.gpus_per_node = 2;
  for (const char* name : {"h100_sxm_calibrated", "h100_pytorch_peer"})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      for (bool gqa : {true, false}) {
        const HardwareProfile hw = Load(name);
        for (ShardingKind s : {ShardingKind::kHeadTail, ShardingKind::kContiguous}) {
          const SimResult a = ExpectSameAsGeneral(Config(48, p, s, gqa), hw, 8, two);
          const SimResult b = ExpectSameAsGeneral(Config(96, p, s, gqa), hw, 8);
          if (s == ShardingKind::kHeadTail) EXPECT_EQ(a.range_period, 2) << a.range_fallback;
          if (s == ShardingKind::kHeadTail) EXPECT_EQ(b.range_period, 8) << b.range_fallback;
          std::printf("%s %s %s %s: range %d/%d (%s) %d/%d (%s)\n", name, p == Pass::kForward ? "fwd" : "bwd",
                      gqa ? "gqa" : "mha", s == ShardingKind::kHeadTail ? "ht" : "contig", a.range_period,
                      a.range_max_ranges, a.range_fallback.c_str(), b.range_period, b.range_max_ranges,
                      b.range_fallback.c_str());
        }
      }
}

}  // namespace
}  // namespace ringlab::sim
