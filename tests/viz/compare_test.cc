#include <gtest/gtest.h>

#include "test_util.h"
#include "viz/compare.h"

namespace ringlab::viz {
namespace {

TEST(Compare, MatchesOpsByIdAndTabulatesErrorsPerKind) {
  Trace a = testing::HandTrace();
  Trace b = a;
  for (TraceEvent& e : b.events) {
    e.ts_us += 100;  // B starts later: aligned by the start shift
    if (e.kind == OpKind::kAttend) e.dur_us *= 1.1;
    if (e.kind == OpKind::kSend) e.dur_us *= 0.5;
  }
  b.events.pop_back();  // rank 1 op 2 (a send) missing in B
  TraceModel ma, mb;
  ModelFromTrace(a, &ma);
  ModelFromTrace(b, &mb);
  Comparison c = CompareTraces(ma, mb);
  EXPECT_TRUE(c.by_op_id);
  EXPECT_DOUBLE_EQ(c.start_shift_us, 100);
  EXPECT_EQ(c.unmatched_a, 1);
  EXPECT_EQ(c.unmatched_b, 0);
  ASSERT_EQ(c.kinds.size(), 4u);  // attend, send, recv, total
  EXPECT_EQ(c.kinds[0].name, "attend");
  EXPECT_EQ(c.kinds[0].matched, 3);
  EXPECT_DOUBLE_EQ(c.kinds[0].a_us, 22);
  EXPECT_NEAR(c.kinds[0].b_us, 24.2, 1e-9);
  EXPECT_NEAR(c.kinds[0].mean_abs_rel_error, 0.1, 1e-9);
  EXPECT_NEAR(c.kinds[0].total_rel_error, 0.1, 1e-9);
  EXPECT_EQ(c.kinds[1].name, "send");
  EXPECT_EQ(c.kinds[1].matched, 1);
  EXPECT_NEAR(c.kinds[1].total_rel_error, -0.5, 1e-9);
  EXPECT_EQ(c.kinds[2].name, "recv");
  EXPECT_NEAR(c.kinds[2].max_abs_rel_error, 0, 1e-12);
  const KindError& total = c.kinds.back();
  EXPECT_EQ(total.name, "total");
  EXPECT_EQ(total.matched, 5);
  EXPECT_NEAR(total.mean_abs_rel_error, (0.1 * 3 + 0.5 + 0) / 5, 1e-9);
  EXPECT_NEAR(total.a_us, 22 + 10 + 6, 1e-9);
  EXPECT_NEAR(total.b_us, 24.2 + 5 + 6, 1e-9);
  // Per-op difference of A's first attend.
  int64_t e = ma.FindOp(0, 0);
  EXPECT_NEAR(c.rel_diff[size_t(e)], 0.1, 1e-6);
  EXPECT_EQ(c.b_of_a[size_t(e)], mb.FindOp(0, 0));
  // Lanes line up by (rank, stream).
  for (size_t l = 0; l < ma.lanes.size(); ++l) EXPECT_EQ(c.lane_b_of_a[l], int(l));
}

TEST(Compare, WithoutOpIdsMatchesByPositionInLane) {
  const std::string a = R"({"traceEvents":[{"ph":"X","pid":1,"tid":2,"name":"k","cat":"kernel","ts":0,"dur":10},
    {"ph":"X","pid":1,"tid":2,"name":"k","cat":"kernel","ts":20,"dur":10}]})";
  const std::string b = R"({"traceEvents":[{"ph":"X","pid":1,"tid":2,"name":"k","cat":"kernel","ts":5,"dur":20},
    {"ph":"X","pid":1,"tid":2,"name":"k","cat":"kernel","ts":30,"dur":5}]})";
  TraceModel ma, mb;
  ASSERT_TRUE(LoadTraceBuffer(a, "a", &ma).ok());
  ASSERT_TRUE(LoadTraceBuffer(b, "b", &mb).ok());
  Comparison c = CompareTraces(ma, mb);
  EXPECT_FALSE(c.by_op_id);
  EXPECT_EQ(c.kinds.back().matched, 2);
  EXPECT_NEAR(c.rel_diff[0], 1.0, 1e-6);
  EXPECT_NEAR(c.rel_diff[1], -0.5, 1e-6);
}

}  // namespace
}  // namespace ringlab::viz
