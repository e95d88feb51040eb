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

}  // namespace
}  // namespace ringlab::sim
