#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"
#include "viz/deps.h"
#include "viz/synth.h"

namespace ringlab::viz {
namespace {

TEST(DepGraph, UsesTheRebuiltScheduleForExactDeps) {
  ScheduleConfig cfg{.problem = DefaultProblem(), .world = 4};
  Trace t;
  ASSERT_TRUE(SynthTrace(cfg, {}, &t).ok());
  TraceModel m;
  ModelFromTrace(t, &m);
  DepGraph g(m);
  ASSERT_TRUE(g.exact());
  Schedule s;
  ASSERT_TRUE(BuildSchedule(cfg, &s).ok());
  // Every schedule dep shows up as an edge, and every send finds its receive on the peer.
  for (int r = 0; r < cfg.world; ++r)
    for (const Op& op : s.ranks[size_t(r)].ops) {
      int64_t e = m.FindOp(r, op.id);
      ASSERT_GE(e, 0);
      auto deps = g.DepsOf(uint32_t(e));
      for (int32_t d : op.deps) {
        int64_t de = m.FindOp(r, d);
        EXPECT_TRUE(std::any_of(deps.begin(), deps.end(), [&](const DepEdge& x) { return x.from == uint32_t(de); }))
            << "rank " << r << " op " << op.id << " dep " << d;
      }
      if (op.kind == OpKind::kSend) {
        auto out = g.DependantsOf(uint32_t(e));
        auto it = std::find_if(out.begin(), out.end(), [](const DepEdge& x) { return x.type == DepType::kMessage; });
        ASSERT_NE(it, out.end());
        const Event& recv = m.events[it->to];
        EXPECT_EQ(recv.kind, VizKind::kRecv);
        EXPECT_EQ(m.lanes[recv.lane].rank, op.peer);
        EXPECT_EQ(recv.peer, r);
      }
    }
}

TEST(DepGraph, DerivesStreamOrderAndSendRecvPairsWithoutASchedule) {
  const std::string json = R"({"traceEvents":[
    {"ph":"X","pid":0,"tid":1,"name":"s","cat":"send","ts":0,"dur":5,"args":{"step":0,"peer":1}},
    {"ph":"X","pid":1,"tid":1,"name":"r","cat":"recv","ts":0,"dur":5,"args":{"step":0,"peer":0}},
    {"ph":"X","pid":1,"tid":1,"name":"r2","cat":"recv","ts":6,"dur":5,"args":{"step":1,"peer":0}}]})";
  TraceModel m;
  ASSERT_TRUE(LoadTraceBuffer(json, "x", &m).ok());
  DepGraph g(m);
  EXPECT_FALSE(g.exact());
  auto r2 = SearchByName(m, "r2")[0];
  auto deps = g.DepsOf(r2);
  ASSERT_EQ(deps.size(), 1u);  // its stream predecessor; no step-1 send exists
  EXPECT_EQ(deps[0].type, DepType::kStream);
  auto s = SearchByName(m, "s")[0];
  auto out = g.DependantsOf(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, DepType::kMessage);
  EXPECT_EQ(m.NameOf(m.events[out[0].to]), "r");
}

TEST(CriticalPath, FollowsTheLastReadyDependency) {
  // rank 0: A [0,10) then B [10,20) on compute; rank 1: C [0,3) compute, send [3,4)->0 comm; rank 0 recv [3,4).
  // B depends on A only through stream order, so the path is A -> B.
  Trace t;
  t.meta.config.world = 2;
  using testing::Ev;
  t.events = {Ev(0, 0, 0, OpKind::kAttend, 0, 10), Ev(0, 0, 1, OpKind::kAttend, 10, 10),
              Ev(1, 0, 0, OpKind::kAttend, 0, 3), Ev(1, 1, 1, OpKind::kSend, 3, 1, 0, 0),
              Ev(0, 1, 2, OpKind::kRecv, 3, 1, 0, 1)};
  t.meta.config.problem.seq = 7;  // invalid config: forces derived deps
  TraceModel m;
  ModelFromTrace(t, &m);
  DepGraph g(m);
  auto path = CriticalPath(m, &g);
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[0], uint32_t(m.FindOp(0, 0)));
  EXPECT_EQ(path[1], uint32_t(m.FindOp(0, 1)));
}

TEST(CriticalPath, OfASyntheticRingEndsAtTheLastOpAndGoesBackInTime) {
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 8}, {.jitter = 0.2}, &t).ok());
  TraceModel m;
  ModelFromTrace(t, &m);
  DepGraph g(m);
  auto path = CriticalPath(m, &g);
  ASSERT_GE(path.size(), 8u);
  EXPECT_DOUBLE_EQ(m.events[path.back()].End(), m.t_max);
  EXPECT_LT(m.events[path.front()].ts, m.t_min + 1e-3 * (m.t_max - m.t_min));
}

}  // namespace
}  // namespace ringlab::viz
