#include <gtest/gtest.h>

#include "test_util.h"
#include "viz/model.h"

namespace ringlab::viz {
namespace {
using testing::Ev;
using testing::HandTrace;

TEST(TraceModel, GroupsLanesByRankAndStreamSortedByTime) {
  Trace t = HandTrace();
  std::swap(t.events[0], t.events[1]);  // out of order on input
  TraceModel m;
  ModelFromTrace(t, &m);
  ASSERT_EQ(m.lanes.size(), 4u);
  EXPECT_EQ(m.lanes[0].rank, 0);
  EXPECT_EQ(m.lanes[0].stream, 0);
  EXPECT_EQ(m.lanes[1].stream, 1);
  EXPECT_EQ(m.lanes[2].rank, 1);
  EXPECT_EQ(m.lanes[0].end - m.lanes[0].begin, 2u);
  EXPECT_DOUBLE_EQ(m.events[m.lanes[0].begin].ts, 0);
  EXPECT_DOUBLE_EQ(m.events[m.lanes[0].begin + 1].ts, 12);
  EXPECT_EQ(m.ranks, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(m.t_min, 0);
  EXPECT_DOUBLE_EQ(m.t_max, 20);
  EXPECT_EQ(m.lanes[0].name, "rank 0 compute");
}

TEST(TraceModel, FindsOpsByRankAndId) {
  TraceModel m;
  ModelFromTrace(HandTrace(), &m);
  int64_t e = m.FindOp(1, 2);
  ASSERT_GE(e, 0);
  EXPECT_EQ(m.events[size_t(e)].kind, VizKind::kSend);
  EXPECT_DOUBLE_EQ(m.events[size_t(e)].ts, 9);
  EXPECT_EQ(m.FindOp(1, 7), -1);
  EXPECT_EQ(m.FindOp(5, 0), -1);
}

TEST(TraceModel, FirstVisibleAndEventAtUseBinarySearch) {
  TraceModel m;
  ModelFromTrace(HandTrace(), &m);
  // Lane 0: [0,10) [12,20).
  EXPECT_EQ(m.FirstVisible(0, -1), m.lanes[0].begin);
  EXPECT_EQ(m.FirstVisible(0, 10.5), m.lanes[0].begin + 1);
  EXPECT_EQ(m.FirstVisible(0, 25), m.lanes[0].end);
  EXPECT_EQ(m.EventAt(0, 5), int64_t(m.lanes[0].begin));
  EXPECT_EQ(m.EventAt(0, 11), -1);
  EXPECT_EQ(m.EventAt(0, 11, 1.5), int64_t(m.lanes[0].begin + 1));  // within slack of the second op
}

TEST(TraceModel, NestedEventsGetDepths) {
  Trace t;
  t.meta.config.world = 1;
  t.events = {Ev(0, 0, 0, OpKind::kAttend, 0, 100), Ev(0, 0, 1, OpKind::kMerge, 10, 20),
              Ev(0, 0, 2, OpKind::kCopy, 12, 5), Ev(0, 0, 3, OpKind::kMerge, 50, 10)};
  TraceModel m;
  ModelFromTrace(t, &m);
  std::vector<int> depth;
  for (const Event& e : m.events) depth.push_back(e.depth);
  EXPECT_EQ(depth, (std::vector<int>{0, 1, 2, 1}));
  EXPECT_EQ(m.lanes[0].max_depth, 2);
  EXPECT_EQ(m.EventAt(0, 13), 2);  // the deepest event under the cursor
}

TEST(Lod, FoldsEventsNarrowerThanMinPixels) {
  Trace t;
  t.meta.config.world = 1;
  // 1000 ops of 1 us every 2 us, then one 500 us op.
  for (int i = 0; i < 1000; ++i) t.events.push_back(Ev(0, 0, i, OpKind::kAttend, 2.0 * i, 1));
  t.events.push_back(Ev(0, 0, 1000, OpKind::kMerge, 2000, 500));
  TraceModel m;
  ModelFromTrace(t, &m);
  std::vector<LodBlock> blocks;
  // 2500 us over 250 px: 10 us per px; min 2 px = 20 us: ten tiny ops per block.
  VisibleBlocks(m, 0, 0, 2500, 10, 2, &blocks);
  ASSERT_EQ(blocks.size(), 101u);
  uint32_t folded = 0;
  for (size_t i = 0; i + 1 < blocks.size(); ++i) folded += blocks[i].count;
  EXPECT_EQ(folded, 1000u);
  EXPECT_EQ(blocks[0].count, 10u);
  EXPECT_EQ(blocks.back().count, 1u);
  EXPECT_EQ(blocks.back().kind, VizKind::kMerge);
  // Zoomed in: single events, only the visible ones.
  VisibleBlocks(m, 0, 100, 110, 0.01, 2, &blocks);
  ASSERT_EQ(blocks.size(), 6u);  // ops at 100..110 (100,102,...,110)
  EXPECT_EQ(blocks[0].count, 1u);
  EXPECT_DOUBLE_EQ(blocks[0].t0, 100);
}

TEST(Lod, LongEventInsideAFoldStaysVisible) {
  Trace t;
  t.meta.config.world = 1;
  t.events = {Ev(0, 0, 0, OpKind::kAttend, 0, 0.1), Ev(0, 0, 1, OpKind::kAttend, 0.2, 0.1),
              Ev(0, 0, 2, OpKind::kMerge, 0.5, 100)};
  TraceModel m;
  ModelFromTrace(t, &m);
  std::vector<LodBlock> blocks;
  VisibleBlocks(m, 0, 0, 200, 1, 2, &blocks);  // 2 us threshold
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].count, 2u);
  EXPECT_EQ(blocks[1].kind, VizKind::kMerge);
  EXPECT_DOUBLE_EQ(blocks[1].t1, 100.5);
}

TEST(Lod, CoverageRunsMergeColumnsOfOneDominantKind) {
  Trace t;
  t.meta.config.world = 1;
  // 0..1000 us: attend 0.8 us + merge 0.2 us every 1 us (attend dominates every column); a gap; then one 300 us
  // merge from 1500 us.
  for (int i = 0; i < 1000; ++i) {
    t.events.push_back(Ev(0, 0, 2 * i, OpKind::kAttend, i, 0.8));
    t.events.push_back(Ev(0, 0, 2 * i + 1, OpKind::kMerge, i + 0.8, 0.2));
  }
  t.events.push_back(Ev(0, 0, 2000, OpKind::kMerge, 1500, 300));
  TraceModel m;
  ModelFromTrace(t, &m);
  ASSERT_EQ(m.lanes[0].max_depth, 0);
  std::vector<CoverageRun> runs;
  // 10 us per column, 200 columns = 0..2000 us.
  CoverageRuns(m, 0, 1, 0, 10, 200, &runs);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].c0, 0);
  EXPECT_EQ(runs[0].c1, 100);
  EXPECT_EQ(runs[0].kind, VizKind::kAttend);
  EXPECT_FALSE(runs[0].single);
  EXPECT_EQ(runs[1].c0, 150);  // the gap stays background
  EXPECT_EQ(runs[1].c1, 180);
  EXPECT_EQ(runs[1].kind, VizKind::kMerge);
  EXPECT_TRUE(runs[1].single);
  EXPECT_EQ(EventsStartingIn(m, 0, 0, 1000), 2000u);
  // A window starting inside the long op.
  CoverageRuns(m, 0, 1, 1600, 10, 50, &runs);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].c1, 20);
  EXPECT_EQ(runs[0].first, uint32_t(m.lanes[0].begin + 2000));
}

TEST(Search, FindsByNameCaseInsensitive) {
  TraceModel m;
  ModelFromTrace(HandTrace(), &m);
  auto hits = SearchByName(m, "SEND");
  ASSERT_EQ(hits.size(), 2u);
  for (uint32_t h : hits) EXPECT_EQ(m.events[h].kind, VizKind::kSend);
  EXPECT_EQ(SearchByName(m, "step 1").size(), 2u);
  EXPECT_TRUE(SearchByName(m, "nothing like this").empty());
}

TEST(Format, DurationsAndBytesCarryUnits) {
  EXPECT_EQ(FormatDuration(0.5), "500 ns");
  EXPECT_EQ(FormatDuration(12.5), "12.5 us");
  EXPECT_EQ(FormatDuration(3200), "3.2 ms");
  EXPECT_EQ(FormatDuration(2e6), "2 s");
  EXPECT_EQ(FormatBytes(2048), "2.0 KiB");
}

}  // namespace
}  // namespace ringlab::viz
