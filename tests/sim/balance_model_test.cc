// sim/balance_model.h: the profile-backed step model of `ringlab balance` follows the profile's measured costs.
#include "sim/balance_model.h"

#include <gtest/gtest.h>

#include "core/mask_spec.h"
#include "sim/profile.h"

namespace ringlab::sim {
namespace {

Problem DocumentProblem(int64_t seq) {
  Problem p{.batch = 1, .heads = 32, .kv_heads = 8, .seq = seq, .head_dim = 128};
  EXPECT_TRUE(ApplyMaskSpec("causal+docs-synthetic:lognormal", &p).ok());
  return p;
}

TEST(BalanceModel, AttentionTimeGrowsWithWorkAndKeepsTheLaunchFloor) {
  const Problem p = DocumentProblem(1 << 20);
  StepModel m;
  ASSERT_TRUE(ProfileStepModel("h100_sxm_calibrated", p, 8, &m).ok());
  ASSERT_TRUE(m.attend_us && m.hop_us);
  const int64_t q = 1 << 17;
  const double full = double(q) * double(q);
  const double small = m.attend_us(q, q, 0.05 * full), half = m.attend_us(q, q, 0.5 * full),
               whole = m.attend_us(q, q, full);
  EXPECT_GT(small, 0);
  EXPECT_LT(small, half);
  EXPECT_LT(half, whole);
  // A measured H100 kernel: B1 H32 D128 over 128k x 128k keys is tens of ms, at well under the 989 TFLOP/s peak.
  const double tflops = 4.0 * 32 * 128 * full / (whole * 1e6);
  EXPECT_GT(tflops, 200);
  EXPECT_LT(tflops, 989);
}

TEST(BalanceModel, HopsUseNvlinkInsideANodeAndTheNicAcross) {
  const Problem p = DocumentProblem(1 << 20);
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm_calibrated", &hw).ok());
  StepModel inside, across;
  ASSERT_TRUE(ProfileStepModel("h100_sxm_calibrated", p, hw.gpus_per_node, &inside).ok());
  ASSERT_TRUE(ProfileStepModel("h100_sxm_calibrated", p, 2 * hw.gpus_per_node, &across).ok());
  const int64_t bytes = 64 << 20;
  EXPECT_LT(inside.hop_us(bytes), across.hop_us(bytes));
  EXPECT_LT(inside.hop_us(bytes / 4), inside.hop_us(bytes));
  EXPECT_NEAR(across.hop_us(bytes), hw.nic_latency_us + bytes / (hw.nic_gbps * 1e3), 1e-9);
}

TEST(BalanceModel, ChooserTakesTheShortestProfileStep) {
  const Problem p = DocumentProblem(1 << 18);
  for (int world : {8, 64}) {
    StepModel m;
    ASSERT_TRUE(ProfileStepModel("h100_sxm_calibrated", p, world, &m).ok());
    std::vector<BalanceReport> reports;
    int best = -1;
    ASSERT_TRUE(ChooseLayout(p, world, m, &reports, &best).ok());
    ASSERT_EQ(reports.size(), std::size(kBalanceLayouts));
    for (const BalanceReport& r : reports) {
      EXPECT_GT(r.compute_us, 0);
      EXPECT_GE(r.step_us, r.compute_us);
      EXPECT_GE(r.step_us, reports[best].step_us);
    }
  }
}

TEST(BalanceModel, UnknownProfileIsAnError) {
  StepModel m;
  const Status st = ProfileStepModel("no_such_profile", DocumentProblem(1 << 16), 8, &m);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(m.attend_us);
}

}  // namespace
}  // namespace ringlab::sim
