// The CPU executor, run over any schedule and unsharded, equals full attention from the float64 reference:
// relative error ≤ 1e-12 in float64 and ≤ 1e-5 in float32, for out, lse, dQ, dK and dV.
#include <gtest/gtest.h>

#include <tuple>

#include "kernels/cpu/reference_check.h"

namespace ringlab::cpu {
namespace {

void ExpectMatchesReference(const ScheduleConfig& cfg, Precision precision, uint64_t seed) {
  CheckReport report;
  Status st = CheckAgainstReference(cfg, /*backward=*/true, precision, seed, &report);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(report.errors.size(), 5u);
  for (const TensorError& e : report.errors)
    EXPECT_LE(e.relative, DefaultTolerance(precision)) << Describe(cfg) << " " << e.name << " rel " << e.relative;
}

// (sharding, causal): head-tail is causal load balancing, so it has no non-causal form.
using Layout = std::pair<ShardingKind, bool>;
using Params = std::tuple<int, Method, Layout>;
class CpuExecutorNumerics : public ::testing::TestWithParam<Params> {};

std::string ParamName(const Params& p) {
  const Layout& layout = std::get<2>(p);
  std::string name = "W" + std::to_string(std::get<0>(p)) + "_" + std::string(MethodName(std::get<1>(p))) + "_" +
                     std::string(ShardingName(layout.first)) + (layout.second ? "_causal" : "_full");
  for (char& c : name) if (c == '-') c = '_';
  return name;
}

TEST_P(CpuExecutorNumerics, Float64AndFloat32MatchTheReferenceWithGqa) {
  const auto [world, method, layout] = GetParam();
  const auto [sharding, causal] = layout;
  // Odd shapes: head dim 80, GQA 4:2, and a sequence that is not a power of two (2W·7 tokens).
  ScheduleConfig cfg{.problem = Problem{.batch = 2, .heads = 4, .kv_heads = 2, .seq = 2 * world * 7, .head_dim = 80,
                                        .causal = causal},
                     .world = world, .sharding = sharding, .method = method};
  ExpectMatchesReference(cfg, Precision::kFloat64, 100 + world);
  ExpectMatchesReference(cfg, Precision::kFloat32, 200 + world);
  cfg.variants = PeerVariants();  // separate merges and packed K/V compute the same function
  ExpectMatchesReference(cfg, Precision::kFloat64, 300 + world);
}

INSTANTIATE_TEST_SUITE_P(Worlds, CpuExecutorNumerics,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 8),
                                            ::testing::Values(Method::kAllGather, Method::kAllToAll),
                                            ::testing::Values(Layout{ShardingKind::kContiguous, false},
                                                              Layout{ShardingKind::kContiguous, true},
                                                              Layout{ShardingKind::kHeadTail, true})),
                         [](const ::testing::TestParamInfo<Params>& info) { return ParamName(info.param); });

// PyTorch's own context-parallel test shapes: B=8, H=8, D=32, S = 64·W and 1024·W.
TEST(CpuExecutorPyTorchShapes, SixtyFourTokensPerRank) {
  for (int w : {1, 2, 4, 8})
    for (Method m : {Method::kAllGather, Method::kAllToAll})
      ExpectMatchesReference(ScheduleConfig{.problem = Problem{.batch = 8, .heads = 8, .kv_heads = 8, .seq = 64 * w,
                                                               .head_dim = 32},
                                            .world = w, .method = m},
                             Precision::kFloat64, 7 + w);
}

TEST(CpuExecutorPyTorchShapes, ThousandTwentyFourTokensPerRank) {
  ExpectMatchesReference(
      ScheduleConfig{.problem = Problem{.batch = 8, .heads = 8, .kv_heads = 8, .seq = 1024 * 2, .head_dim = 32},
                     .world = 2},
      Precision::kFloat64, 11);
}

TEST(CpuExecutor, WritesACpuTraceWithOneEventPerOp) {
  CheckReport report;
  ScheduleConfig cfg{.problem = Problem{.batch = 1, .heads = 2, .kv_heads = 1, .seq = 64, .head_dim = 16}, .world = 4};
  ASSERT_TRUE(CheckAgainstReference(cfg, true, Precision::kFloat64, 1, &report).ok());
  Schedule s;
  ASSERT_TRUE(BuildSchedule(cfg, &s).ok());
  EXPECT_EQ(report.forward_trace.meta.source, "cpu");
  EXPECT_EQ(int64_t(report.forward_trace.events.size()), s.OpCount());
  for (const TraceEvent& e : report.forward_trace.events) EXPECT_GE(e.dur_us, 0);
}

TEST(CpuExecutor, RejectsInputsOfTheWrongShape) {
  Schedule s;
  ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 64}, .world = 2}, &s).ok());
  GlobalInputs in;  // empty
  ForwardOutputs out;
  Status st = ExecuteForward(s, in, ExecutorOptions{}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("shapes"), std::string::npos);
}

}  // namespace
}  // namespace ringlab::cpu
