// The executable shardings' simulated steps (sim/balance_sim.h): one row per sharding equal to a direct simulation,
// the fastest marked, head-tail refused (with the reason) for full attention, and the balanced sharding evening out
// packed documents' work where head-tail cannot.
#include "sim/balance_sim.h"

#include <gtest/gtest.h>

#include "core/mask_spec.h"
#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

Problem WithMask(const std::string& spec, int64_t seq) {
  Problem p{.batch = 1, .heads = 8, .kv_heads = 2, .seq = seq, .head_dim = 128};
  EXPECT_TRUE(ApplyMaskSpec(spec, &p).ok());
  return p;
}

TEST(SimBalanceShardings, RowsEqualDirectSimulationsAndTheFastestIsMarked) {
  const HardwareProfile hw = testing::LoadNamed("h100_sxm_calibrated");
  const Problem p = WithMask("causal+docs-synthetic:pretrain-mix", 1 << 17);
  std::vector<ShardingStep> rows;
  int best = -1;
  ASSERT_TRUE(SimulateShardings(p, 16, hw, Pass::kForward, &rows, &best).ok());
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_GE(best, 0);
  for (const ShardingStep& r : rows) {
    ASSERT_TRUE(r.skipped.empty()) << r.skipped;
    ScheduleConfig cfg{.problem = p, .world = 16, .sharding = r.sharding, .method = Method::kAllToAll};
    SimResult direct;
    ASSERT_TRUE(Simulate(cfg, hw, SimOptions{}, &direct).ok());
    EXPECT_EQ(r.step_us, direct.summary.step_time_us);
    EXPECT_LE(rows[best].step_us, r.step_us);
  }
  // Balanced evens out the documents' work better than head-tail (whose chunks follow the sequence, not the work).
  EXPECT_LT(rows[2].imbalance, rows[1].imbalance);
  EXPECT_EQ(rows[2].sharding, ShardingKind::kBalanced);
}

TEST(SimBalanceShardings, HeadTailIsSkippedForFullAttentionWithItsReason) {
  const HardwareProfile hw = testing::LoadNamed("h100_sxm_calibrated");
  std::vector<ShardingStep> rows;
  int best = -1;
  ASSERT_TRUE(
      SimulateShardings(WithMask("full+window:512,512", 1 << 15), 8, hw, Pass::kForward, &rows, &best).ok());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NE(rows[1].skipped.find("head-tail"), std::string::npos) << rows[1].skipped;
  EXPECT_TRUE(rows[0].skipped.empty());
  EXPECT_TRUE(rows[2].skipped.empty());
  EXPECT_NE(best, 1);
}

}  // namespace
}  // namespace ringlab::sim
