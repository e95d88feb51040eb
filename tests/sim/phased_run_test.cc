// The phased all-gather run (sim/phased_run.h) must give exactly the general engine's results: the summary (step time,
// per-rank stats) as JSON text, every double to the bit, the op/event/flow counts and the compute and transfer
// extrapolation tallies, for allgather × forward/backward × head-tail/contiguous with the calibrated profile (whose
// rank programs all differ), whole and spliced program tables, one node and several. Runs it cannot do exactly must
// take another engine (checked below).
#include <gtest/gtest.h>

#include <string>

#include "sim/program_table.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::RingConfig;
const auto Load = testing::LoadNamed;

ScheduleConfig Config(int w, Pass pass, ShardingKind sharding, Method m = Method::kAllGather) {
  ScheduleConfig c = RingConfig(w, int64_t(128) * w, m, pass);
  c.sharding = sharding;
  return c;
}

// Runs `cfg` the default way and on the general engine (every rank compiled whole and simulated); returns the default
// run's phased_period after checking both agree bit for bit.
int ExpectSameAsGeneral(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above = 256,
                        TopologyConfig topo = {}) {
  SCOPED_TRACE(hw.name + ": " + Describe(cfg));
  SimOptions fast;
  fast.topology = topo;
  fast.share_probe_above = share_probe_above;
  return testing::ExpectSameAsGeneralEngine(cfg, hw, fast).phased_period;
}

TEST(SimPhasedRun, AllGatherCalibratedEqualsGeneralEngine) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Pass p : {Pass::kForward, Pass::kBackward})
    for (ShardingKind s : {ShardingKind::kHeadTail, ShardingKind::kContiguous}) {
      EXPECT_LE(ExpectSameAsGeneral(Config(8, p, s), hw), 2);             // one node: P = 2 (or all programs equal)
      EXPECT_EQ(ExpectSameAsGeneral(Config(64, p, s), hw), 8);            // 8 nodes, whole programs
      EXPECT_EQ(ExpectSameAsGeneral(Config(200, p, s), hw, 8), 8);        // spliced, W not a power of two
      EXPECT_EQ(ExpectSameAsGeneral(Config(512, p, s), hw), 8);           // spliced by default above 256
    }
}

TEST(SimPhasedRun, OneNodeEventCountsWithComputeRestartingBesideTheGather) {
  // Found by fast_path_fuzz_test: at P = 1 a ring step's two ends were one representative, so a compute op that ends
  // and restarts at one instant re-rated the all-gather step twice (2 stale events per rank); the general run re-rates
  // nothing (the other end is busy before and after its own restart). FindSymmetryPeriod now keeps them apart.
  ScheduleConfig c = Config(4, Pass::kBackward, ShardingKind::kHeadTail);
  c.problem = Problem{.batch = 2, .heads = 12, .kv_heads = 6, .seq = 2048, .head_dim = 256};
  TopologyConfig one_node;
  for (int w : {4, 5, 7, 8}) {
    c.world = w;
    c.problem.seq = 512 * w;
    one_node.gpus_per_node = w;
    EXPECT_GT(ExpectSameAsGeneral(c, Load("h100_sxm_calibrated"), 256, one_node), 0) << w;
  }
}

TEST(SimPhasedRun, OtherProfilesAndTopologies) {
  TopologyConfig two;
  two.gpus_per_node = 2;
  for (const char* name : {"h100_pytorch_peer", "h100_sxm_calibrated"})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      EXPECT_EQ(ExpectSameAsGeneral(Config(48, p, ShardingKind::kContiguous), Load(name), 8, two), 2);
  // Round-robin placement: every hop crosses nodes, representatives of 2 (a ring step's ends apart). It took the
  // general engine while P = 1 counted 2 more events per rank in the backward pass.
  TopologyConfig rr;
  rr.placement = Placement::kRoundRobin;
  rr.nodes = 8;
  for (Pass p : {Pass::kForward, Pass::kBackward})
    EXPECT_EQ(ExpectSameAsGeneral(Config(48, p, ShardingKind::kContiguous), Load("h100_sxm_calibrated"), 8, rr), 2);
}

TEST(SimPhasedRun, SplicedTallyEqualsWholeCompile) {
  // The spliced tally (prefix sums per segment) against the whole compile's, with extrapolated ops (a head dim
  // without a table) so the first extrapolated op and rank are checked too.
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Method m : {Method::kAllGather, Method::kAllToAll})
    for (ShardingKind s : {ShardingKind::kHeadTail, ShardingKind::kContiguous}) {
      ScheduleConfig cfg = Config(40, Pass::kBackward, s, m);
      cfg.problem.head_dim = 96;
      int64_t ops = 0;
      const ProgramTable spliced = BuildProgramTable(cfg, hw, 8, &ops);
      const ProgramTable whole = BuildProgramTable(cfg, hw, 0, &ops);
      ASSERT_TRUE(spliced.spliced());
      int first_a = -2, first_b = -2;
      const ExtrapolationTally a = TallyRanks(spliced, &first_a), b = TallyRanks(whole, &first_b);
      EXPECT_GT(a.Share(), 0.5);
      EXPECT_TRUE(a == b);
      EXPECT_EQ(first_a, first_b);
      EXPECT_EQ(a.first_op, b.first_op);
    }
}

TEST(SimPhasedRun, RunsItCannotDoTakeAnotherEngine) {
  const HardwareProfile cal = Load("h100_sxm_calibrated");
  // Ring pass-KV (point-to-point ring steps coupled to compute): general engine, still equal.
  for (Pass p : {Pass::kForward, Pass::kBackward})
    EXPECT_EQ(ExpectSameAsGeneral(Config(32, p, ShardingKind::kHeadTail, Method::kAllToAll), cal), 0);
  // Ulysses hybrid (group collectives and all-to-alls): not phased.
  ScheduleConfig hybrid = Config(32, Pass::kBackward, ShardingKind::kHeadTail);
  hybrid.ulysses = 4;
  EXPECT_EQ(ExpectSameAsGeneral(hybrid, cal), 0);
  // Equal programs (h100_sxm head-tail): the shift-symmetric run, not the phased one.
  EXPECT_EQ(ExpectSameAsGeneral(Config(64, Pass::kBackward, ShardingKind::kHeadTail), Load("h100_sxm")), 0);
  // A whole trace (every rank) is the general engine; a few traced ranks keep the phased run
  // (tests/sim/traced_fast_path_test.cc compares those traces with the general engine's).
  SimOptions all;
  all.trace = TraceMode::kAll;
  SimResult r;
  ASSERT_TRUE(Simulate(Config(64, Pass::kForward, ShardingKind::kContiguous), cal, all, &r).ok());
  EXPECT_EQ(r.phased_period, 0);
  EXPECT_FALSE(r.trace.events.empty());
}

}  // namespace
}  // namespace ringlab::sim
