// The spliced program table (sim/program_table.h) must be op for op the whole compile of every rank, and a run over it
// must give exactly the general run's summary (as JSON text, every double to the bit) and op/event/flow counts: every
// method × pass × sharding, W not a power of two, multi-node topologies, GQA and MHA, the calibrated and the cuDNN-rate
// profile, fused and unfused variants.
#include <gtest/gtest.h>

#include <string>

#include "sim/program_table.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::RingConfig;
const auto Load = testing::LoadNamed;

// Every op of every rank of the fast table equals the whole compile of that rank.
void ExpectTableIsWholeCompile(const ScheduleConfig& cfg, const HardwareProfile& hw) {
  int64_t fast_ops = 0, whole_ops = 0;
  const ProgramTable fast = BuildProgramTable(cfg, hw, /*share_probe_above=*/8, &fast_ops);
  const ProgramTable whole = BuildProgramTable(cfg, hw, /*share_probe_above=*/0, &whole_ops);
  EXPECT_EQ(fast_ops, whole_ops);
  for (int r = 0; r < cfg.world; ++r) {
    EXPECT_EQ(fast.Flops(r), whole.Flops(r)) << "rank " << r;
    EXPECT_EQ(fast.MemoryBytes(r), whole.MemoryBytes(r)) << "rank " << r;
    for (int s = 0; s < kStreamCount; ++s) {
      ASSERT_EQ(fast.Size(r, s), whole.Size(r, s)) << "rank " << r << " stream " << s;
      for (int i = 0; i < fast.Size(r, s); ++i)
        ASSERT_TRUE(fast.Op(r, s, i) == whole.Op(r, s, i)) << "rank " << r << " stream " << s << " pos " << i;
    }
  }
}

void ExpectSameRun(const ScheduleConfig& cfg, const HardwareProfile& hw, const TopologyConfig& topo,
                   bool expect_spliced) {
  SCOPED_TRACE(hw.name + ": " + Describe(cfg));
  ExpectTableIsWholeCompile(cfg, hw);
  SimOptions fast, general;
  fast.topology = general.topology = topo;
  fast.share_probe_above = 8;
  general.share_probe_above = 0;  // every rank compiled whole
  general.use_symmetry = false;   // every rank simulated
  SimResult a, b;
  ASSERT_TRUE(Simulate(cfg, hw, fast, &a).ok());
  ASSERT_TRUE(Simulate(cfg, hw, general, &b).ok());
  if (expect_spliced) EXPECT_TRUE(a.programs_spliced);
  EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
  EXPECT_EQ(a.stats.ops, b.stats.ops);
  EXPECT_EQ(a.stats.flows, b.stats.flows);
  EXPECT_EQ(a.stats.events, b.stats.events);
  EXPECT_EQ(a.schedule_op_count, b.schedule_op_count);
}

ScheduleConfig Config(int world, Method m, Pass p, ShardingKind sh, int kv_heads = 8, int64_t tokens_per_gpu = 128) {
  ScheduleConfig c = RingConfig(world, tokens_per_gpu * world, m, p);
  c.sharding = sh;
  c.problem.kv_heads = kv_heads;
  return c;
}

TEST(SimProgramTable, CalibratedProfileEveryMethodPassSharding) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (int w : {14, 37, 64, 200})
    for (Method m : {Method::kAllGather, Method::kAllToAll})
      for (Pass p : {Pass::kForward, Pass::kBackward})
        for (ShardingKind sh : kShardingKinds)
          ExpectSameRun(Config(w, m, p, sh), hw, {}, /*expect_spliced=*/false);
}

TEST(SimProgramTable, ContiguousIsAlwaysSpliced) {
  // Contiguous sharding: a later origin is fully masked, so every rank's program is distinct at any block size.
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Method m : {Method::kAllGather, Method::kAllToAll})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      ExpectSameRun(Config(37, m, p, ShardingKind::kContiguous), hw, {}, /*expect_spliced=*/true);
}

TEST(SimProgramTable, LargerBlocksSpliceHeadTail) {
  // 4096 tokens per GPU: the two head-tail orientations take different times, so programs differ and are spliced.
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Method m : {Method::kAllGather, Method::kAllToAll})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      ExpectSameRun(Config(24, m, p, ShardingKind::kHeadTail, 8, 4096), hw, {}, /*expect_spliced=*/true);
}

TEST(SimProgramTable, MultiNodeGqaMhaAndProfiles) {
  for (const char* profile : {"h100_sxm", "h100_sxm_calibrated", "h100_pytorch_peer"}) {
    const HardwareProfile hw = Load(profile);
    for (ShardingKind sh : kShardingKinds)
      for (Pass p : {Pass::kForward, Pass::kBackward}) {
        // 5 nodes of 4 (W = 20), block placement; and round robin over 3 nodes (W = 30), MHA.
        ExpectSameRun(Config(20, Method::kAllToAll, p, sh, 8, 1024), hw, {.nodes = 5, .gpus_per_node = 4}, false);
        ExpectSameRun(Config(30, Method::kAllGather, p, sh, 32, 1024), hw,
                      {.nodes = 3, .gpus_per_node = 10, .placement = Placement::kRoundRobin}, false);
      }
  }
}

TEST(SimProgramTable, PeerVariants) {
  // Unfused merge and packed K/V (PyTorch's variants) add ops per step; the splice must follow them.
  const HardwareProfile hw = Load("h100_pytorch_peer");
  for (Method m : {Method::kAllGather, Method::kAllToAll})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      for (ShardingKind sh : kShardingKinds) {
        ScheduleConfig c = Config(26, m, p, sh, 8, 2048);
        c.variants = PeerVariants();
        ExpectSameRun(c, hw, {}, false);
      }
}

TEST(SimProgramTable, TracedRanksMatchWholeCompile) {
  // A traced run over spliced programs records the same events (op ids, times) as over whole compiles.
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (ShardingKind sh : kShardingKinds) {
    const ScheduleConfig cfg = Config(40, Method::kAllToAll, Pass::kBackward, sh, 8, 4096);
    SimOptions fast, whole;
    fast.trace = whole.trace = TraceMode::kRanks;
    fast.trace_ranks = whole.trace_ranks = {0, 3, 20, 39};
    fast.share_probe_above = 8;
    whole.share_probe_above = 0;
    SimResult a, b;
    ASSERT_TRUE(Simulate(cfg, hw, fast, &a).ok());
    ASSERT_TRUE(Simulate(cfg, hw, whole, &b).ok());
    // Balanced chunk lists follow no rank pattern: compiled whole (and still equal).
    EXPECT_EQ(a.programs_spliced, sh != ShardingKind::kBalanced);
    ASSERT_EQ(a.trace.events.size(), b.trace.events.size());
    for (size_t i = 0; i < a.trace.events.size(); ++i) {
      EXPECT_EQ(a.trace.events[i].rank, b.trace.events[i].rank);
      EXPECT_EQ(a.trace.events[i].op, b.trace.events[i].op);
      EXPECT_EQ(a.trace.events[i].ts_us, b.trace.events[i].ts_us);
      EXPECT_EQ(a.trace.events[i].dur_us, b.trace.events[i].dur_us);
    }
  }
}

}  // namespace
}  // namespace ringlab::sim
