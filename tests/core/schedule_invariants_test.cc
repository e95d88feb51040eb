// Every generated schedule satisfies every invariant of DESIGN.md, for W = 1..16 × both methods × both shardings ×
// causal/non-causal × forward/backward × merge and packing variants, with GQA.
#include <gtest/gtest.h>

#include <tuple>

#include "core/schedule.h"
#include "core/schedule_validator.h"

namespace ringlab {
namespace {

using Params = std::tuple<int, Method, ShardingKind, bool, Pass>;

class ScheduleInvariants : public ::testing::TestWithParam<Params> {};

std::string ParamName(const Params& p) {
  std::string name = "W" + std::to_string(std::get<0>(p)) + "_" + std::string(MethodName(std::get<1>(p))) + "_" +
                     std::string(ShardingName(std::get<2>(p))) + (std::get<3>(p) ? "_causal_" : "_full_") +
                     std::string(PassName(std::get<4>(p)));
  for (char& c : name) if (c == '-') c = '_';
  return name;
}

TEST_P(ScheduleInvariants, HoldForEveryVariant) {
  const auto [world, method, sharding, causal, pass] = GetParam();
  for (Variants v : {Variants{}, PeerVariants()}) {
    ScheduleConfig cfg{.problem = Problem{.batch = 1, .heads = 8, .kv_heads = 2, .seq = 2 * world * 16, .head_dim = 64,
                                          .causal = causal},
                       .world = world, .sharding = sharding, .method = method, .pass = pass, .variants = v};
    Schedule s;
    Status st = BuildSchedule(cfg, &s);
    if (sharding == ShardingKind::kHeadTail && !causal) {
      EXPECT_FALSE(st.ok()) << "head-tail without causal must be rejected";
      continue;
    }
    ASSERT_TRUE(st.ok()) << st.message();
    Status v_st = ValidateSchedule(s);
    EXPECT_TRUE(v_st.ok()) << Describe(cfg) << ": " << v_st.message();
  }
}

INSTANTIATE_TEST_SUITE_P(AllConfigs, ScheduleInvariants,
                         ::testing::Combine(::testing::Range(1, 17),
                                            ::testing::Values(Method::kAllGather, Method::kAllToAll),
                                            ::testing::Values(ShardingKind::kContiguous, ShardingKind::kHeadTail),
                                            ::testing::Bool(), ::testing::Values(Pass::kForward, Pass::kBackward)),
                         [](const ::testing::TestParamInfo<Params>& info) { return ParamName(info.param); });

int CountPerRank(const Schedule& s, int rank, OpKind kind) {
  int n = 0;
  for (const Op& op : s.ranks[rank].ops) n += op.kind == kind;
  return n;
}

TEST(MessageCounts, AllToAllForwardSendsWMinusOneBlocksPerRank) {
  for (int w : {1, 2, 3, 8, 16}) {
    Schedule s;
    ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 64 * w}, .world = w}, &s).ok());
    for (int r = 0; r < w; ++r) EXPECT_EQ(CountPerRank(s, r, OpKind::kSend), w - 1) << "W=" << w;
  }
}

// Backward: K/V travel W−1 hops as in the forward; each origin's dK/dV accumulator travels W hops (W−1 to visit every
// rank and one more to return to its owner), so every rank sends (W−1) + W = 2W−1 blocks, none for W = 1.
TEST(MessageCounts, AllToAllBackwardSendsTwoWMinusOneBlocksPerRank) {
  for (int w : {1, 2, 3, 8, 16}) {
    Schedule s;
    ASSERT_TRUE(
        BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 64 * w}, .world = w, .pass = Pass::kBackward}, &s).ok());
    for (int r = 0; r < w; ++r) EXPECT_EQ(CountPerRank(s, r, OpKind::kSend), w == 1 ? 0 : 2 * w - 1) << "W=" << w;
  }
}

TEST(MessageCounts, AllGatherUsesOneCollectivePerPassAndOneReduceScatterBackward) {
  Schedule f, b;
  ScheduleConfig cfg{.problem = Problem{.seq = 512}, .world = 4, .method = Method::kAllGather};
  ASSERT_TRUE(BuildSchedule(cfg, &f).ok());
  cfg.pass = Pass::kBackward;
  ASSERT_TRUE(BuildSchedule(cfg, &b).ok());
  EXPECT_EQ(CountPerRank(f, 0, OpKind::kAllGather), 1);
  EXPECT_EQ(CountPerRank(f, 0, OpKind::kSend), 0);
  EXPECT_EQ(CountPerRank(b, 0, OpKind::kAllGather), 1);
  EXPECT_EQ(CountPerRank(b, 0, OpKind::kReduceScatter), 1);
}

TEST(Variants, UnfusedMergeAddsOneMergePerNonFirstBlockAndPackingOneCopyPerSend) {
  Schedule s;
  ScheduleConfig cfg{.problem = Problem{.seq = 8 * 64}, .world = 4, .variants = PeerVariants()};
  ASSERT_TRUE(BuildSchedule(cfg, &s).ok());
  EXPECT_EQ(CountPerRank(s, 0, OpKind::kMerge), 3);
  EXPECT_EQ(CountPerRank(s, 0, OpKind::kCopy), 3);
  ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 8 * 64}, .world = 4}, &s).ok());
  EXPECT_EQ(CountPerRank(s, 0, OpKind::kMerge), 0);
  EXPECT_EQ(CountPerRank(s, 0, OpKind::kCopy), 0);
}

TEST(Balance, HeadTailGivesEveryRankEqualFlopsAndContiguousDoesNot) {
  Schedule ht, ct;
  ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 1024}, .world = 8}, &ht).ok());
  ASSERT_TRUE(BuildSchedule(
      ScheduleConfig{.problem = Problem{.seq = 1024}, .world = 8, .sharding = ShardingKind::kContiguous}, &ct).ok());
  auto flops = [](const Schedule& s, int r) {
    double f = 0;
    for (const Op& op : s.ranks[r].ops) f += op.flops;
    return f;
  };
  EXPECT_DOUBLE_EQ(flops(ht, 0), flops(ht, 7));
  EXPECT_LT(flops(ct, 0) * 10, flops(ct, 7));
  double total = 0;
  for (int r = 0; r < 8; ++r) total += flops(ht, r);
  EXPECT_DOUBLE_EQ(total, Problem{.seq = 1024}.ForwardFlops());
}

}  // namespace
}  // namespace ringlab
