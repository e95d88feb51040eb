// The CPU executor runs every Ulysses and 2-D hybrid schedule and, unsharded, equals full attention from the float64
// reference (relative error ≤ 1e-12 for out, lse, dQ, dK, dV): U×R = 1×W (pure Ulysses up to W = 16), 2×2, 4×2, 2×4,
// 4×4, 8×2, both ring methods across R, both placements, causal (contiguous and head-tail) and full, and GQA with
// Hkv < U (replicated KV heads), Hkv = U and Hkv > U. Every case draws fresh random inputs (its own seed), and the
// executor poisons every buffer no input fills with NaN, outputs included, so a part never written fails the check.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "kernels/cpu/reference_check.h"

namespace ringlab::cpu {
namespace {

using UxR = std::pair<int, int>;
using Layout = std::pair<ShardingKind, bool>;  // (sharding, causal)
using Params = std::tuple<UxR, Method, UlyssesPlacement, Layout>;
class UlyssesNumerics : public ::testing::TestWithParam<Params> {};

void ExpectMatchesReference(const ScheduleConfig& cfg, Precision precision, uint64_t seed) {
  CheckReport report;
  Status st = CheckAgainstReference(cfg, /*backward=*/true, precision, seed, &report);
  ASSERT_TRUE(st.ok()) << Describe(cfg) << ": " << st.message();
  ASSERT_EQ(report.errors.size(), 5u);
  for (const TensorError& e : report.errors)
    EXPECT_LE(e.relative, DefaultTolerance(precision)) << Describe(cfg) << " " << e.name << " rel " << e.relative;
}

TEST_P(UlyssesNumerics, Float64MatchesTheReferenceForEveryGqaRatio) {
  const auto [uxr, method, placement, layout] = GetParam();
  const auto [u, r] = uxr;
  const int heads = std::max(16, 2 * u);
  uint64_t seed = 1000 * u + 100 * r + 10 * int(method) + 2 * int(placement) + int(layout.first) + layout.second;
  // Hkv < U (each KV head on U/Hkv ranks), Hkv = U, Hkv > U (Hkv/U heads a rank); H = 16 caps Hkv at 16.
  for (int kv_heads : {std::max(1, u / 2), u, std::min(heads, 2 * u)}) {
    // Small odd shapes: batch 2, head dim 8, chunks of 3 tokens (seq = 2W·3).
    ScheduleConfig cfg{.problem = Problem{.batch = 2, .heads = heads, .kv_heads = kv_heads, .seq = 2 * u * r * 3,
                                          .head_dim = 8, .causal = layout.second},
                       .world = u * r, .sharding = layout.first, .method = method, .ulysses = u,
                       .placement = placement};
    ExpectMatchesReference(cfg, Precision::kFloat64, ++seed);
  }
}

std::string ParamName(const ::testing::TestParamInfo<Params>& info) {
  const auto [uxr, method, placement, layout] = info.param;
  std::string name = "U" + std::to_string(uxr.first) + "xR" + std::to_string(uxr.second) + "_" +
                     std::string(MethodName(method)) + "_" + std::string(PlacementName(placement)) + "_" +
                     std::string(ShardingName(layout.first)) + (layout.second ? "_causal" : "_full");
  for (char& c : name) if (c == '-') c = '_';
  return name;
}

const auto kLayouts = ::testing::Values(Layout{ShardingKind::kContiguous, false}, Layout{ShardingKind::kContiguous, true},
                                        Layout{ShardingKind::kHeadTail, true});

// Pure Ulysses: no ring dimension, so neither the ring method nor the placement matters.
INSTANTIATE_TEST_SUITE_P(Pure, UlyssesNumerics,
                         ::testing::Combine(::testing::Values(UxR{2, 1}, UxR{4, 1}, UxR{8, 1}, UxR{16, 1}),
                                            ::testing::Values(Method::kAllToAll),
                                            ::testing::Values(UlyssesPlacement::kConsecutive), kLayouts),
                         ParamName);

INSTANTIATE_TEST_SUITE_P(Hybrid, UlyssesNumerics,
                         ::testing::Combine(::testing::Values(UxR{2, 2}, UxR{4, 2}, UxR{2, 4}, UxR{4, 4}, UxR{8, 2}),
                                            ::testing::Values(Method::kAllToAll, Method::kAllGather),
                                            ::testing::Values(UlyssesPlacement::kConsecutive,
                                                              UlyssesPlacement::kStrided),
                                            kLayouts),
                         ParamName);

TEST(UlyssesNumericsVariants, Float32AndPeerVariantsMatchTheReference) {
  ScheduleConfig cfg{.problem = Problem{.batch = 1, .heads = 8, .kv_heads = 2, .seq = 48, .head_dim = 16},
                     .world = 8, .ulysses = 4, .placement = UlyssesPlacement::kStrided};
  ExpectMatchesReference(cfg, Precision::kFloat32, 7);
  cfg.variants = PeerVariants();  // separate merges and packed K/V across the ring dimension
  ExpectMatchesReference(cfg, Precision::kFloat64, 8);
  cfg.method = Method::kAllGather;
  ExpectMatchesReference(cfg, Precision::kFloat64, 9);
}

// A member that never joins an all-to-all aborts the run after the timeout with a message naming the collective,
// as for the other collectives, instead of hanging.
TEST(UlyssesExecutor, AnAllToAllMissingAMemberTimesOutWithAClearMessage) {
  const Problem p{.batch = 1, .heads = 4, .kv_heads = 2, .seq = 16, .head_dim = 8};
  Schedule s;
  ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = p, .world = 2, .ulysses = 2}, &s).ok());
  s.ranks[1].ops[0].tag = 77;  // rank 1 posts its K/V all-to-all under a tag rank 0 never uses
  ForwardOutputs out;
  Status st = ExecuteForward(s, RandomInputs(p, 3), ExecutorOptions{.timeout_s = 0.3}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("in all-to-all tag"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("timed out after"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ringlab::cpu
