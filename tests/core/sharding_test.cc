#include "core/sharding.h"

#include <gtest/gtest.h>

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
  for (ShardingKind kind : {ShardingKind::kContiguous, ShardingKind::kHeadTail})
    for (int w : {1, 2, 3, 5}) {
      Sharding s(kind, w, 2 * w * 3);
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

}  // namespace
}  // namespace ringlab
