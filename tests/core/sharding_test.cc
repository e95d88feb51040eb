#include "core/sharding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>

namespace ringlab {
namespace {

TEST(Sharding, HeadTailRankHoldsChunkRAndItsMirror) {
  Sharding s(ShardingKind::kHeadTail, 4, 32);  // 8 chunks of 4 tokens
  EXPECT_EQ(s.Chunk(0, 0), 0);
  EXPECT_EQ(s.Chunk(0, 1), 7);
  EXPECT_EQ(s.Chunk(3, 0), 3);
  EXPECT_EQ(s.Chunk(3, 1), 4);
  EXPECT_EQ(s.GlobalToken(1, 5), 6 * 4 + 1);
}

TEST(Sharding, ContiguousRankHoldsConsecutiveTokens) {
  Sharding s(ShardingKind::kContiguous, 4, 32);
  EXPECT_EQ(s.GlobalToken(2, 3), 19);
}

TEST(Sharding, ShardThenUnshardIsIdentity) {
  for (ShardingKind kind : kShardingKinds)
    for (int w : {1, 2, 3, 5}) {
      Sharding s(kind, w, 4 * w * 3);
      const int64_t outer = 2, inner = 3;
      std::vector<int> global(outer * s.seq() * inner);
      std::iota(global.begin(), global.end(), 0);
      std::vector<std::vector<int>> shards;
      for (int r = 0; r < w; ++r) shards.push_back(s.Shard(global, outer, inner, r));
      EXPECT_EQ(s.Unshard(shards, outer, inner), global);
    }
}

TEST(Sharding, ValidateNamesTheDivisor) {
  Status st = Sharding::Validate(ShardingKind::kContiguous, 3, 10, true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("divisible by world = 3"), std::string::npos) << st.message();
  EXPECT_TRUE(Sharding::Validate(ShardingKind::kHeadTail, 3, 12, true).ok());
}

TEST(Sharding, BalancedHoldsEveryChunkOnceFourPerRankAndEvensOutDocumentWork) {
  // One document of 256 tokens, then 8 of 32, over W = 4 (balanced chunks of 32 tokens): every chunk once, 4 per
  // rank in increasing order, and the ranks' causal work far more even than head-tail's (whose chunks of 64 put the
  // long document's heaviest quarter beside short documents).
  std::vector<int64_t> cu = {0};
  for (int64_t t = 256; t <= 512; t += 32) cu.push_back(t);
  Problem p{.batch = 1, .heads = 1, .kv_heads = 1, .seq = 512, .head_dim = 8};
  p.mask.documents = std::make_shared<const std::vector<int64_t>>(cu);
  const Mask mask = p.AttentionMask();
  auto imbalance = [&](const Sharding& s) {
    std::vector<double> work(4, 0);
    for (int r = 0; r < 4; ++r)
      for (int i = 0; i < s.ChunksPerRank(); ++i) {
        const int64_t c = s.Chunk(r, i) * s.ChunkTokens();
        work[r] += mask.Classify(c, c + s.ChunkTokens(), 0, p.seq).EffectivePairs(true);
      }
    return *std::max_element(work.begin(), work.end()) / (std::accumulate(work.begin(), work.end(), 0.0) / 4);
  };
  const Sharding b(ShardingKind::kBalanced, 4, p);
  std::vector<int> seen;
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 4; ++i) {
      seen.push_back(b.Chunk(r, i));
      if (i > 0) EXPECT_LT(b.Chunk(r, i - 1), b.Chunk(r, i));
    }
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(seen[i], i);
  const double balanced = imbalance(b), head_tail = imbalance(Sharding(ShardingKind::kHeadTail, 4, p));
  EXPECT_LT(balanced, 1.1);
  EXPECT_GT(head_tail, 1.3);
  // The same problem gives the same assignment (every rank's builder computes it).
  const Sharding again(ShardingKind::kBalanced, 4, p);
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 4; ++i) EXPECT_EQ(again.Chunk(r, i), b.Chunk(r, i));
  EXPECT_NE(Sharding::Validate(ShardingKind::kBalanced, 4, 40, true).message().find("4*world = 16"),
            std::string::npos);
}

}  // namespace
}  // namespace ringlab
