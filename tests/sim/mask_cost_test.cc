// The simulator under window and document masks: a partial block costs its visible pairs, empty blocks cost nothing
// because they are not in the schedule, skipped hops move no bytes. Closed form with the flat profile (constant
// TFLOP/s, no launch overhead).
#include <gtest/gtest.h>

#include "core/mask_spec.h"
#include "sim/cost_model.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::FlatProfile;
using testing::RingConfig;

// K+V bytes of `s` tokens: 2·B·Hkv·s·D·2 = 4096·s for B=1, Hkv=8, D=128, bf16.
int64_t KvBytes(int64_t s) { return 4096 * s; }

ScheduleConfig Masked(const std::string& mask, int world, int64_t seq, Pass pass = Pass::kForward) {
  ScheduleConfig cfg = RingConfig(world, seq, Method::kAllToAll, pass);
  cfg.sharding = ShardingKind::kContiguous;
  ParsedMask parsed;
  EXPECT_TRUE(ParseMaskSpec(mask, seq, &parsed).ok());
  if (parsed.causal) cfg.problem.causal = *parsed.causal;
  cfg.problem.mask = parsed.shape;
  return cfg;
}

TEST(MaskCost, PartialBlockCostsItsVisiblePairs) {
  // W = 4, S = 4096 (shards of 1024), causal window of 256 (keys q−256..q): rank 1 attends its own shard, a band of
  // 1024·257 − 256·257/2 visible pairs less half the 1024 diagonal ones, and origin 0's last 256 keys, 256·257/2
  // pairs (query 1024 + i sees keys 768 + i .. 1023).
  const ScheduleConfig cfg = Masked("causal+window:256,0", 4, 4096);
  const HardwareProfile hw = FlatProfile(/*tflops=*/100, /*nvl_gbps=*/1000);
  const CostModel model(hw, cfg);
  const RankSchedule rank = BuildRankSchedule(cfg, 1);
  const Mask mask = cfg.problem.AttentionMask();
  const double per_pair = 4.0 * 1 * 32 * 128;
  int attends = 0;
  for (const Op& op : rank.ops) {
    if (op.kind != OpKind::kAttend) continue;
    ++attends;
    const AttendBlock& b = op.attend;
    ASSERT_TRUE(b.masked);
    const int64_t q0 = 1024, k0 = b.kv_origin * 1024;
    const double pairs = mask.Classify(q0, q0 + 1024, k0, k0 + 1024).EffectivePairs(true);
    if (b.kv_origin == 1) EXPECT_DOUBLE_EQ(pairs, 1024.0 * 257 - 257.0 * 256 / 2 - 512);
    if (b.kv_origin == 0) EXPECT_DOUBLE_EQ(pairs, 256.0 * 257 / 2);
    EXPECT_DOUBLE_EQ(op.flops, per_pair * pairs);
    // Flat profile: the block's time is its FLOPs at 100 TFLOP/s.
    EXPECT_NEAR(double(model.Cost(op).duration_ps), op.flops / 100e12 * 1e12, 2.0);
  }
  EXPECT_EQ(attends, 2);
}

TEST(MaskCost, SkippedHopsMoveNoBytesAndTheStepIsShorter) {
  const HardwareProfile hw = FlatProfile(100, 100);
  SimResult plain, windowed;
  ASSERT_TRUE(Simulate(Masked("causal", 8, 65536), hw, {}, &plain).ok());
  ASSERT_TRUE(Simulate(Masked("causal+window:1024,0", 8, 65536), hw, {}, &windowed).ok());
  // Sends: plain ring 8·7 hops; the window reaches one shard back, so each origin but the last goes one hop.
  auto sent = [](const ScheduleConfig& cfg) {
    Schedule s;
    EXPECT_TRUE(BuildSchedule(cfg, &s).ok());
    int64_t bytes = 0;
    for (const RankSchedule& r : s.ranks)
      for (const Op& op : r.ops)
        if (op.kind == OpKind::kSend) bytes += op.bytes;
    return bytes;
  };
  const int64_t shard_kv = KvBytes(65536 / 8);
  EXPECT_EQ(sent(Masked("causal", 8, 65536)), 8 * 7 * shard_kv);
  EXPECT_EQ(sent(Masked("causal+window:1024,0", 8, 65536)), 7 * shard_kv);
  EXPECT_LT(windowed.summary.step_time_us, plain.summary.step_time_us / 3);
}

}  // namespace
}  // namespace ringlab::sim
