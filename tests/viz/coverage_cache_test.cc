#include <gtest/gtest.h>

#include "test_util.h"
#include "viz/coverage_cache.h"

namespace ringlab::viz {
namespace {

using testing::Ev;

// One lane: attend 0.8 us + merge 0.2 us every 1 us for 0..1000 us (attend dominates every 10 us column), then a
// gap, then one 300 us merge from 1500 us.
TraceModel DenseThenLong() {
  Trace t;
  t.meta.config.world = 1;
  for (int i = 0; i < 1000; ++i) {
    t.events.push_back(Ev(0, 0, 2 * i, OpKind::kAttend, i, 0.8));
    t.events.push_back(Ev(0, 0, 2 * i + 1, OpKind::kMerge, i + 0.8, 0.2));
  }
  t.events.push_back(Ev(0, 0, 2000, OpKind::kMerge, 1500, 300));
  TraceModel m;
  ModelFromTrace(t, &m);
  return m;
}

TEST(CoverageCache, GivesTheUncachedRunsJoinedAcrossChunks) {
  TraceModel m = DenseThenLong();
  CoverageCache cache;
  double shift = -1;
  // 10 us per column from the origin: 200 columns span 0..2000 us, which is 4 chunks of 64 columns.
  const std::vector<CoverageRun> runs = cache.Runs(m, 0, 1, 0, 0, 10, 200, &shift);
  EXPECT_DOUBLE_EQ(shift, 0);
  ASSERT_EQ(runs.size(), 2u);  // the attend run crosses the chunk boundary at column 64 and stays one run
  EXPECT_EQ(runs[0].c0, 0);
  EXPECT_EQ(runs[0].c1, 100);
  EXPECT_EQ(runs[0].kind, VizKind::kAttend);
  EXPECT_FALSE(runs[0].single);
  EXPECT_EQ(runs[1].c0, 150);
  EXPECT_EQ(runs[1].c1, 180);
  EXPECT_EQ(runs[1].kind, VizKind::kMerge);
  EXPECT_TRUE(runs[1].single);
  EXPECT_EQ(cache.chunks_computed(), 4);
}

TEST(CoverageCache, APanReusesTheChunksStillInViewAndReportsTheSubPixelShift) {
  TraceModel m = DenseThenLong();
  CoverageCache cache;
  double shift = 0;
  cache.Runs(m, 0, 1, 0, 0, 10, 100, &shift);  // columns 0..100 (+1): chunks 0, 1
  EXPECT_EQ(cache.chunks_computed(), 2);
  // Pan right by 45.5 columns (the span changed in its last bits, as a pan does): the view starts 0.5 px into grid
  // column 45; chunk 1 is reused, chunk 2 (columns 128..191) is new.
  const std::vector<CoverageRun>& runs = cache.Runs(m, 0, 1, 0, 455, 10 * (1 + 1e-12), 100, &shift);
  EXPECT_NEAR(shift, 0.5, 1e-6);
  EXPECT_EQ(cache.chunks_computed(), 3);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].c0, 0);
  EXPECT_EQ(runs[0].c1, 100 - 45);  // attend ends at 1000 us = grid column 100
  // Another zoom level starts afresh: at 20 us per column the view holds grid columns 22..72, chunks 0 and 1 again.
  cache.Runs(m, 0, 1, 0, 455, 20, 50, &shift);
  EXPECT_EQ(cache.chunks_computed(), 5);
}

}  // namespace
}  // namespace ringlab::viz
