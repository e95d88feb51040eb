// core/mask_balance.h: every layout places each token once, the balanced layouts balance what they promise, greedy
// keeps the LPT bound, and the chooser takes the shortest estimated step.
#include "core/mask_balance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/mask_spec.h"

namespace ringlab {
namespace {

Problem WithMask(const std::string& mask, int64_t seq) {
  Problem p{.batch = 1, .heads = 8, .kv_heads = 2, .seq = seq, .head_dim = 64};
  EXPECT_TRUE(ApplyMaskSpec(mask, &p).ok());
  return p;
}

TEST(MaskBalance, EveryLayoutPlacesEachTokenOnce) {
  const Problem p = WithMask("causal+docs-synthetic:pretrain-mix:3", 1 << 18);
  for (int world : {1, 8, 64})
    for (BalanceLayout l : kBalanceLayouts) {
      std::vector<TokenIntervals> ranks;
      ASSERT_TRUE(AssignTokens(p, world, l, &ranks).ok());
      TokenIntervals all;
      for (const TokenIntervals& r : ranks) all.insert(all.end(), r.begin(), r.end());
      std::sort(all.begin(), all.end());
      int64_t next = 0;
      for (const auto& [b, e] : all) {
        ASSERT_EQ(b, next) << BalanceLayoutName(l) << " W=" << world;
        ASSERT_GT(e, b);
        next = e;
      }
      EXPECT_EQ(next, p.seq);
    }
}

TEST(MaskBalance, HeadTailBalancesPlainCausalAndDocHeadTailBalancesEqualDocuments) {
  BalanceReport rep;
  ASSERT_TRUE(StudyBalance(WithMask("causal", 1 << 16), 8, BalanceLayout::kHeadTail, StepModel{}, &rep).ok());
  EXPECT_NEAR(rep.Imbalance(), 1.0, 1e-12);
  // Documents of 4096 = 2W·256 tokens: every rank holds pieces r and 2W−1−r of each, equal work.
  ASSERT_TRUE(
      StudyBalance(WithMask("causal+docs-synthetic:fixed-4096", 1 << 16), 8, BalanceLayout::kDocHeadTail, {}, &rep)
          .ok());
  EXPECT_NEAR(rep.Imbalance(), 1.0, 1e-12);
  EXPECT_EQ(rep.max_tokens, (1 << 16) / 8);
  // The same documents contiguous: each rank holds whole documents too (8192 tokens = 2 documents), also balanced;
  // global head-tail cuts no document, so it is balanced as well. A window changes nothing here.
  ASSERT_TRUE(
      StudyBalance(WithMask("causal+docs-synthetic:fixed-4096", 1 << 16), 8, BalanceLayout::kContiguous, {}, &rep)
          .ok());
  EXPECT_NEAR(rep.Imbalance(), 1.0, 1e-12);
}

TEST(MaskBalance, GreedyKeepsTheLptBoundAndBeatsContiguousOnLongTails) {
  const Problem p = WithMask("causal+docs-synthetic:pretrain-mix:1", 1 << 20);
  const Mask mask = p.AttentionMask();
  const std::vector<int64_t>& cu = *p.mask.documents;
  for (int world : {8, 64}) {
    BalanceReport greedy, contiguous;
    ASSERT_TRUE(StudyBalance(p, world, BalanceLayout::kGreedy, {}, &greedy).ok());
    ASSERT_TRUE(StudyBalance(p, world, BalanceLayout::kContiguous, {}, &contiguous).ok());
    // LPT: max <= mean + the heaviest document handed out whole (heavier ones are split evenly).
    double heaviest_whole = 0;
    for (size_t d = 0; d + 1 < cu.size(); ++d) {
      const double w = mask.Classify(cu[d], cu[d + 1], 0, p.seq).EffectivePairs(true);
      if (w <= greedy.mean_work) heaviest_whole = std::max(heaviest_whole, w);
    }
    EXPECT_LE(greedy.max_work, greedy.mean_work + heaviest_whole + 1e-6 * greedy.mean_work) << world;
    EXPECT_LT(greedy.Imbalance(), contiguous.Imbalance()) << world;
    EXPECT_NEAR(greedy.mean_work, contiguous.mean_work, 1e-9 * contiguous.mean_work);
  }
}

TEST(MaskBalance, ChooserTakesTheShortestStep) {
  std::vector<BalanceReport> reports;
  int best = -1;
  ASSERT_TRUE(ChooseLayout(WithMask("causal+docs-synthetic:lognormal", 1 << 18), 16, StepModel{}, &reports, &best).ok());
  ASSERT_EQ(reports.size(), 4u);
  for (const BalanceReport& r : reports) {
    EXPECT_LE(reports[best].step_us, r.step_us);
    EXPECT_GE(r.Imbalance(), 1.0 - 1e-12);
  }
  EXPECT_FALSE(ParseBalanceLayout("zigzag").has_value());
  EXPECT_EQ(ParseBalanceLayout("doc-head-tail"), BalanceLayout::kDocHeadTail);
}

}  // namespace
}  // namespace ringlab
