#include <gtest/gtest.h>

#include "test_util.h"
#include "viz/stats.h"

namespace ringlab::viz {
namespace {

// HandTrace: rank 0 compute [0,10) [12,20), comm [5,15); rank 1 compute [0,4), comm [2,8) [9,10).
TEST(WindowStats, WholeRunMatchesHandComputedValues) {
  TraceModel m;
  ModelFromTrace(testing::HandTrace(), &m);
  WindowStats s = ComputeWindowStats(m, 0, 20);
  ASSERT_EQ(s.ranks.size(), 2u);
  const RankWindowStats& r0 = s.ranks[0];
  EXPECT_DOUBLE_EQ(r0.wall_us, 20);
  EXPECT_DOUBLE_EQ(r0.compute_us, 18);
  EXPECT_DOUBLE_EQ(r0.comm_us, 10);
  EXPECT_DOUBLE_EQ(r0.both_us, 8);  // [5,10) and [12,15)
  EXPECT_DOUBLE_EQ(r0.idle_us, 0);  // [10,12) is covered by comm
  EXPECT_DOUBLE_EQ(r0.exposed_comm_us, 2);
  EXPECT_DOUBLE_EQ(r0.overlap_fraction, 0.8);
  EXPECT_DOUBLE_EQ(r0.flops, 1e9);
  const RankWindowStats& r1 = s.ranks[1];
  EXPECT_DOUBLE_EQ(r1.wall_us, 10);  // rank 1 spans [0,10)
  EXPECT_DOUBLE_EQ(r1.compute_us, 4);
  EXPECT_DOUBLE_EQ(r1.comm_us, 7);
  EXPECT_DOUBLE_EQ(r1.both_us, 2);    // [2,4)
  EXPECT_DOUBLE_EQ(r1.idle_us, 1);    // [8,9)
  EXPECT_DOUBLE_EQ(r1.exposed_comm_us, 6);
  EXPECT_NEAR(r1.overlap_fraction, 2.0 / 7, 1e-12);
  EXPECT_DOUBLE_EQ(s.total.compute_us, 22);
  EXPECT_NEAR(s.total.overlap_fraction, 10.0 / 17, 1e-12);
}

TEST(WindowStats, ClipsEventsToTheWindow) {
  TraceModel m;
  ModelFromTrace(testing::HandTrace(), &m);
  WindowStats s = ComputeWindowStats(m, 8, 14);
  const RankWindowStats& r0 = s.ranks[0];
  EXPECT_DOUBLE_EQ(r0.wall_us, 6);
  EXPECT_DOUBLE_EQ(r0.compute_us, 4);  // [8,10) [12,14)
  EXPECT_DOUBLE_EQ(r0.comm_us, 6);
  EXPECT_DOUBLE_EQ(r0.both_us, 4);
  EXPECT_DOUBLE_EQ(r0.exposed_comm_us, 2);
  const RankWindowStats& r1 = s.ranks[1];
  EXPECT_DOUBLE_EQ(r1.wall_us, 2);  // [8,10): rank 1 ends at 10
  EXPECT_DOUBLE_EQ(r1.compute_us, 0);
  EXPECT_DOUBLE_EQ(r1.comm_us, 1);
  EXPECT_DOUBLE_EQ(r1.idle_us, 1);
  EXPECT_DOUBLE_EQ(r1.flops, 0);
}

TEST(RunInfo, SummarizesSourceMethodAndStepTime) {
  Trace t = testing::HandTrace();
  TraceModel m;
  ModelFromTrace(t, &m, "hand");
  RunInfo r = Summarize(m);
  EXPECT_EQ(r.source, "sim");
  EXPECT_DOUBLE_EQ(r.step_time_us, 20);
  EXPECT_EQ(r.ranks, 2);
  EXPECT_NE(r.method.find("alltoall"), std::string::npos);
  EXPECT_NE(r.method.find("W=2"), std::string::npos);
}

}  // namespace
}  // namespace ringlab::viz
