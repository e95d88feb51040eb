// `ringlab plan`'s search (sim/plan.h, sim/plan_search.h): the pruned search ranks the same best layout and the same
// rows (those under the smallest pruned bound), with the same numbers, as the exhaustive one; every pruned row's bound
// is at most its exhaustive step and above the winner's; the bound is never above the simulated step and at least half
// the simulated compute; the result does not depend on the threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>

#include "sim/plan.h"
#include "sim/profile.h"

namespace ringlab::sim {
namespace {

struct Case {
  const char* profile;
  int heads, kv_heads;
  int64_t seq;
  int gpus_per_node, nodes;
};

PlanResult Plan(const Case& c, bool exhaustive, int workers) {
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile(c.profile, &hw).ok());
  PlanSpec spec;
  spec.problem = Problem{.heads = c.heads, .kv_heads = c.kv_heads, .seq = c.seq, .head_dim = 128};
  spec.gpus_per_node = c.gpus_per_node;
  spec.nodes = c.nodes;
  spec.workers = workers;
  spec.exhaustive = exhaustive;
  PlanResult plan;
  const Status st = RunPlan(spec, hw, &plan);
  EXPECT_TRUE(st.ok()) << st.message();
  return plan;
}

class PlanSearchTest : public ::testing::TestWithParam<Case> {};

TEST_P(PlanSearchTest, PrunedSearchKeepsTheExhaustiveRanking) {
  const PlanResult all = Plan(GetParam(), /*exhaustive=*/true, 2);
  const PlanResult fast = Plan(GetParam(), /*exhaustive=*/false, 2);
  ASSERT_EQ(all.rows.size(), fast.rows.size());
  ASSERT_FALSE(all.rows.empty());
  EXPECT_EQ(all.pruned, 0);
  EXPECT_EQ(fast.reason.substr(0, fast.reason.find(';')), all.reason.substr(0, all.reason.find(';')));
  const PlanRow& best = all.rows.front();
  for (const PlanRow& r : all.rows) {
    ASSERT_TRUE(r.simulated && r.error.empty()) << r.layout << ": " << r.error;
    // A bound on the step (compute of the busiest rank plus the start skews), and not a vacuous one.
    EXPECT_LE(r.lower_bound_ms, r.step_ms) << r.layout << " " << r.method;
    EXPECT_GE(r.lower_bound_ms, 0.5 * r.compute_ms) << r.layout << " " << r.method;
  }
  // Every pruned row's step is at least its bound, so the exhaustive rows whose step is under the smallest pruned
  // bound are all simulated by the pruned search too, and rank first in both (past it a pruned row may rank between
  // two simulated ones in the exhaustive table).
  double smallest_pruned = std::numeric_limits<double>::infinity();
  for (const PlanRow& f : fast.rows)
    if (f.pruned) smallest_pruned = std::min(smallest_pruned, f.lower_bound_ms);
  for (size_t i = 0; i < fast.rows.size(); ++i) {
    const PlanRow& f = fast.rows[i];
    if (f.pruned) {  // the bound holds, and rules the row out against the winner
      EXPECT_GT(f.lower_bound_ms, best.step_ms) << f.layout;
      bool found = false;
      for (const PlanRow& a : all.rows)
        if (a.config.ulysses == f.config.ulysses && a.config.method == f.config.method &&
            a.config.placement == f.config.placement && a.config.sharding == f.config.sharding) {
          EXPECT_LE(f.lower_bound_ms, a.step_ms) << f.layout;
          found = true;
        }
      EXPECT_TRUE(found) << f.layout;
      continue;
    }
    // Simulated rows come first and match the exhaustive ranking row for row, to the last bit, up to the smallest
    // pruned bound.
    const PlanRow& a = all.rows[i];
    if (a.step_ms >= smallest_pruned) continue;
    EXPECT_EQ(f.layout, a.layout);
    EXPECT_EQ(f.method, a.method);
    EXPECT_EQ(f.forward_ms, a.forward_ms) << f.layout;
    EXPECT_EQ(f.step_ms, a.step_ms) << f.layout;
    EXPECT_EQ(f.exposed_ms, a.exposed_ms) << f.layout;
    EXPECT_EQ(f.memory_gib, a.memory_gib) << f.layout;
  }
}

TEST_P(PlanSearchTest, ThreadCountDoesNotChangeTheResult) {
  const PlanResult one = Plan(GetParam(), false, 1), three = Plan(GetParam(), false, 3);
  EXPECT_EQ(PlanTable(one), PlanTable(three));
}

// With no valid layout, the error says why: --shardings head-tail under --no-causal used to get only "no valid
// layout for W = 2 GPUs".
TEST(PlanErrors, NoValidLayoutNamesTheShardingAndWhy) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile("h100_sxm", &hw).ok());
  PlanSpec spec;
  spec.problem = Problem{.heads = 8, .kv_heads = 2, .seq = 4096, .head_dim = 128, .causal = false};
  spec.gpus_per_node = 2;
  spec.nodes = 1;
  spec.workers = 1;
  spec.shardings = {ShardingKind::kHeadTail};
  PlanResult plan;
  Status st = RunPlan(spec, hw, &plan);
  EXPECT_NE(st.message().find("no valid layout for W = 2 GPUs with --shardings head-tail: sharding head-tail is "
                              "causal load balancing and needs --causal"),
            std::string::npos)
      << st.message();
  spec.shardings = {ShardingKind::kHeadTail, ShardingKind::kContiguous};  // contiguous stands in
  EXPECT_TRUE(RunPlan(spec, hw, &plan).ok());
}

INSTANTIATE_TEST_SUITE_P(Clusters, PlanSearchTest,
                         ::testing::Values(Case{"h100_sxm", 32, 8, 131072, 8, 1},             // one node
                                           Case{"h100_sxm_calibrated", 64, 8, 131072, 8, 4},  // 32 GPUs, GQA
                                           Case{"h100_sxm_calibrated", 16, 2, 65536, 4, 4}));

}  // namespace
}  // namespace ringlab::sim
