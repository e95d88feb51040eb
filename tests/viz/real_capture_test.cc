// The viewer's model on real-capture shapes: iterations and step times, runs kept apart, Kineto's string pids named,
// flows bound to their slices, counters, per-name statistics against a brute-force computation, and compare mode
// across sources (a PyTorch capture against a simulated trace) with its schedule warnings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "test_util.h"
#include "viz/compare.h"
#include "viz/flows.h"
#include "viz/iterations.h"
#include "viz/name_stats.h"
#include "viz/stats.h"

namespace ringlab::viz {
namespace {

std::string Fixture(int rank) { return std::string(RINGLAB_VIZ_TEST_DATA) + "/kineto_rank" + std::to_string(rank) + ".json"; }

TraceModel LoadCapture() {
  TraceModel m;
  Status s = LoadTraceFiles({Fixture(0), Fixture(1)}, &m);
  EXPECT_TRUE(s.ok()) << s.message();
  return m;
}

TEST(RealCapture, IterationsFromProfilerStepsWithStepTimes) {
  const TraceModel m = LoadCapture();
  const IterationTable it = DetectIterations(m);
  EXPECT_EQ(it.source, IterationTable::Source::kProfilerStep);
  ASSERT_EQ(it.iterations.size(), 2u);
  // The fixture's annotations (make_kineto_fixture.py STEPS): the slowest rank sets the step.
  EXPECT_EQ(it.iterations[0].id, 5);
  EXPECT_DOUBLE_EQ(it.iterations[0].step_us, 3100);
  EXPECT_EQ(it.iterations[1].id, 6);
  EXPECT_DOUBLE_EQ(it.iterations[1].step_us, 2900);
  EXPECT_DOUBLE_EQ(it.median_step_us, 3000);
  ASSERT_EQ(it.per_rank.size(), 4u);
  EXPECT_DOUBLE_EQ(it.per_rank[0].step_us, 3000);  // iteration 5, rank 0
  EXPECT_DOUBLE_EQ(it.per_rank[1].step_us, 3100);  // iteration 5, rank 1
  // Device span: first kernel (annotation + 100 us) to the merge kernel's end: 410 + 430 + 35.
  for (const RankIteration& r : it.per_rank) EXPECT_DOUBLE_EQ(r.device_us, 875) << r.rank << " " << r.id;
  // The run's step time is the median iteration's, not the whole capture.
  const RunInfo run = Summarize(m);
  EXPECT_DOUBLE_EQ(run.step_time_us, 3000);
  EXPECT_EQ(run.iterations, 2);
  EXPECT_LT(run.step_time_us, m.t_max - m.t_min);
}

TEST(RealCapture, IterationIdsOfOurTraces) {
  // args.iteration on each op: iteration 0 spans [0, 30), iteration 1 [40, 100).
  const std::string t = R"({"traceEvents":[
    {"ph":"X","pid":0,"tid":0,"name":"a","cat":"attend","ts":0,"dur":20,"args":{"iteration":0}},
    {"ph":"X","pid":0,"tid":1,"name":"s","cat":"send","ts":10,"dur":20,"args":{"iteration":0}},
    {"ph":"X","pid":0,"tid":0,"name":"a","cat":"attend","ts":40,"dur":50,"args":{"iteration":1}},
    {"ph":"X","pid":0,"tid":1,"name":"s","cat":"send","ts":60,"dur":40,"args":{"iteration":1}}]})";
  TraceModel m;
  ASSERT_TRUE(LoadTraceBuffer(t, "iters.json", &m).ok());
  const IterationTable it = DetectIterations(m);
  EXPECT_EQ(it.source, IterationTable::Source::kIterationIds);
  ASSERT_EQ(it.iterations.size(), 2u);
  EXPECT_DOUBLE_EQ(it.iterations[0].step_us, 30);
  EXPECT_DOUBLE_EQ(it.iterations[1].step_us, 60);
  EXPECT_DOUBLE_EQ(it.median_step_us, 45);
}

TEST(RealCapture, LaneLabelsAndTheSpansProcessAreNamed) {
  const TraceModel m = LoadCapture();
  std::vector<std::string> names;
  for (const Lane& l : m.lanes) names.push_back(l.name);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  EXPECT_TRUE(has("r0 GPU 0 / stream 19")) << ::testing::PrintToString(names);
  EXPECT_TRUE(has("r1 GPU 1 / stream 7"));
  // Kineto writes "pid": "Spans": the lane says so instead of the id it was given (2^40).
  EXPECT_TRUE(has("r0 Spans / PyTorch Profiler")) << ::testing::PrintToString(names);
  for (const std::string& n : names) EXPECT_EQ(n.find("1099511627776"), std::string::npos) << n;
}

TEST(RealCapture, FilesOfOneRankFromTwoRunsAreNotMerged) {
  TraceModel m;
  Status s = LoadTraceFiles({Fixture(0), Fixture(0)}, &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("both hold rank 0"), std::string::npos) << s.message();
  LoadOptions o;
  o.separate_runs = true;
  ASSERT_TRUE(LoadTraceFiles({Fixture(0), Fixture(1), Fixture(0)}, &m, o).ok());
  EXPECT_EQ(m.ranks, (std::vector<int>{0, 1, 2}));  // run 2's rank 0 follows run 1's ranks 0 and 1
  int run2 = 0;
  for (const Lane& l : m.lanes) run2 += l.name.rfind("run 2 ", 0) == 0;
  EXPECT_GT(run2, 0);
}

TEST(RealCapture, FlowsBindLaunchToKernelAndCountersLoad) {
  const TraceModel m = LoadCapture();
  // 2 ranks x 2 iterations x 2 launches, each cudaLaunchKernel -> its flash kernel.
  ASSERT_EQ(m.flows.size(), 8u);
  for (const Flow& f : m.flows) {
    EXPECT_EQ(m.NameOf(m.events[f.from]), "cudaLaunchKernel");
    EXPECT_EQ(m.NameOf(m.events[f.to]), "pytorch_flash::flash_fwd_kernel");
    EXPECT_EQ(m.lanes[m.events[f.from].lane].rank, m.lanes[m.events[f.to].lane].rank);
  }
  ASSERT_EQ(m.counters.size(), 2u);  // one "link bytes/s" per rank
  EXPECT_EQ(m.counters[0].name, "link bytes/s");
  EXPECT_EQ(m.counters[0].rank, 0);
  EXPECT_EQ(m.counters[0].ts.size(), 8u);
  EXPECT_DOUBLE_EQ(m.counters[1].vmax, 2.1e11);
  EXPECT_DOUBLE_EQ(m.counters[0].vmin, 0);
}

TEST(RealCapture, SendRecvFlowsOfTracesWithoutFlowEventsAreDerived) {
  TraceModel m;
  ModelFromTrace(testing::HandTrace(), &m);
  const FlowSet f = MessageFlows(m);
  EXPECT_TRUE(f.derived);
  ASSERT_EQ(f.flows.size(), 1u);  // rank 0's step-0 send to rank 1's step-0 recv
  EXPECT_EQ(m.events[f.flows[0].from].kind, VizKind::kSend);
  EXPECT_EQ(m.events[f.flows[0].to].kind, VizKind::kRecv);
  std::vector<Flow> vis;
  VisibleFlows(m, f, 16, 17, 10, &vis);
  EXPECT_TRUE(vis.empty());  // both ops end by t = 15
  VisibleFlows(m, f, 0, 3, 10, &vis);
  EXPECT_EQ(vis.size(), 1u);
}

TEST(RealCapture, FlowEventsOfTheNewWriterJoinSendToRecvAcrossRanks) {
  // Send and recv on tracks of their own, an s on the send and an f (bp e) on the recv, as core/trace writes them.
  const std::string t = R"({"traceEvents":[
    {"ph":"X","pid":0,"tid":2,"name":"send","cat":"send","ts":5,"dur":10,"args":{"op":1,"peer":1}},
    {"ph":"s","pid":0,"tid":2,"name":"msg","cat":"message","id":7,"ts":5},
    {"ph":"X","pid":1,"tid":3,"name":"recv","cat":"recv","ts":5,"dur":10,"args":{"op":1,"peer":0}},
    {"ph":"f","pid":1,"tid":3,"name":"msg","cat":"message","id":7,"bp":"e","ts":5}]})";
  TraceModel m;
  ASSERT_TRUE(LoadTraceBuffer(t, "flows.json", &m).ok());
  ASSERT_EQ(m.flows.size(), 1u);
  EXPECT_EQ(m.NameOf(m.events[m.flows[0].from]), "send");
  EXPECT_EQ(m.NameOf(m.events[m.flows[0].to]), "recv");
  EXPECT_FALSE(MessageFlows(m).derived);
}

TEST(RealCapture, OddFlowsAndCountersAreSkippedNotFatal) {
  // Ends before starts, flows without ids or slices, counters with strings, objects and several keys.
  const std::string t = R"({"traceEvents":[
    {"ph":"f","pid":0,"tid":0,"id":1,"ts":1,"bp":"e"},
    {"ph":"X","pid":0,"tid":0,"name":"a","cat":"kernel","ts":0,"dur":10},
    {"ph":"s","pid":0,"tid":0,"ts":2},
    {"ph":"s","pid":0,"tid":0,"id":"x","cat":"c","ts":50},
    {"ph":"t","pid":0,"tid":0,"id":"x","cat":"c","ts":3},
    {"ph":"C","pid":0,"name":"mem","ts":0,"args":{"alloc":5,"free":2.5,"note":"hi","nested":{"a":1}}},
    {"ph":"C","pid":0,"name":"mem","ts":4,"args":{"alloc":7,"free":1}},
    {"args":{"value":3},"ph":"C","pid":1,"name":"late ph","ts":1}]})";
  TraceModel m;
  Status s = LoadTraceBuffer(t, "odd.json", &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(m.flows.empty());
  ASSERT_EQ(m.counters.size(), 3u);  // mem.alloc, mem.free (pid 0), "late ph" (pid 1: its args read before ph)
  EXPECT_EQ(m.counters[0].name, "mem.alloc");
  EXPECT_EQ(m.counters[0].value, (std::vector<double>{5, 7}));
  EXPECT_EQ(m.counters[1].name, "mem.free");
  EXPECT_EQ(m.counters[1].value, (std::vector<double>{2.5, 1}));
  EXPECT_EQ(m.counters[2].name, "late ph");
}

// Brute force: every event starting in [t0, t1), durations sorted, nearest rank.
std::map<std::string, std::vector<double>> BruteDurations(const TraceModel& m, double t0, double t1) {
  std::map<std::string, std::vector<double>> d;
  for (const Event& e : m.events)
    if (e.ts >= t0 && e.ts < t1) d[m.NameOf(e)].push_back(e.dur);
  for (auto& [n, v] : d) std::sort(v.begin(), v.end());
  return d;
}

TEST(NameStats, MatchBruteForceOnRandomWindows) {
  std::mt19937_64 rng(20261206);
  std::string json = R"({"traceEvents":[)";
  const char* names[] = {"flash_fwd", "ncclSendRecv", "merge", "copy", "gemm"};
  std::uniform_real_distribution<double> ts(0, 10000), dur(0.5, 300);
  for (int i = 0; i < 3000; ++i) {
    char b[200];
    snprintf(b, sizeof b, R"(%s{"ph":"X","pid":%d,"tid":%d,"name":"%s","cat":"kernel","ts":%.3f,"dur":%.3f})",
             i ? "," : "", i % 3, i % 5, names[rng() % 5], ts(rng), dur(rng));
    json += b;
  }
  json += "]}";
  TraceModel m;
  ASSERT_TRUE(LoadTraceBuffer(json, "random.json", &m).ok());
  for (int w = 0; w < 50; ++w) {
    double t0 = ts(rng), t1 = ts(rng);
    if (t1 < t0) std::swap(t0, t1);
    if (w == 0) t0 = -1, t1 = 1e9;  // everything
    const std::vector<NameStats> rows = ComputeNameStats(m, t0, t1);
    const auto brute = BruteDurations(m, t0, t1);
    ASSERT_EQ(rows.size(), brute.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const NameStats& r = rows[i];
      const std::vector<double>& v = brute.at(m.names[r.name]);
      ASSERT_EQ(r.count, int64_t(v.size()));
      double sum = 0;
      for (double x : v) sum += x;
      EXPECT_NEAR(r.total_us, sum, 1e-6 * sum);
      EXPECT_NEAR(r.mean_us, sum / double(v.size()), 1e-9 * sum);
      EXPECT_EQ(r.p50_us, v[size_t(std::ceil(0.50 * double(v.size()))) - 1]);
      EXPECT_EQ(r.p99_us, v[size_t(std::ceil(0.99 * double(v.size()))) - 1]);
      if (i) EXPECT_GE(rows[i - 1].total_us, r.total_us);  // largest total first
    }
  }
}

TEST(NameStats, FixtureValues) {
  const TraceModel m = LoadCapture();
  const std::vector<NameStats> rows = ComputeNameStats(m, m.t_min, m.t_max + 1);
  auto row = [&](const std::string& n) {
    for (const NameStats& r : rows)
      if (m.names[r.name] == n) return r;
    ADD_FAILURE() << n;
    return NameStats{};
  };
  const NameStats flash = row("pytorch_flash::flash_fwd_kernel");
  EXPECT_EQ(flash.count, 8);  // 2 ranks x 2 iterations x 2 steps
  EXPECT_DOUBLE_EQ(flash.total_us, 4 * (400 + 420));
  EXPECT_DOUBLE_EQ(flash.p50_us, 400);  // 4 of 400, 4 of 420: the 4th smallest
  EXPECT_DOUBLE_EQ(flash.p99_us, 420);
  EXPECT_DOUBLE_EQ(row("ProfilerStep#5").p99_us, 3100);
}

// A simulated ring trace of the fixture's problem: per rank 2 attends, 2 sends, 2 recvs, a merge.
Trace SimulatedRing(double attend_scale) {
  Trace t;
  t.meta.source = "sim";
  t.meta.config.world = 2;
  t.meta.config.method = Method::kAllGather;
  using testing::Ev;
  for (int r = 0; r < 2; ++r) {
    t.events.push_back(Ev(r, 0, 0, OpKind::kAttend, 0, 400 * attend_scale, 0));
    t.events.push_back(Ev(r, 1, 1, OpKind::kSend, 5, 280, 0, 1 - r));
    t.events.push_back(Ev(r, 1, 2, OpKind::kRecv, 5, 280, 0, 1 - r));
    t.events.push_back(Ev(r, 0, 3, OpKind::kAttend, 410, 420 * attend_scale, 1));
    t.events.push_back(Ev(r, 1, 4, OpKind::kSend, 415, 290, 1, 1 - r));
    t.events.push_back(Ev(r, 1, 5, OpKind::kRecv, 415, 290, 1, 1 - r));
    t.events.push_back(Ev(r, 0, 6, OpKind::kMerge, 840, 30, 1));
  }
  return t;
}

TEST(CompareAcrossSources, PyTorchCaptureAgainstSimulatedTrace) {
  const TraceModel a = LoadCapture();
  TraceModel b;
  ModelFromTrace(SimulatedRing(1.1), &b);
  const Comparison c = CompareTraces(a, b);
  EXPECT_FALSE(c.by_op_id);
  EXPECT_EQ(c.iteration_a, 5);  // the capture's first iteration against the whole simulated one
  EXPECT_EQ(c.iterations_a, 2);
  EXPECT_EQ(c.iteration_b, -1);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];  // both communicate by send/recv
  EXPECT_DOUBLE_EQ(c.step_a_us, 875);  // iteration 5's device span, not its 3.1 ms annotation (host time too)
  // B is drawn so its start meets the iteration's first kernel (annotation 1000 + 100).
  EXPECT_DOUBLE_EQ(b.t_min, 0);
  EXPECT_DOUBLE_EQ(c.start_shift_us, -1100);
  // Error table by kind: attention ops matched by order (flash kernels), 2 per rank.
  const KindError* attend = nullptr;
  const KindError* send = nullptr;
  for (const KindError& k : c.kinds) {
    if (k.name == "attend") attend = &k;
    if (k.name == "send") send = &k;
  }
  ASSERT_NE(attend, nullptr);
  EXPECT_EQ(attend->matched, 4);
  EXPECT_DOUBLE_EQ(attend->a_us, 2 * (400 + 420));
  EXPECT_NEAR(attend->total_rel_error, 0.1, 1e-9);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->matched, 4);  // each SendRecv kernel with the rank's send of that step
  EXPECT_NEAR(send->b_us, 2 * (280 + 290), 1e-9);
  EXPECT_NEAR(send->total_rel_error, (1140.0 - 1220.0) / 1220.0, 1e-12);  // -6.56 % in the screenshot
  // Every lane of B is drawn: under an A lane of its rank.
  for (int la : c.lane_a_of_b) EXPECT_GE(la, 0);
}

TEST(CompareAcrossSources, WarnsWhenSchedulesDiffer) {
  Trace ag = SimulatedRing(1.0), a2a = SimulatedRing(1.0);
  a2a.meta.config.method = Method::kAllToAll;
  for (TraceEvent& e : a2a.events)
    if (e.kind == OpKind::kSend || e.kind == OpKind::kRecv) e.kind = OpKind::kAllToAll;
  TraceModel ma, mb;
  ModelFromTrace(ag, &ma);
  ModelFromTrace(a2a, &mb);
  const Comparison c = CompareTraces(ma, mb);
  EXPECT_FALSE(c.by_op_id);  // op ids of two different schedules mean different ops
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_NE(c.warnings[0].find("A is allgather, B is alltoall"), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[1].find("only in A: send/recv x8; only in B: all-to-all x8"), std::string::npos) << c.warnings[1];
  // Same schedule: matched by op id, no warning.
  const Comparison same = CompareTraces(ma, ma);
  EXPECT_TRUE(same.by_op_id);
  EXPECT_TRUE(same.warnings.empty());
}

}  // namespace
}  // namespace ringlab::viz
