// Invariants on every simulated trace, over methods, passes, variants, shardings, world sizes and a multi-node
// topology: no stream runs two ops at once (except the ops of one posted group, which NCCL runs as one kernel);
// every op starts after its dependencies end; a receive ends when its matching send ends and after it started; the
// engine's online summary equals core's Summarize of the trace.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "core/metrics.h"
#include "sim/simulate.h"

namespace ringlab::sim {
namespace {

constexpr double kEps = 1e-6;  // us; times are integer ps

void CheckTrace(const ScheduleConfig& cfg, const HardwareProfile& hw, const SimOptions& opt) {
  SCOPED_TRACE(Describe(cfg));
  Schedule sched;
  ASSERT_TRUE(BuildSchedule(cfg, &sched).ok());
  SimResult r;
  Status st = Simulate(cfg, hw, opt, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(int64_t(r.trace.events.size()), sched.OpCount());
  const int w = cfg.world;
  std::vector<std::vector<const TraceEvent*>> by_op(w);
  for (int rk = 0; rk < w; ++rk) by_op[rk].assign(sched.ranks[rk].ops.size(), nullptr);
  for (const TraceEvent& e : r.trace.events) {
    ASSERT_EQ(by_op[e.rank][e.op], nullptr) << "op traced twice";
    by_op[e.rank][e.op] = &e;
  }
  std::map<std::tuple<int, int, int>, const TraceEvent*> sends;
  for (int rk = 0; rk < w; ++rk) {
    const auto& ops = sched.ranks[rk].ops;
    const TraceEvent* last[kStreamCount] = {nullptr, nullptr};
    int last_group[kStreamCount] = {-1, -1};
    for (const Op& op : ops) {
      const TraceEvent* e = by_op[rk][op.id];
      ASSERT_NE(e, nullptr);
      const int s = int(op.stream);
      // Stream order: starts no earlier than the previous op of the stream ends (unless posted in one group).
      if (last[s] && !(op.group >= 0 && op.group == last_group[s]))
        EXPECT_GE(e->ts_us + kEps, last[s]->ts_us + last[s]->dur_us) << "rank " << rk << " op " << op.id;
      if (last[s]) EXPECT_GE(e->ts_us + kEps, last[s]->ts_us);
      last[s] = e;
      last_group[s] = op.group;
      for (int32_t d : op.deps) {
        const TraceEvent* de = by_op[rk][d];
        EXPECT_GE(e->ts_us + kEps, de->ts_us + de->dur_us) << "rank " << rk << " op " << op.id << " dep " << d;
      }
      if (op.kind == OpKind::kSend) sends[{rk, op.peer, op.tag}] = e;
    }
  }
  for (int rk = 0; rk < w; ++rk)
    for (const Op& op : sched.ranks[rk].ops) {
      if (op.kind != OpKind::kRecv) continue;
      const TraceEvent* recv = by_op[rk][op.id];
      const TraceEvent* send = sends.at({op.peer, rk, op.tag});
      EXPECT_GE(recv->ts_us + recv->dur_us + kEps, send->ts_us);
      EXPECT_NEAR(recv->ts_us + recv->dur_us, send->ts_us + send->dur_us, kEps);
    }
  // The online summary equals core's interval arithmetic over the trace.
  const RunSummary from_trace = Summarize(r.trace, hw.peak_tflops);
  EXPECT_NEAR(r.summary.step_time_us, from_trace.step_time_us, kEps);
  EXPECT_NEAR(r.summary.exposed_comm_us, from_trace.exposed_comm_us, kEps);
  for (int rk = 0; rk < w; ++rk) {
    EXPECT_NEAR(r.summary.ranks[rk].compute_us, from_trace.ranks[rk].compute_us, 1e-5);
    EXPECT_NEAR(r.summary.ranks[rk].comm_us, from_trace.ranks[rk].comm_us, 1e-5);
    EXPECT_NEAR(r.summary.ranks[rk].both_us, from_trace.ranks[rk].both_us, 1e-5);
  }
  EXPECT_NEAR(r.summary.total_flops, from_trace.total_flops, 1e-3 * from_trace.total_flops + 1);
}

TEST(SimTraceInvariants, HoldForEveryScheduleShape) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  SimOptions opt;
  opt.trace = TraceMode::kAll;
  for (int gpn : {8, 2})
    for (int w : {1, 2, 3, 4, 8})
      for (ShardingKind sh : kShardingKinds)
        for (Method m : {Method::kAllGather, Method::kAllToAll})
          for (Pass p : {Pass::kForward, Pass::kBackward})
            for (bool peer : {false, true}) {
              ScheduleConfig cfg;
              cfg.problem = Problem{.batch = 1, .heads = 8, .kv_heads = 2, .seq = int64_t(w) * 2 * 512, .head_dim = 128};
              cfg.world = w;
              cfg.sharding = sh;
              cfg.method = m;
              cfg.pass = p;
              if (peer) cfg.variants = PeerVariants();
              opt.topology.gpus_per_node = gpn;
              CheckTrace(cfg, hw, opt);
            }
}

TEST(SimTraceInvariants, SampledRanksTraceOnlyThoseRanks) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  SimOptions opt;
  opt.trace = TraceMode::kRanks;
  opt.trace_ranks = {0, 5};
  ScheduleConfig cfg;
  cfg.problem.seq = 16 * 2 * 256;
  cfg.world = 16;
  SimResult r;
  ASSERT_TRUE(Simulate(cfg, hw, opt, &r).ok());
  ASSERT_FALSE(r.trace.events.empty());
  for (const TraceEvent& e : r.trace.events) EXPECT_TRUE(e.rank == 0 || e.rank == 5);
  opt.trace_ranks = {16};
  EXPECT_FALSE(Simulate(cfg, hw, opt, &r).ok());
}

}  // namespace
}  // namespace ringlab::sim
