// Closed-form checks of the engine: every expected time below is derived in the comment beside it.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <fstream>
#include <iterator>

#include "core/metrics.h"
#include "core/trace.h"
#include "sim/engine.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::FlatProfile;
using testing::RingConfig;

constexpr double kPsPerUs = 1e6;

// Bytes of one rank's K+V shard of s tokens: 2·B·Hkv·s·D·2 = 4096·s for B=1, Hkv=8, D=128, bf16.
double KvBytes(int64_t s) { return 4096.0 * double(s); }

SimResult SimRun(const ScheduleConfig& cfg, const HardwareProfile& hw, SimOptions opt = {}) {
  SimResult r;
  Status st = Simulate(cfg, hw, opt, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

// Hand-made programs for two ranks. A compute op of `us` microseconds:
SimOp Kernel(double us) {
  SimOp o;
  o.kind = OpKind::kAttend;
  o.dur_ps = TimePs(std::llround(us * kPsPerUs));
  return o;
}

// A send or receive of `bytes` with the other rank (peer offset 1), matched by `tag`.
SimOp Transfer(OpKind kind, int tag, int64_t bytes) {
  SimOp o;
  o.kind = kind;
  o.peer_offset = 1;
  o.tag = tag;
  o.bytes = bytes;
  return o;
}

// Runs rank 0 (compute and comm streams) and rank 1 (comm stream only) on `hw`; `setup` adjusts the engine's parameters
// first.
// Returns each rank's end time in microseconds.
std::array<double, 2> RunPair(const HardwareProfile& hw, std::vector<SimOp> compute0, std::vector<SimOp> comm0,
                              std::vector<SimOp> comm1, const std::function<void(EngineParams&)>& setup = nullptr) {
  std::vector<RankProgram> programs(2);
  programs[0].streams[0] = std::move(compute0);
  programs[0].streams[1] = std::move(comm0);
  programs[1].streams[1] = std::move(comm1);
  const std::vector<uint32_t> program_of = {0, 1};  // the engine keeps references to both
  Topology topo;
  EXPECT_TRUE(Topology::Make(hw, 2, TopologyConfig{}, &topo).ok());
  EngineParams params = EngineParams::FromProfile(hw);
  if (setup) setup(params);
  Engine engine(topo, params, programs, program_of);
  const Status st = engine.Run();
  EXPECT_TRUE(st.ok()) << st.message();
  return {engine.totals()[0].end_ps / kPsPerUs, engine.totals()[1].end_ps / kPsPerUs};
}

TEST(SimEngine, ComputeOnlyIsFlopsOverRate) {
  // W = 1: one causal attend of S = 8192; FLOPs = 4·B·H·D·S²/2, time = FLOPs / (500 TFLOP/s), in ps = FLOPs / 500.
  const HardwareProfile hw = FlatProfile(500, 100);
  const SimResult r = SimRun(RingConfig(1, 8192), hw);
  const double flops = 4.0 * 32 * 128 * 8192.0 * 8192.0 / 2;
  EXPECT_NEAR(r.summary.step_time_us, std::llround(flops / 500) / kPsPerUs, 1e-6);
  EXPECT_NEAR(r.summary.max_compute_us, r.summary.step_time_us, 1e-9);
  EXPECT_EQ(r.summary.exposed_comm_us, 0);
  EXPECT_DOUBLE_EQ(r.summary.total_flops, flops);
}

TEST(SimEngine, CommunicationOnlyIsLatencyPlusBytesOverBandwidth) {
  // W = 2 ring, compute made free (10^12 TFLOP/s rounds every attend to 0 ps): one exchange of the 4096-token shard
  // over NVLink at 100 GB/s (0.1 byte/ps) with 10 us latency: 10 us + 4096·4096 B / 100 GB/s.
  const HardwareProfile hw = FlatProfile(1e12, 100, /*nvl_latency_us=*/10);
  const SimResult r = SimRun(RingConfig(2, 8192), hw);
  const double expect_us = 10 + KvBytes(4096) / 100e9 * 1e6;
  EXPECT_NEAR(r.summary.step_time_us, expect_us, 2e-6);
  EXPECT_NEAR(r.summary.max_compute_us, 0, 1e-9);
  EXPECT_NEAR(r.summary.exposed_comm_us, expect_us, 2e-6);
}

TEST(SimEngine, ComputeBoundRingHidesEveryTransfer) {
  // W = 4 head-tail causal, s = 4096 tokens per GPU: every step (the local causal block and each off-diagonal block)
  // has s²/2 pairs = 4·B·H·D·s²/2 FLOPs; at 100 TFLOP/s that is c = 1374.4 us against a transfer of x = 167.8 us.
  // ringlab posts the first transfer before the local block, so every transfer, the first included, runs under a
  // compute step: step = W·c, exposed = 0.
  const HardwareProfile hw = FlatProfile(100, 100);
  const SimResult r = SimRun(RingConfig(4, 4 * 4096), hw);
  const double c_ps = std::llround(4.0 * 32 * 128 * 4096.0 * 4096.0 / 2 / 100);
  EXPECT_NEAR(r.summary.step_time_us, 4 * c_ps / kPsPerUs, 1e-6);
  EXPECT_NEAR(r.summary.exposed_comm_us, 0, 1e-6);
  EXPECT_NEAR(r.summary.overlap_fraction, 1.0, 1e-12);
}

TEST(SimEngine, TransferBoundRingExposesAllButOneCompute) {
  // Same ring with transfers x = 1677.7 us (10 GB/s) longer than compute c = 137.4 us (1000 TFLOP/s): transfers run
  // back to back and the last block follows the last transfer: step = (W−1)·x + c.
  const HardwareProfile hw = FlatProfile(1000, 10);
  const SimResult r = SimRun(RingConfig(4, 4 * 4096), hw);
  const double c_ps = std::llround(4.0 * 32 * 128 * 4096.0 * 4096.0 / 2 / 1000);
  const double x_ps = KvBytes(4096) / 0.01;
  EXPECT_NEAR(r.summary.step_time_us, (3 * x_ps + c_ps) / kPsPerUs, 3e-6);
  EXPECT_NEAR(r.summary.exposed_comm_us, 3 * (x_ps - c_ps) / kPsPerUs, 3e-6);
}

TEST(SimEngine, AllGatherExposedIsRingStepsOfShardOverBandwidth) {
  // W = 4 all-gather with free compute: W−1 ring steps, each moving one shard (KvBytes(s)) at 100 GB/s after a 5 us
  // latency: exposed = (W−1)·(5 us + shard / bandwidth).
  const HardwareProfile hw = FlatProfile(1e12, 100, /*nvl_latency_us=*/5);
  const SimResult r = SimRun(RingConfig(4, 4 * 4096, Method::kAllGather), hw);
  const double expect_us = 3 * (5 + KvBytes(4096) / 100e9 * 1e6);
  EXPECT_NEAR(r.summary.step_time_us, expect_us, 4e-6);
  EXPECT_NEAR(r.summary.exposed_comm_us, expect_us, 4e-6);
}

TEST(SimEngine, CollectiveHopLatencyReplacesLinkLatencyInRingSteps) {
  // As above with a 50 us link latency but a 2 us hop latency for collective steps: 3·(2 us + shard / bandwidth).
  HardwareProfile hw = FlatProfile(1e12, 100, /*nvl_latency_us=*/50);
  hw.collective_step_latency_us = 7;  // ignored once the hop latency is set
  hw.collective_hop_latency_us = 2;
  const SimResult r = SimRun(RingConfig(4, 4 * 4096, Method::kAllGather), hw);
  EXPECT_NEAR(r.summary.step_time_us, 3 * (2 + KvBytes(4096) / 100e9 * 1e6), 4e-6);
}

TEST(SimEngine, AllGatherAcrossNodesRunsAtTheNicRate) {
  // 4 ranks on 2 nodes of 2: the ring crosses nodes twice; each step waits for the NIC hop (20 GB/s, 7 us), so
  // every step takes 7 us + shard / 20 GB/s.
  HardwareProfile hw = FlatProfile(1e12, 100, 5, /*nic_gbps=*/20, /*nic_latency_us=*/7);
  hw.gpus_per_node = 2;
  const SimResult r = SimRun(RingConfig(4, 4 * 4096, Method::kAllGather), hw);
  EXPECT_NEAR(r.summary.step_time_us, 3 * (7 + KvBytes(4096) / 20e9 * 1e6), 4e-6);
}

// Hand-made programs on W = 3 (one node): rank 0 posts sends to ranks 1 and 2 in one group.
struct TwoFlows {
  std::vector<RankProgram> programs{3};
  std::vector<uint32_t> of{0, 1, 2};
  TwoFlows(int64_t bytes1, int64_t bytes2) {
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
    programs[0].streams[1] = {op(0, OpKind::kSend, 1, 0, bytes1, true), op(1, OpKind::kSend, 2, 1, bytes2, false)};
    programs[1].streams[1] = {op(0, OpKind::kRecv, 2, 0, bytes1, false)};  // from rank 0: offset (0−1) mod 3
    programs[2].streams[1] = {op(0, OpKind::kRecv, 1, 1, bytes2, false)};  // from rank 0: offset (0−2) mod 3
  }
};

TEST(SimEngine, TwoFlowsOnOneLinkGetHalfTheBandwidthEach) {
  // Both sends leave rank 0's NVLink port (100 GB/s = 0.1 B/ps): each runs at 0.05 B/ps, so 10^8 bytes each end at
  // 2·10^8 / 0.1 = 2·10^9 ps, plus the 3 us latency, instead of 10^9 ps alone.
  const HardwareProfile hw = FlatProfile(1, 100, /*nvl_latency_us=*/3);
  Topology topo;
  ASSERT_TRUE(Topology::Make(hw, 3, {}, &topo).ok());
  TwoFlows t(100'000'000, 100'000'000);
  Engine e(topo, EngineParams::FromProfile(hw), t.programs, t.of);
  ASSERT_TRUE(e.Run().ok());
  EXPECT_EQ(e.totals()[1].end_ps, 2'000'000'000 + 3'000'000);
  EXPECT_EQ(e.totals()[2].end_ps, 2'000'000'000 + 3'000'000);
}

TEST(SimEngine, BandwidthReturnsToTheRemainingFlow) {
  // 10^8 and 2·10^8 bytes share the port at 0.05 B/ps until the first finishes at 2·10^9 ps; the second then has
  // 10^8 bytes left at the full 0.1 B/ps: it ends at 3·10^9 ps.
  const HardwareProfile hw = FlatProfile(1, 100);
  Topology topo;
  ASSERT_TRUE(Topology::Make(hw, 3, {}, &topo).ok());
  TwoFlows t(100'000'000, 200'000'000);
  Engine e(topo, EngineParams::FromProfile(hw), t.programs, t.of);
  ASSERT_TRUE(e.Run().ok());
  EXPECT_EQ(e.totals()[1].end_ps, 2'000'000'000);
  EXPECT_EQ(e.totals()[2].end_ps, 3'000'000'000);
}

TEST(SimEngine, TransferPostedBesideARunningKernelWaitsItsShareOfTheKernel) {
  // Two ranks, hand-made programs. Rank 0 runs a 100 us kernel from t = 0; its comm stream first exchanges a 1-byte
  // message with rank 1 (done at the 10 us latency), then posts a receive of 1 MB at t = 10 us while the kernel runs.
  // Rank 1 (idle compute) posts the matching send at 10 us. With comm_start_wait = 0.5 the transfer starts after half of
  // the kernel's remaining 90 us: 10 + 45 + 10 (latency) + 1e6 B / 100 GB/s (10 us) = 75 us; without it, 30 us.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  for (auto [wait, end_us] : {std::pair{0.0, 100.0}, {0.5, 100.0}}) {
    hw.comm_start_wait = wait;
    const auto end = RunPair(hw, {Kernel(100)}, {Transfer(OpKind::kSend, 0, 1), Transfer(OpKind::kRecv, 1, 1000000)},
                             {Transfer(OpKind::kRecv, 0, 1), Transfer(OpKind::kSend, 1, 1000000)});
    EXPECT_NEAR(end[0], end_us, 1e-6);  // rank 0 ends with its kernel either way
    // (+10 ps for the 1-byte message, within the tolerance)
    EXPECT_NEAR(end[1], wait == 0 ? 30.0 : 75.0, 2e-5) << "wait " << wait;
  }
}

TEST(SimEngine, TransferBesideAKernelGetsSmsWhenItsFirstSlotIdles) {
  // As above, but the running kernel carries a wave-model first-idle fraction of 0.5: NCCL's kernel gets an SM at
  // 50 us whatever comm_start_wait says (0.9 here): 50 + 10 (latency) + 10 (1 MB at 100 GB/s) = 70 us. Without the
  // fraction (−1), comm_start_wait applies: 10 + 0.9·90 + 20 = 111 us. Posted after the idle point: at once.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 0.9;
  for (auto [frac, end_us] : {std::pair{0.5f, 70.0}, {-1.0f, 111.0}, {0.05f, 30.0}}) {
    SimOp attend = Kernel(100);
    attend.idle_frac = frac;
    const auto end = RunPair(hw, {attend}, {Transfer(OpKind::kSend, 0, 1), Transfer(OpKind::kRecv, 1, 1000000)},
                             {Transfer(OpKind::kRecv, 0, 1), Transfer(OpKind::kSend, 1, 1000000)});
    EXPECT_NEAR(end[1], end_us, 2e-5) << "fraction " << frac;
  }
}

TEST(SimEngine, KernelFirstRanksDelayAPassStartTransferByTheExpectedWait) {
  // Rank 0 starts a 100 us kernel (first idle slot at 0.8 of it) and a 1 MB send to rank 1 at t = 0 (NVLink
  // 100 GB/s, 10 us latency). Listed first, the transfer gets its SMs at once: 10 + 10 = 20 us. With a kernel-first
  // fraction f per rank, a pair has q = 1 − (1 − f)² of at least one kernel-first end: f = 0.5 -> q = 0.75, the
  // transfer starts at 0.75 · 80 = 60 us and ends at 80 us; f = 1 -> 80 + 20 = 100 us.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 1;
  for (auto [f, end_us] : {std::pair{0.0, 20.0}, {0.5, 80.0}, {1.0, 100.0}}) {
    SimOp attend = Kernel(100);
    attend.idle_frac = 0.8f;
    const auto end = RunPair(hw, {attend}, {Transfer(OpKind::kSend, 0, 1000000)}, {Transfer(OpKind::kRecv, 0, 1000000)},
                             [f = f](EngineParams& p) { p.kernel_first_fraction = f; });
    EXPECT_NEAR(end[1], end_us, 2e-5) << "f " << f;
  }
}

TEST(SimEngine, AKernelListedAfterAnNcclGroupWaitsForTheHostToPostIt) {
  // Rank 0 lists a 1 MB send (op 0, no dependencies) before a 100 us kernel (op 1); rank 1 receives. NVLink 100 GB/s,
  // 10 us latency, no start wait. With a first-kernel delay of 20 us the kernel runs 20 -> 120 us; the transfer is
  // unaffected (0 -> 20 us). Listed the other way round (kernel op 0, send op 1) nothing waits: the kernel ends at 100.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  for (auto [kernel_first, end0_us] : {std::pair{false, 120.0}, {true, 100.0}}) {
    SimOp attend = Kernel(100), send = Transfer(OpKind::kSend, 0, 1000000);
    attend.op_id = kernel_first ? 0 : 1;
    send.op_id = kernel_first ? 1 : 0;
    const auto end = RunPair(hw, {attend}, {send}, {Transfer(OpKind::kRecv, 0, 1000000)},
                             [](EngineParams& p) { p.first_kernel_delay_ps = 20 * 1000000; });
    EXPECT_NEAR(end[0], end0_us, 1e-6) << "kernel listed first " << kernel_first;
    EXPECT_NEAR(end[1], 20.0, 1e-6);
  }
}

TEST(SimEngine, AHeldFirstKernelStillMakesThePassStartTransferWaitOnKernelFirstRanks) {
  // Both pass-start rules together: send (op 0) listed before a 100 us kernel (op 1, first idle slot at 0.8 of it,
  // 2x slower beside NCCL), first-kernel delay 20 us, kernel-first fraction 0.5 (q = 0.75 for a pair). The transfer
  // waits the expected 0.75 · 80 = 60 us and runs 60 -> 80 us (10 latency + 10 bytes); the kernel runs 20 -> 120 us,
  // not slowed: NCCL's kernel waits for its SMs and holds none (were it counted as holding them from 20 us, the kernel
  // would run 2x slower until 80 us and end at 150).
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 1;
  hw.comm_slowdown = 1;
  SimOp attend = Kernel(100), send = Transfer(OpKind::kSend, 0, 1000000);
  attend.idle_frac = 0.8f;
  attend.slowdown = 1.0f;
  attend.op_id = 1;
  send.op_id = 0;
  const auto end = RunPair(hw, {attend}, {send}, {Transfer(OpKind::kRecv, 0, 1000000)}, [](EngineParams& p) {
    p.kernel_first_fraction = 0.5;
    p.first_kernel_delay_ps = 20 * 1000000;
  });
  EXPECT_NEAR(end[0], 120.0, 1e-6);
  EXPECT_NEAR(end[1], 80.0, 2e-5);
}

TEST(SimEngine, ATransferPostedBeforeAKernelsLastRoundPushesItsCtasOneRoundLater) {
  // Rank 0's kernel (100 us, last round from 50 us: idle fraction 0.5) can lose its last round to NCCL: 40 us more
  // (displaced_ps). A transfer posted at 0 waits for the last round, takes SMs then and the kernel ends at
  // 100 + f·40 us, f = the profile's displaced_tail_fraction (1, 0.25, 0). The transfer is second on the comm stream,
  // after an exchange of 1 byte (10 us: posted at 10 us, while the kernel runs) or of 5 MB (60 us: posted after the last
  // round started, nothing to displace).
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 0.9;
  for (auto [fraction, late, end_us] : {std::tuple{1.0, false, 140.0}, {0.25, false, 110.0}, {0.0, false, 100.0},
                                        {1.0, true, 100.0}}) {
    hw.displaced_tail_fraction = fraction;
    SimOp attend = Kernel(100);
    attend.idle_frac = 0.5f;
    attend.displaced_ps = 40 * 1000000;
    const int64_t first_bytes = late ? 5000000 : 1;
    const auto end = RunPair(hw, {attend}, {Transfer(OpKind::kSend, 0, first_bytes), Transfer(OpKind::kRecv, 1, 1)},
                             {Transfer(OpKind::kRecv, 0, first_bytes), Transfer(OpKind::kSend, 1, 1)});
    EXPECT_NEAR(end[0], end_us, 0.5) << "fraction " << fraction << " late " << late;
  }
}

TEST(SimEngine, AKernelLaunchedBesideNcclIsListScheduledWhenNcclLeaves) {
  // 5 CTAs of 10 us on 4 slots, NCCL holding 1 until 15 us: 3 run 0-10, the other 2 take the slots freed at 10 (the
  // held one only frees at 15): 20 us. NCCL gone at 5: 4 run 0-10 (the held slot took the 4th at 5: 5-15), the 5th
  // 10-20. One CTA per slot (4 CTAs): 10 us unless NCCL stays past the first round (held 15: the 4th starts at 10).
  EXPECT_EQ(HeldSlotsMakespan(5, 4, 1, 10, 15), 20);
  EXPECT_EQ(HeldSlotsMakespan(5, 4, 1, 10, 5), 20);
  EXPECT_EQ(HeldSlotsMakespan(4, 4, 1, 10, 5), 15);
  EXPECT_EQ(HeldSlotsMakespan(3, 4, 1, 10, 50), 10);
  EXPECT_EQ(HeldSlotsMakespan(4, 4, 1, 10, 15), 20);
  // 128 CTAs on 132 slots with 25 held for the whole first round: two rounds, where a rate says 1 + overlap share.
  EXPECT_EQ(HeldSlotsMakespan(128, 132, 25, 100, 135), 200);
  EXPECT_EQ(HeldSlotsMakespan(128, 132, 0, 100, 135), 100);
}

TEST(SimEngine, AMeasuredTransferTimeReplacesTheLineLatencyIncluded) {
  // The profile's line says 1 MB takes 10 us + 10 us; the measured table says 50 us (NCCL with few channels): the
  // transfer takes the table's 50 us, its latency included. Beside a 150 us kernel on either end it runs at
  // comm_rate_beside_compute (0.5) of that rate throughout: its 50 us take 100 us.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.p2p_time_pair_us = {{100000, 20}, {1000000, 50}};
  const auto alone = RunPair(hw, {}, {Transfer(OpKind::kSend, 0, 1000000)}, {Transfer(OpKind::kRecv, 0, 1000000)});
  EXPECT_NEAR(alone[1], 50, 1e-5);
  hw.comm_rate_beside_compute = 0.5;
  const auto beside =
      RunPair(hw, {Kernel(150)}, {Transfer(OpKind::kSend, 0, 1000000)}, {Transfer(OpKind::kRecv, 0, 1000000)});
  EXPECT_NEAR(beside[1], 100, 1e-5);
}

TEST(SimEngine, ATransferListedBeforeAKernelGetsTheGpuFirstWhenBothBecomeReadyAtOnce) {
  // Rank 0 runs kernels A then B (100 us each, GPU-filling, 2x slower while NCCL runs); its 1 MB send waits for A (its
  // buffer) and is listed before B. At 100 us both are ready. In list order (B.need_posted = 1, as CompileRank derives
  // from core/start_order.h) the send is posted first and runs 100 -> 120 (10 us latency + 10 us of bytes) beside B,
  // which does 10 us of work meanwhile and ends at 210. If each stream releases its ops as they come (need_posted = 0)
  // B wins the tie and takes every SM; the send waits for B's end (comm_start_wait 1) and the rank ends at 220.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 1;
  hw.comm_slowdown = 1;
  SimOp a = Kernel(100), b = Kernel(100), send = Transfer(OpKind::kSend, 0, 1000000);
  a.slowdown = b.slowdown = 1.0f;
  send.need_done[0] = 1;
  b.need_posted = 1;
  const auto listed = RunPair(hw, {a, b}, {send}, {Transfer(OpKind::kRecv, 0, 1000000)});
  EXPECT_NEAR(listed[0], 210, 1e-5);
  EXPECT_NEAR(listed[1], 120, 1e-5);
  b.need_posted = 0;
  const auto streams = RunPair(hw, {a, b}, {send}, {Transfer(OpKind::kRecv, 0, 1000000)});
  EXPECT_NEAR(streams[0], 220, 1e-5);
}

TEST(SimEngine, AWaitingTransferSlowsNothingUntilItGetsItsSms) {
  // Rank 0 runs kernels A then B (100 us each, 2x slower while NCCL runs: comm_slowdown 1). A 1-byte exchange posted
  // with A at t = 0 runs beside it for its 10 us latency (A does 5 us of work meanwhile, so A ends at 105). At 10 us
  // rank 0 posts a 1 MB receive that must wait for A's SMs (comm_start_wait 1): NCCL's kernel holds no SMs while it
  // waits, so A is not slowed further. The transfer runs 105 -> 125 (10 us latency + 10 us of bytes) beside B: 20 us
  // for 10 us of B's work, then 90 us: B ends at 215 (+10 ps of the 1-byte message). Without the rule A would be slow
  // until 125 too.
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_start_wait = 1;
  hw.comm_slowdown = 1;
  SimOp kernel = Kernel(100);
  kernel.slowdown = 1.0f;
  const auto end = RunPair(hw, {kernel, kernel}, {Transfer(OpKind::kSend, 0, 1), Transfer(OpKind::kRecv, 1, 1000000)},
                           {Transfer(OpKind::kRecv, 0, 1), Transfer(OpKind::kSend, 1, 1000000)});
  EXPECT_NEAR(end[0], 215, 2e-5);
  EXPECT_NEAR(end[1], 125, 2e-5);
}

TEST(SimEngine, TransfersSlowDownWhileEitherEndComputes) {
  // Rank 0 computes for 100 us from t = 0 and sends to rank 1 (idle) at once; NVLink 100 GB/s, 10 us latency,
  // comm_rate_beside_compute = 0.5. 1 MB: all of it beside the kernel at 50 GB/s: 20 us + 10 = 30 us (20 alone).
  // 10 MB: 5 MB in the first 100 us at 50 GB/s, the other 5 MB at 100 GB/s: 150 us + 10 = 160 us (110 alone).
  HardwareProfile hw = FlatProfile(100, 100, /*nvl_latency_us=*/10);
  hw.comm_rate_beside_compute = 0.5;
  for (auto [bytes, want_us] : {std::pair{int64_t(1000000), 30.0}, {int64_t(10000000), 160.0}}) {
    const auto end = RunPair(hw, {Kernel(100)}, {Transfer(OpKind::kSend, 0, bytes)}, {Transfer(OpKind::kRecv, 0, bytes)});
    EXPECT_NEAR(end[1], want_us, 1e-6) << bytes << " bytes";
  }
}

TEST(SimEngine, SlowdownStretchesComputeOnlyWhileCommRuns) {
  // W = 2 ring, transfer x = 167.8 us under a local block of c = 1374.4 us, with comm_slowdown 0.5: the block runs at
  // 1/1.5 = 2/3 speed for x, so it ends at c + x/3; the second block runs alone: step = 2c + x/3.
  HardwareProfile hw = FlatProfile(50, 100);
  hw.comm_slowdown = 0.5;
  const SimResult r = SimRun(RingConfig(2, 2 * 4096), hw);
  const double c_ps = std::llround(4.0 * 32 * 128 * 4096.0 * 4096.0 / 2 / 50);
  const double x_ps = KvBytes(4096) / 0.1;
  EXPECT_NEAR(r.summary.step_time_us, (2 * c_ps + x_ps / 3) / kPsPerUs, 3e-6);
}

TEST(SimEngine, OverlapThresholdMatchesClosedForm) {
  // Causal head-tail ring, s tokens per GPU: a step computes 4·B·H·D·s²/2 FLOPs while one K+V shard of
  // 2·B·Hkv·s·D·2 bytes (bf16) moves. Compute hides the transfer when 2·B·H·D·s² / F >= 4·B·Hkv·s·D / Bw, i.e.
  // s >= s* = 2·(Hkv/H)·F/Bw, with F in FLOP/s and Bw in bytes/s, so F/Bw is FLOP per byte and s* is in tokens (the
  // 2 is bytes per bf16 element). With F = 400·10^12 FLOP/s, Bw = 100·10^9 B/s, Hkv/H = 1/4: s* = 2000 tokens. The
  // model resolves s to the sharding's granularity: 2 tokens per GPU (2W chunks of the global sequence).
  const HardwareProfile hw = FlatProfile(400, 100);
  const double s_star = 2.0 * (8.0 / 32.0) * 400e12 / 100e9;
  auto exposed = [&](int64_t s) { return SimRun(RingConfig(4, 4 * s), hw).summary.exposed_comm_us; };
  int64_t lo = 1000, hi = 4000;  // exposed(lo) > 0, exposed(hi) == 0; even s
  ASSERT_GT(exposed(lo), 0);
  ASSERT_NEAR(exposed(hi), 0, 1e-6);
  while (hi - lo > 2) {
    const int64_t mid = (lo + hi) / 2 / 2 * 2;
    (exposed(mid) > 1e-6 ? lo : hi) = mid;
  }
  EXPECT_NEAR(double(hi), s_star, 2.0);
}

TEST(SimEngine, OutputIsByteIdenticalAcrossRuns) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  SimOptions opt;
  opt.trace = TraceMode::kAll;
  opt.topology.gpus_per_node = 2;
  std::string outputs[2];
  for (int i = 0; i < 2; ++i) {
    std::string text;
    for (Method m : {Method::kAllGather, Method::kAllToAll})
      for (Pass p : {Pass::kForward, Pass::kBackward}) {
        const SimResult r = SimRun(RingConfig(6, 6 * 2 * 1024, m, p), hw, opt);
        const std::string path = ::testing::TempDir() + "/sim_det_" + std::to_string(i) + ".json";
        ASSERT_TRUE(WriteTraceJson(r.trace, path).ok());
        std::ifstream f(path);
        text += std::string(std::istreambuf_iterator<char>(f), {}) + ToJson(r).dump();
      }
    outputs[i] = text;
  }
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(SimEngine, SharedProgramsGiveTheSameAnswerAsCompilingEveryRank) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  const ScheduleConfig cfg = RingConfig(64, 64 * 2 * 256);
  SimOptions shared, full;
  shared.share_probe_above = 8;
  full.share_probe_above = 0;
  const SimResult a = SimRun(cfg, hw, shared), b = SimRun(cfg, hw, full);
  EXPECT_TRUE(a.programs_shared_by_sample);
  EXPECT_EQ(a.distinct_programs, 1);
  EXPECT_FALSE(b.programs_shared_by_sample);
  EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
  EXPECT_EQ(a.schedule_op_count, b.schedule_op_count);
}

TEST(SimEngine, UnequalProgramsAreNotShared) {
  // Contiguous causal sharding: rank r computes r + 1 blocks, so programs differ and every rank is compiled.
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  ScheduleConfig cfg = RingConfig(32, 32 * 1024);
  cfg.sharding = ShardingKind::kContiguous;
  SimOptions opt;
  opt.share_probe_above = 8;
  const SimResult r = SimRun(cfg, hw, opt);
  EXPECT_FALSE(r.programs_shared_by_sample);
  EXPECT_GT(r.distinct_programs, 1);
  EXPECT_GT(r.summary.load_imbalance, 1.5);
}

}  // namespace
}  // namespace ringlab::sim
