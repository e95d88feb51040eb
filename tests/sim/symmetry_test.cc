// The symmetric run (one representative rank per class of shift-equivalent ranks, sim/README.md "Symmetry") must give
// exactly the summary of the general run that simulates every rank: compared as JSON text, so every double is equal
// to the bit. Also checks which configs take the symmetric path and which fall back.
#include <gtest/gtest.h>

#include <set>

#include <string>

#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::FlatProfile;
using testing::RingConfig;

struct Case {
  std::string name;
  ScheduleConfig cfg;
  HardwareProfile hw;
  TopologyConfig topo;
  int expect_period;  // the period FindSymmetryPeriod must find (W: none)
};

HardwareProfile H100() {
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  return hw;
}

void ExpectSameAsGeneral(const Case& c) {
  SCOPED_TRACE(c.name + ": " + Describe(c.cfg));
  SimOptions fast, general;
  fast.topology = general.topology = c.topo;
  fast.share_probe_above = general.share_probe_above = 8;  // exercise the sampled sharing too
  general.use_symmetry = false;
  SimResult a, b;
  ASSERT_TRUE(Simulate(c.cfg, c.hw, fast, &a).ok());
  ASSERT_TRUE(Simulate(c.cfg, c.hw, general, &b).ok());
  EXPECT_EQ(b.symmetry_period, c.cfg.world);
  EXPECT_EQ(a.symmetry_period, c.expect_period) << (a.symmetry_fallback ? "(fell back)" : "");
  EXPECT_FALSE(a.symmetry_fallback);
  EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
  EXPECT_EQ(a.stats.ops, b.stats.ops);
  EXPECT_EQ(a.stats.flows, b.stats.flows);
  EXPECT_EQ(a.stats.events, b.stats.events);
  EXPECT_EQ(a.schedule_op_count, b.schedule_op_count);
}

TEST(SimSymmetry, SingleNodeRingsRunOneRepresentative) {
  // Inside one node every route is NVLink, so a shift by one rank is a symmetry, but a ring step's two ends would be
  // one representative (FindSymmetryPeriod keeps them apart): P = 2.
  for (Method m : {Method::kAllToAll, Method::kAllGather})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      ExpectSameAsGeneral({"h100 one node", RingConfig(8, 8 * 2048, m, p), H100(), {}, 2});
}

TEST(SimSymmetry, MultiNodeBlockPlacementRunsOneNode) {
  // W = 64 on 8 nodes of 8, block placement: ranks at the same position in their node behave alike: P = 8.
  for (Method m : {Method::kAllToAll, Method::kAllGather})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      ExpectSameAsGeneral({"h100 8x8 block", RingConfig(64, 64 * 512, m, p), H100(), {}, 8});
  // 2 GPUs per node, W = 6 (the determinism test's shape): P = 2.
  TopologyConfig two;
  two.gpus_per_node = 2;
  for (Method m : {Method::kAllToAll, Method::kAllGather})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      ExpectSameAsGeneral({"h100 3x2 block", RingConfig(6, 6 * 2 * 1024, m, p), H100(), two, 2});
}

TEST(SimSymmetry, RoundRobinPlacementIsShiftSymmetric) {
  // Round robin over 8 nodes: every ring hop crosses nodes, for every rank: P = 2 (the ends of a hop apart).
  TopologyConfig rr;
  rr.placement = Placement::kRoundRobin;
  rr.nodes = 8;
  for (Pass p : {Pass::kForward, Pass::kBackward})
    ExpectSameAsGeneral({"h100 round robin", RingConfig(64, 64 * 512, Method::kAllToAll, p), H100(), rr, 2});
}

TEST(SimSymmetry, PeerVariantsAndFlatProfiles) {
  ScheduleConfig peer = RingConfig(16, 16 * 1024, Method::kAllToAll, Pass::kBackward);
  peer.variants = PeerVariants();
  ExpectSameAsGeneral({"peer variants", peer, H100(), {}, 8});
  // Slowdown with transfers that end while compute runs.
  HardwareProfile slow = FlatProfile(50, 100, 2, 25, 5);
  slow.comm_slowdown = 0.5;
  ExpectSameAsGeneral({"flat slowdown", RingConfig(16, 16 * 4096), slow, {}, 8});
  // Free compute (every attend takes 0 ps, so compute ends coincide with transfer starts), no slowdown.
  ExpectSameAsGeneral({"flat free compute", RingConfig(32, 32 * 1024), FlatProfile(1e12, 100, 10, 50, 20), {}, 8});
  ExpectSameAsGeneral(
      {"flat allgather", RingConfig(32, 32 * 1024, Method::kAllGather), FlatProfile(1e12, 100, 5, 20, 7), {}, 8});
}

TEST(SimSymmetry, NoSymmetryMeansTheGeneralPath) {
  // Contiguous causal sharding: every rank's program differs, so no shift is a symmetry.
  ScheduleConfig contiguous = RingConfig(64, 64 * 512);
  contiguous.sharding = ShardingKind::kContiguous;
  ExpectSameAsGeneral({"contiguous", contiguous, H100(), {}, 64});
  // 12 ranks on nodes of 8: the last node is partly used, so the ring's node crossings are not periodic.
  ExpectSameAsGeneral({"partial node", RingConfig(12, 12 * 1024), H100(), {}, 12});
}

TEST(SimSymmetry, WholeTraceUsesTheGeneralPathAFewRanksTheSymmetricOne) {
  SimOptions opt;
  opt.trace = TraceMode::kAll;
  SimResult r;
  ASSERT_TRUE(Simulate(RingConfig(16, 16 * 1024), H100(), opt, &r).ok());
  EXPECT_EQ(r.symmetry_period, 16);
  EXPECT_FALSE(r.trace.events.empty());
  // A few ranks, rank 13 outside the representatives 0..7: the symmetric run traces them (each does what its
  // representative does; traced_fast_path_test.cc compares with the general engine).
  opt.trace = TraceMode::kRanks;
  opt.trace_ranks = {0, 13};
  ASSERT_TRUE(Simulate(RingConfig(16, 16 * 1024), H100(), opt, &r).ok());
  EXPECT_LT(r.symmetry_period, 16);
  std::set<int> ranks;
  for (const TraceEvent& e : r.trace.events) ranks.insert(e.rank);
  EXPECT_EQ(ranks, (std::set<int>{0, 13}));
}

TEST(SimSymmetry, ContentionFallsBackToTheGeneralRun) {
  // Hand-made W = 4 programs (one node, so the period check passes with P = 2): every rank sends to both neighbours
  // in one group, so two flows share each egress port. The symmetric run must notice and redo the general run.
  auto op = [](int id, OpKind k, int peer_offset, int tag, int64_t bytes, bool with_next) {
    SimOp o;
    o.op_id = id;
    o.kind = k;
    o.peer_offset = peer_offset;
    o.tag = tag;
    o.bytes = bytes;
    o.group_with_next = with_next;
    return o;
  };
  std::vector<RankProgram> programs(1);
  programs[0].streams[1] = {op(0, OpKind::kSend, 1, 0, 1'000'000, true), op(1, OpKind::kSend, 3, 1, 3'000'000, true),
                            op(2, OpKind::kRecv, 3, 0, 1'000'000, true), op(3, OpKind::kRecv, 1, 1, 3'000'000, false)};
  const std::vector<uint32_t> of(4, 0);
  const HardwareProfile hw = FlatProfile(1, 100, 1);
  Topology topo;
  ASSERT_TRUE(Topology::Make(hw, 4, {}, &topo).ok());
  EXPECT_EQ(FindSymmetryPeriod(topo, programs, of), 2);
  Engine sym(topo, EngineParams::FromProfile(hw), programs, of, 2);
  ASSERT_TRUE(sym.Run().ok());
  EXPECT_TRUE(sym.symmetry_broken());
  Engine full(topo, EngineParams::FromProfile(hw), programs, of);
  ASSERT_TRUE(full.Run().ok());
  EXPECT_FALSE(full.symmetry_broken());
  // Each port carries a 1 MB and a 3 MB flow at half of 0.1 B/ps; the 1 MB flows hold their ports until their bytes
  // (2·10^7 ps) and 10^6 ps of latency are through; the 3 MB flows then have 3·10^6 − 0.05·2.1·10^7 = 1.95·10^6 bytes
  // left at the full rate: bytes end at 2.1·10^7 + 1.95·10^7 = 4.05·10^7 ps, plus the latency.
  EXPECT_EQ(full.totals()[0].end_ps, 40'500'000 + 1'000'000);
}

}  // namespace
}  // namespace ringlab::sim
