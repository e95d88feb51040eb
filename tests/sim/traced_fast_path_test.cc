// Traced runs of a few ranks (--trace-ranks) take the exact fast paths (the shift-symmetric run, the phased
// all-gather run, the rank-range run) and must trace those ranks exactly as the general engine does: the written
// trace JSON byte for byte, besides the summary, counts and tallies that sim_test_util.h compares.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/simulate.h"
#include "tests/sim/sim_test_util.h"

namespace ringlab::sim {
namespace {

using testing::RingConfig;
const auto Load = testing::LoadNamed;

ScheduleConfig Config(int w, Method m, Pass pass, ShardingKind sharding, int64_t tokens_per_gpu = 128) {
  ScheduleConfig c = RingConfig(w, tokens_per_gpu * w, m, pass);
  c.sharding = sharding;
  return c;
}

// Ranks at both ends, inside a block, across a node boundary and in the middle.
std::vector<int> Ranks(int w) {
  std::set<int> s = {0, 1, 7 % w, 8 % w, w / 2, w / 2 + 3, w - 1};
  return {s.begin(), s.end()};
}

SimResult ExpectTracedSameAsGeneral(const ScheduleConfig& cfg, const HardwareProfile& hw, int range_run_above = 0) {
  SCOPED_TRACE(hw.name + ": " + Describe(cfg));
  SimOptions fast;
  fast.trace = TraceMode::kRanks;
  fast.trace_ranks = Ranks(cfg.world);
  fast.share_probe_above = 8;  // spliced programs where they apply
  fast.range_run_above = range_run_above;
  const SimResult r = testing::ExpectSameAsGeneralEngine(cfg, hw, fast);
  // Every traced rank has one event per op of its schedule.
  std::set<int> seen;
  for (const TraceEvent& e : r.trace.events) seen.insert(e.rank);
  EXPECT_EQ(seen.size(), fast.trace_ranks.size());
  return r;
}

TEST(SimTracedFastPath, SymmetricRun) {
  // h100_sxm: every rank the same program; the symmetric run with P = 8 representatives.
  const HardwareProfile hw = Load("h100_sxm");
  for (Pass p : {Pass::kForward, Pass::kBackward})
    for (Method m : {Method::kAllToAll, Method::kAllGather}) {
      const SimResult r = ExpectTracedSameAsGeneral(Config(64, m, p, ShardingKind::kHeadTail), hw);
      EXPECT_LT(r.symmetry_period, 64);
    }
}

TEST(SimTracedFastPath, PhasedAllGather) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Pass p : {Pass::kForward, Pass::kBackward})
    for (ShardingKind s : {ShardingKind::kHeadTail, ShardingKind::kContiguous})
      for (int w : {64, 200}) {
        const SimResult r = ExpectTracedSameAsGeneral(Config(w, Method::kAllGather, p, s), hw);
        EXPECT_GT(r.phased_period, 0);
      }
}

TEST(SimTracedFastPath, RangeRun) {
  const HardwareProfile hw = Load("h100_sxm_calibrated");
  for (Pass p : {Pass::kForward, Pass::kBackward})
    for (int w : {64, 200}) {
      const SimResult r = ExpectTracedSameAsGeneral(Config(w, Method::kAllToAll, p, ShardingKind::kHeadTail), hw);
      EXPECT_TRUE(r.range_period > 0 || r.symmetry_period < w) << r.range_fallback;
    }
  // Programs of different cost (512 tokens per GPU): the ranges split and merge while ranks are traced.
  const SimResult r =
      ExpectTracedSameAsGeneral(Config(96, Method::kAllToAll, Pass::kForward, ShardingKind::kHeadTail, 512), hw);
  EXPECT_GT(r.range_period, 0) << r.range_fallback;
}

TEST(SimTracedFastPath, WholeTraceStaysOnTheGeneralEngine) {
  SimOptions all;
  all.trace = TraceMode::kAll;
  SimResult r;
  ASSERT_TRUE(Simulate(Config(16, Method::kAllToAll, Pass::kForward, ShardingKind::kHeadTail), Load("h100_sxm"),
                       all, &r)
                  .ok());
  EXPECT_EQ(r.symmetry_period, 16);
  std::set<int> seen;
  for (const TraceEvent& e : r.trace.events) seen.insert(e.rank);
  EXPECT_EQ(seen.size(), 16u);
}

}  // namespace
}  // namespace ringlab::sim
