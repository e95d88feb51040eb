// Closed-form checks of the simulator's Ulysses parts: the all-to-all on the topology (sim/engine_alltoall.cc), group
// collectives of the hybrid (only the group takes part), and whole Ulysses and hybrid steps. Every expected time is
// derived in the comment beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/schedule.h"
#include "sim/collective_groups.h"
#include "sim/engine.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::FlatProfile;

constexpr double kPsPerUs = 1e6;

// One collective op of `kind` among groups of (stride, size), `bytes` per member.
SimOp Collective(OpKind kind, int tag, int64_t bytes, int stride, int size) {
  SimOp o;
  o.kind = kind;
  o.tag = tag;
  o.bytes = bytes;
  o.group_stride = stride;
  o.group_size = size;
  return o;
}

// Runs `world` ranks on nodes of `gpn` GPUs; rank r runs programs[program_of[r]]. Returns each rank's end in us.
std::vector<double> RunRanks(const HardwareProfile& hw, int world, int gpn, const std::vector<RankProgram>& programs,
                             const std::vector<uint32_t>& program_of) {
  Topology topo;
  EXPECT_TRUE(Topology::Make(hw, world, TopologyConfig{.gpus_per_node = gpn}, &topo).ok());
  Engine engine(topo, EngineParams::FromProfile(hw), programs, program_of);
  const Status st = engine.Run();
  EXPECT_TRUE(st.ok()) << st.message();
  std::vector<double> end;
  for (const RankTotals& t : engine.totals()) end.push_back(double(t.end_ps) / kPsPerUs);
  return end;
}

// Program 0 posts `op` at once; program 1 computes `us` first.
std::vector<RankProgram> PromptAndDelayed(const SimOp& op, double us) {
  std::vector<RankProgram> programs(2);
  programs[0].streams[1] = {op};
  programs[1] = programs[0];
  SimOp kernel;
  kernel.kind = OpKind::kAttend;
  kernel.dur_ps = TimePs(us * kPsPerUs);
  programs[1].streams[0] = {kernel};
  programs[1].streams[1][0].need_done[0] = 1;
  return programs;
}

std::vector<double> RunAllToAll(const HardwareProfile& hw, int world, int gpn, int u, int64_t bytes) {
  std::vector<RankProgram> programs(1);
  programs[0].streams[1] = {Collective(OpKind::kAllToAll, 0, bytes, 1, u)};
  return RunRanks(hw, world, gpn, programs, std::vector<uint32_t>(world, 0));
}

TEST(SimAllToAll, OneNodeIsLatencyPlusTheOtherMembersShareOverNvlink) {
  // U = 8 in one node of 8: each member's buffer is B bytes, of which it sends (U−1)/U·B = op.bytes, all over its
  // NVLink port at 100 GB/s after one 5 us latency (U−1 concurrent flows share the port): 5 us + (7/8)·B / 100 GB/s.
  const HardwareProfile hw = FlatProfile(1e12, 100, /*nvl_latency_us=*/5);
  const int64_t buffer = 8 << 20, sent = buffer / 8 * 7;
  for (double end : RunAllToAll(hw, 8, 8, 8, sent)) EXPECT_NEAR(end, 5 + double(sent) / 100e9 * 1e6, 1e-5);
}

TEST(SimAllToAll, AcrossNodesTheNicCarriesTheRemoteMembersShare) {
  // U = 16 on 2 nodes of 8: a member has 7 peers on its node (NVLink 100 GB/s, 5 us) and 8 on the other (NIC
  // 20 GB/s, 9 us), each getting B/16 of its B-byte buffer. The two parts run at once; the NIC part is longer:
  // 9 us + (8/16)·B / 20 GB/s.
  const HardwareProfile hw = FlatProfile(1e12, 100, 5, /*nic_gbps=*/20, /*nic_latency_us=*/9);
  const int64_t buffer = 16 << 20, sent = buffer / 16 * 15;
  for (double end : RunAllToAll(hw, 16, 8, 16, sent)) EXPECT_NEAR(end, 9 + double(buffer / 2) / 20e9 * 1e6, 1e-5);
  // Two groups of U = 8, one per node: NVLink only, as in one node.
  const int64_t sent8 = 7 << 20;
  for (double end : RunAllToAll(hw, 16, 8, 8, sent8)) EXPECT_NEAR(end, 5 + double(sent8) / 100e9 * 1e6, 1e-5);
}

TEST(SimAllToAll, WaitsForTheLastMemberAndEndsTogether) {
  // U = 4 in one node; rank 2 computes 50 us first, so the exchange starts at 50 us on every member and ends at
  // 50 + 2 + (3/4)·B / 100 GB/s on all of them.
  const HardwareProfile hw = FlatProfile(1e12, 100, 2);
  const int64_t sent = 3 << 20;
  const std::vector<RankProgram> programs = PromptAndDelayed(Collective(OpKind::kAllToAll, 0, sent, 1, 4), 50);
  for (double end : RunRanks(hw, 4, 8, programs, {0, 0, 1, 0}))
    EXPECT_NEAR(end, 50 + 2 + double(sent) / 100e9 * 1e6, 1e-5);
}

TEST(SimGroupCollectives, OnlyTheGroupTakesPart) {
  // W = 4, all-gathers among groups {0, 2} and {1, 3} (stride 2, size 2): one ring step of the whole op.bytes.
  // Ranks 1 and 3 compute 100 us first; the group {0, 2} does not wait for them: it ends at 3 us + B / 100 GB/s,
  // the other group 100 us later. If the collective spanned every rank, all four would end together.
  const HardwareProfile hw = FlatProfile(1e12, 100, 3);
  const int64_t bytes = 4 << 20;
  const std::vector<RankProgram> programs = PromptAndDelayed(Collective(OpKind::kAllGather, 0, bytes, 2, 2), 100);
  const std::vector<double> end = RunRanks(hw, 4, 8, programs, {0, 1, 0, 1});
  const double x = 3 + double(bytes) / 100e9 * 1e6;
  EXPECT_NEAR(end[0], x, 1e-5);
  EXPECT_NEAR(end[2], x, 1e-5);
  EXPECT_NEAR(end[1], 100 + x, 1e-5);
  EXPECT_NEAR(end[3], 100 + x, 1e-5);
}

TEST(SimGroupCollectives, CompiledProgramsNameTheirRingGroup) {
  // Hybrid U = 2 × R = 4, consecutive: the all-gather runs among ranks u, u+2, u+4, u+6 (stride 2, size 4); the
  // all-to-all among pairs (stride 1, size 2). Strided: the ring is 4 consecutive ranks, the all-to-all stride 4.
  ScheduleConfig cfg = testing::RingConfig(8, 8 * 256, Method::kAllGather);
  cfg.ulysses = 2;
  for (auto [placement, ag_stride, a2a_stride] :
       {std::tuple{UlyssesPlacement::kConsecutive, 2, 1}, std::tuple{UlyssesPlacement::kStrided, 1, 4}}) {
    cfg.placement = placement;
    ASSERT_TRUE(ValidateConfig(cfg).ok());
    const HardwareProfile hw = FlatProfile(100, 100);
    const CostModel cost(hw, cfg);
    for (int r = 0; r < 8; ++r) {
      RankProgram p = CompileRank(BuildRankSchedule(cfg, r), r, 8, cost);
      AssignCollectiveGroups(cfg, r, &p);
      int collectives = 0;
      for (const SimOp& o : p.streams[1]) {
        if (o.kind == OpKind::kAllGather) EXPECT_EQ(std::pair(o.group_stride, o.group_size), std::pair(ag_stride, 4));
        if (o.kind == OpKind::kAllToAll) EXPECT_EQ(std::pair(o.group_stride, o.group_size), std::pair(a2a_stride, 2));
        collectives += o.kind == OpKind::kAllGather || o.kind == OpKind::kAllToAll;
      }
      EXPECT_EQ(collectives, 5);  // K/V and Q in, the all-gather, out and lse back
      EXPECT_TRUE(NeedsGeneralEngine(p));
    }
  }
}

// Rank 0's ops of `cfg`, and the time alone of each op (compute: FLOPs / rate; all-to-all: latency + bytes / NVLink),
// for a flat profile of `tflops` and NVLink `gbps` with `lat_us`.
double SumOfOps(const ScheduleConfig& cfg, double tflops, double gbps, double lat_us, OpKind kind) {
  double us = 0;
  for (const Op& op : BuildRankSchedule(cfg, 0).ops) {
    if (op.kind != kind) continue;
    us += kind == OpKind::kAttend ? std::llround(op.flops / tflops) / kPsPerUs
                                  : lat_us + double(op.bytes) / (gbps * 1e9) * 1e6;
  }
  return us;
}

TEST(SimUlysses, PureUlyssesStepIsAllToAllsThenComputeThenAllToAlls) {
  // U = W = 8 in one node, forward: K/V and Q all-to-alls, one causal attend over the whole sequence on H/8 heads,
  // then out and lse back. Nothing overlaps: step = Σ all-to-all (latency + (U−1)/U·buffer / NVLink) + compute.
  // The all-to-all bytes are checked against (U−1)/U of the buffers they exchange.
  const HardwareProfile hw = FlatProfile(200, 100, 4);
  ScheduleConfig cfg = testing::RingConfig(8, 8 * 1024);
  cfg.ulysses = 8;
  ASSERT_TRUE(ValidateConfig(cfg).ok());
  const std::vector<Op> ops = BuildRankSchedule(cfg, 0).ops;
  const int64_t piece = 1024;
  ASSERT_EQ(ops[0].kind, OpKind::kAllToAll);
  EXPECT_EQ(ops[0].bytes, cfg.problem.KvBytes(piece) / 8 * 7);  // K/V of the piece, all KV heads
  EXPECT_EQ(ops[1].bytes, cfg.problem.QBytes(piece) / 8 * 7);
  const double a2a = SumOfOps(cfg, 200, 100, 4, OpKind::kAllToAll);
  const double compute = SumOfOps(cfg, 200, 100, 4, OpKind::kAttend);
  SimResult r;
  ASSERT_TRUE(Simulate(cfg, hw, SimOptions{}, &r).ok());
  EXPECT_NEAR(r.summary.step_time_us, a2a + compute, 1e-5);
  EXPECT_NEAR(r.summary.exposed_comm_us, a2a, 1e-5);
  EXPECT_TRUE(r.alltoall_extrapolated);
  EXPECT_EQ(r.symmetry_period, 8);  // the general engine
}

TEST(SimUlysses, ComputeBoundHybridHidesTheRingBetweenTheAllToAlls) {
  // U = 4 × R = 2 in one node, forward, compute-bound (ring transfer ≪ a block): step = the inbound all-to-alls +
  // both ring steps' compute + the outbound all-to-alls; the ring transfer runs under the first block.
  const HardwareProfile hw = FlatProfile(50, 400, 1);
  ScheduleConfig cfg = testing::RingConfig(8, 8 * 1024);
  cfg.ulysses = 4;
  ASSERT_TRUE(ValidateConfig(cfg).ok());
  const double a2a = SumOfOps(cfg, 50, 400, 1, OpKind::kAllToAll);
  const double compute = SumOfOps(cfg, 50, 400, 1, OpKind::kAttend);
  SimResult r;
  ASSERT_TRUE(Simulate(cfg, hw, SimOptions{}, &r).ok());
  EXPECT_NEAR(r.summary.step_time_us, a2a + compute, 1e-5);
  EXPECT_NEAR(r.summary.exposed_comm_us, a2a, 1e-5);
}

TEST(SimUlysses, BackwardAndStridedPlacementsRunAndAgreeWithEveryRankCompiled) {
  // Every hybrid shape of the issue on 2 nodes of 8 (W = 16), both passes and methods: the simulation finishes and
  // sampled program sharing (off for ulysses > 1) changes nothing.
  const HardwareProfile hw = FlatProfile(300, 200, 2, 25, 8);
  for (int u : {2, 4, 8})
    for (UlyssesPlacement pl : {UlyssesPlacement::kConsecutive, UlyssesPlacement::kStrided})
      for (Method m : {Method::kAllToAll, Method::kAllGather})
        for (Pass pass : {Pass::kForward, Pass::kBackward}) {
          ScheduleConfig cfg = testing::RingConfig(16, 16 * 512, m, pass);
          cfg.ulysses = u;
          cfg.placement = pl;
          SCOPED_TRACE(Describe(cfg));
          SimOptions sampled, all;
          sampled.share_probe_above = 4;
          all.share_probe_above = 0;
          SimResult a, b;
          ASSERT_TRUE(Simulate(cfg, hw, sampled, &a).ok());
          ASSERT_TRUE(Simulate(cfg, hw, all, &b).ok());
          EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
          EXPECT_GT(a.summary.step_time_us, 0);
        }
}

}  // namespace
}  // namespace ringlab::sim
