#include "core/problem.h"

#include <gtest/gtest.h>

#include "core/schedule.h"

namespace ringlab {
namespace {

TEST(Problem, DefaultIsLlama3_8BAttention) {
  const Problem p = DefaultProblem();
  EXPECT_EQ(p.heads, 32);
  EXPECT_EQ(p.kv_heads, 8);
  EXPECT_EQ(p.head_dim, 128);
  EXPECT_EQ(p.seq, 131072);
  EXPECT_TRUE(p.causal);
  EXPECT_TRUE(ValidateProblem(p).ok());
}

TEST(Problem, FlopsFollowFlashAttentionConvention) {
  Problem p{.batch = 2, .heads = 4, .kv_heads = 4, .seq = 1024, .head_dim = 64, .causal = false};
  EXPECT_DOUBLE_EQ(p.ForwardFlops(), 4.0 * 2 * 4 * 1024.0 * 1024 * 64);
  p.causal = true;
  EXPECT_DOUBLE_EQ(p.ForwardFlops(), 2.0 * 2 * 4 * 1024.0 * 1024 * 64);
  EXPECT_DOUBLE_EQ(p.BackwardFlops(), 2.5 * p.ForwardFlops());
  EXPECT_EQ(p.KvBytes(10), 2 * 2 * 4 * 10 * 64 * 2);
}

TEST(Problem, KvHeadsMustDivideHeadsAndTheMessageSaysSo) {
  Problem p{.heads = 32, .kv_heads = 5};
  Status s = ValidateProblem(p);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("kv-heads must divide heads"), std::string::npos) << s.message();
}

TEST(Problem, RejectsNonPositiveFields) {
  EXPECT_FALSE(ValidateProblem(Problem{.batch = 0}).ok());
  EXPECT_FALSE(ValidateProblem(Problem{.heads = 0}).ok());
  EXPECT_FALSE(ValidateProblem(Problem{.seq = 0}).ok());
  EXPECT_FALSE(ValidateProblem(Problem{.head_dim = 0}).ok());
}

TEST(Problem, RejectsSizesWhoseCountsOverflowInt64) {
  // seq² (token pairs) and the buffers' bytes are int64: seq 2^62 used to run out of memory or overflow.
  Problem p = DefaultProblem();
  p.seq = kMaxSeq;
  EXPECT_TRUE(ValidateProblem(p).ok());
  p.seq = kMaxSeq + 1;
  EXPECT_NE(ValidateProblem(p).message().find("seq must be at most 3037000499"), std::string::npos);
  p.seq = 1024;
  p.batch = p.heads = p.kv_heads = 1 << 30;
  EXPECT_NE(ValidateProblem(p).message().find("batch x heads x seq x dim"), std::string::npos);
}

TEST(ScheduleConfig, HeadTailNeedsSeqDivisibleByTwiceTheWorld) {
  ScheduleConfig cfg{.problem = Problem{.seq = 1000}, .world = 16};
  Status s = ValidateConfig(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2*world = 32"), std::string::npos) << s.message();
}

TEST(ScheduleConfig, LoadBalancingNeedsCausal) {
  ScheduleConfig cfg{.problem = Problem{.seq = 1024, .causal = false}, .world = 4};
  Status s = ValidateConfig(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("needs --causal"), std::string::npos) << s.message();
}

TEST(ScheduleConfig, WorldMustBePositive) {
  ScheduleConfig cfg{.problem = Problem{.seq = 1024}, .world = 0};
  EXPECT_FALSE(ValidateConfig(cfg).ok());
}

TEST(AttendBlock, EffectivePairsMatchesBruteForce) {
  for (int64_t nq : {1, 3, 8, 17})
    for (int64_t nk : {1, 4, 8, 19})
      for (int64_t d = -25; d <= 25; ++d) {
        AttendBlock b{.q_begin = 0, .q_end = nq, .kv_begin = 0, .kv_end = nk, .causal = true, .diagonal_offset = d};
        double want = 0;
        for (int64_t i = 0; i < nq; ++i)
          for (int64_t j = 0; j < nk; ++j)
            if (j < i + d) want += 1;
            else if (j == i + d) want += 0.5;
        EXPECT_DOUBLE_EQ(b.EffectivePairs(), want) << nq << " " << nk << " " << d;
      }
}

}  // namespace
}  // namespace ringlab
