#include <gtest/gtest.h>

#include "test_util.h"
#include "viz/stats.h"
#include "viz/stats_index.h"
#include "viz/synth.h"

#include <random>

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

TEST(StatsIndex, GivesTheHandComputedValuesOfTheWholeRunAndOfAClippedWindow) {
  TraceModel m;
  ModelFromTrace(testing::HandTrace(), &m);
  StatsIndex index(m);
  WindowStats s = index.Compute(0, 20);
  ASSERT_EQ(s.ranks.size(), 2u);
  EXPECT_DOUBLE_EQ(s.ranks[0].compute_us, 18);
  EXPECT_DOUBLE_EQ(s.ranks[0].comm_us, 10);
  EXPECT_DOUBLE_EQ(s.ranks[0].both_us, 8);
  EXPECT_DOUBLE_EQ(s.ranks[0].exposed_comm_us, 2);
  EXPECT_DOUBLE_EQ(s.ranks[0].flops, 1e9);
  EXPECT_DOUBLE_EQ(s.ranks[0].bytes, 100 + 1000);
  EXPECT_DOUBLE_EQ(s.ranks[1].wall_us, 10);
  EXPECT_DOUBLE_EQ(s.ranks[1].idle_us, 1);  // [8,9)
  EXPECT_DOUBLE_EQ(s.ranks[1].both_us, 2);  // [2,4)
  EXPECT_NEAR(s.total.overlap_fraction, 10.0 / 17, 1e-12);
  // [8,14]: rank 0 compute [8,10) [12,14), comm [8,14); rank 1 ends at 10, comm [9,10).
  s = index.Compute(8, 14);
  EXPECT_DOUBLE_EQ(s.ranks[0].compute_us, 4);
  EXPECT_DOUBLE_EQ(s.ranks[0].comm_us, 6);
  EXPECT_DOUBLE_EQ(s.ranks[0].both_us, 4);
  EXPECT_DOUBLE_EQ(s.ranks[0].flops, 0);  // the flops belong to the op starting at 0
  EXPECT_DOUBLE_EQ(s.ranks[1].wall_us, 2);
  EXPECT_DOUBLE_EQ(s.ranks[1].comm_us, 1);
  EXPECT_DOUBLE_EQ(s.ranks[1].idle_us, 1);
  // A window outside the run, and an empty one.
  s = index.Compute(30, 40);
  EXPECT_DOUBLE_EQ(s.total.wall_us, 0);
  EXPECT_DOUBLE_EQ(s.total.compute_us, 0);
  EXPECT_DOUBLE_EQ(index.Compute(5, 5).total.comm_us, 0);
}

TEST(IntervalCoverage, MergesTouchingIntervalsAndClipsToTheWindow) {
  IntervalCoverage c;
  c.BuildFromSorted({{0, 2}, {1, 3}, {3, 4}, {6, 7}, {6.5, 6.6}, {9, 9}});
  ASSERT_EQ(c.size(), 2u);  // [0,4) [6,7); the empty [9,9) is dropped
  EXPECT_DOUBLE_EQ(c.Within(-10, 10), 5);
  EXPECT_DOUBLE_EQ(c.Within(1, 6.5), 3.5);
  EXPECT_DOUBLE_EQ(c.Within(4, 6), 0);
  EXPECT_DOUBLE_EQ(c.Within(2, 2.5), 0.5);
}

// The index must give what walking every event gives, for any window: random windows over a jittered 8-rank run,
// plus nested foreign-style events with host activity (left out of compute and comm) in one lane.
TEST(StatsIndex, AgreesWithTheEventWalkOnRandomWindows) {
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 8}, {.jitter = 0.3, .seed = 3}, &t).ok());
  t = RepeatTrace(t, 3);
  TraceModel m;
  ModelFromTrace(t, &m, "synthetic");
  StatsIndex index(m);
  std::mt19937_64 rng(11);
  const double span = m.t_max - m.t_min;
  std::uniform_real_distribution<double> u(m.t_min - 0.05 * span, m.t_max + 0.05 * span);
  for (int k = 0; k < 200; ++k) {
    double a = u(rng), b = u(rng);
    if (k % 4 == 0) b = a + (b - a) * 1e-3;  // small windows too
    if (a > b) std::swap(a, b);
    const WindowStats want = ComputeWindowStats(m, a, b), got = index.Compute(a, b);
    ASSERT_EQ(got.ranks.size(), want.ranks.size());
    const double tol = 1e-9 * span;
    for (size_t r = 0; r < want.ranks.size(); ++r) {
      SCOPED_TRACE(::testing::Message() << "window " << a << ".." << b << " rank " << r);
      EXPECT_EQ(got.ranks[r].rank, want.ranks[r].rank);
      EXPECT_NEAR(got.ranks[r].wall_us, want.ranks[r].wall_us, tol);
      EXPECT_NEAR(got.ranks[r].compute_us, want.ranks[r].compute_us, tol);
      EXPECT_NEAR(got.ranks[r].comm_us, want.ranks[r].comm_us, tol);
      EXPECT_NEAR(got.ranks[r].both_us, want.ranks[r].both_us, tol);
      EXPECT_NEAR(got.ranks[r].idle_us, want.ranks[r].idle_us, tol);
      EXPECT_NEAR(got.ranks[r].flops, want.ranks[r].flops, 1e-9 * std::max(1.0, want.ranks[r].flops));
      EXPECT_NEAR(got.ranks[r].bytes, want.ranks[r].bytes, 1e-9 * std::max(1.0, want.ranks[r].bytes));
    }
  }
}

TEST(StatsIndex, NestedForeignEventsAndHostActivity) {
  // One rank (a foreign trace): a host op [0,100) on a CPU thread, a kernel [10,30) with a nested kernel [12,20) on
  // one GPU stream, an NCCL kernel [25,40) on another.
  const std::string json = R"({"traceEvents":[
    {"ph":"X","name":"step","cat":"cpu_op","pid":1,"tid":1,"ts":0,"dur":100},
    {"ph":"X","name":"gemm","cat":"kernel","pid":1,"tid":7,"ts":10,"dur":20},
    {"ph":"X","name":"inner","cat":"kernel","pid":1,"tid":7,"ts":12,"dur":8},
    {"ph":"X","name":"ncclKernel_AllReduce","cat":"kernel","pid":1,"tid":8,"ts":25,"dur":15}]})";
  TraceModel m;
  ASSERT_TRUE(LoadTraceBuffer(json, "nested.json", &m).ok());
  StatsIndex index(m);
  for (auto [a, b] : {std::pair{0.0, 100.0}, {11.0, 27.0}, {26.0, 50.0}}) {
    const WindowStats want = ComputeWindowStats(m, a, b), got = index.Compute(a, b);
    ASSERT_EQ(got.ranks.size(), 1u);
    EXPECT_DOUBLE_EQ(got.ranks[0].compute_us, want.ranks[0].compute_us);
    EXPECT_DOUBLE_EQ(got.ranks[0].comm_us, want.ranks[0].comm_us);
    EXPECT_DOUBLE_EQ(got.ranks[0].both_us, want.ranks[0].both_us);
    EXPECT_DOUBLE_EQ(got.ranks[0].wall_us, want.ranks[0].wall_us);
  }
  const WindowStats all = index.Compute(0, 100);
  EXPECT_DOUBLE_EQ(all.ranks[0].compute_us, 20);  // the host event is not compute
  EXPECT_DOUBLE_EQ(all.ranks[0].comm_us, 15);
  EXPECT_DOUBLE_EQ(all.ranks[0].both_us, 5);  // [25,30)
  EXPECT_DOUBLE_EQ(all.ranks[0].wall_us, 100);
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
