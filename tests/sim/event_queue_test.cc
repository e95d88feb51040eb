// The engine's event queue pops events by (time, push order), also across table growth and erases of colliding times
// (the time-to-bucket table is open addressing with backward-shift erase).
#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace ringlab::sim {
namespace {

TEST(EventQueue, PopsByTimeThenPushOrderAcrossGrowthAndErases) {
  std::mt19937_64 rng(12345);
  EventQueue q;
  std::map<std::pair<int64_t, uint32_t>, uint32_t> expected;  // (time, push number) -> id
  uint32_t pushed = 0;
  int64_t now = 0;
  auto push = [&](int64_t t) {
    q.Push(t, {0, pushed, 0});
    expected[{t, pushed}] = pushed;
    ++pushed;
  };
  // Times in a narrow window and on a coarse grid, so that many share a home cell and a bucket.
  for (int i = 0; i < 3000; ++i) push(int64_t(rng() % 700) * 64);
  int64_t popped = 0;
  while (!q.empty()) {
    const EventQueue::Slot top = q.Top();
    ASSERT_GE(top.t, now);
    now = top.t;
    for (size_t i = 0; i < q.Size(top); ++i) {
      ASSERT_FALSE(expected.empty());
      const auto first = expected.begin();
      EXPECT_EQ(first->first.first, top.t);
      EXPECT_EQ(q.At(top, i).id, first->second);
      expected.erase(first);
      ++popped;
      // Handling an event pushes more: some at this very time (they land at the end of its bucket), some later.
      if (pushed < 20000 && rng() % 3 == 0) push(now + (rng() % 4 == 0 ? 0 : int64_t(rng() % 5000)));
    }
    q.Retire(top);
  }
  EXPECT_TRUE(expected.empty());
  EXPECT_EQ(popped, int64_t(pushed));
  EXPECT_GT(pushed, 4000u);
}

// A ring's lockstep instant holds an event per rank; once retired, its bucket must not keep that room, or every bucket
// reused for a crowded time stays large (the general engine at W = 16384: 288 MiB peak RSS against 106 MiB).
TEST(EventQueue, RetiredBucketsKeepLittleRoom) {
  EventQueue q;
  uint32_t pushed = 0, popped = 0;
  for (int round = 0; round < 40; ++round) {
    const int64_t base = int64_t(round) * 1000;
    for (int i = 0; i < 5000; ++i) q.Push(base, {0, pushed++, 0});          // one crowded instant
    for (int i = 1; i <= 300; ++i) q.Push(base + i, {0, pushed++, 0});      // many sparse ones
    while (!q.empty()) {
      const EventQueue::Slot top = q.Top();
      popped += uint32_t(q.Size(top));
      q.Retire(top);
    }
  }
  EXPECT_EQ(popped, pushed);
  // 301 buckets were in use at once; each may keep room for a few events, none for the crowded instant's 5000.
  EXPECT_LE(q.IdleCapacity(), size_t(301) * 64);
  EXPECT_LT(q.IdleCapacity(), size_t(5000));
  EXPECT_GT(q.IdleCapacity(), 0u);
}

}  // namespace
}  // namespace ringlab::sim
