// Start order (core/start_order.h): a kernel lets a transfer listed before it start first only when that costs it
// nothing, i.e. the transfer's start needs nothing the kernel does not wait for anyway.
#include <gtest/gtest.h>

#include <vector>

#include "core/schedule.h"
#include "core/start_order.h"

namespace ringlab {
namespace {

RankSchedule Rank0(Method method, Pass pass, int world = 4) {
  ScheduleConfig cfg{.problem = Problem{.batch = 1, .heads = 8, .kv_heads = 8, .seq = 16384, .head_dim = 128,
                                        .causal = true},
                     .world = world, .method = method, .pass = pass};
  return BuildRankSchedule(cfg, 0);
}

int IdOf(const RankSchedule& rs, OpKind kind, int step, int nth = 0) {
  for (const Op& op : rs.ops)
    if (op.kind == kind && op.step == step && nth-- == 0) return op.id;
  ADD_FAILURE() << "no op " << OpKindName(kind) << " step " << step;
  return -1;
}

using Waits = std::vector<int32_t>;

TEST(StartOrder, RingForwardEveryKernelButTheLastLetsItsStepTransferGoFirst) {
  const RankSchedule rs = Rank0(Method::kAllToAll, Pass::kForward);
  const auto w = ListedStartWaits(rs);
  // Step k's K/V transfer (send + recv, one group) is listed before attend k and needs only what attend k waits for:
  // the previous step's receive and the previous attend (its buffer is reused). It waits for the group's last op.
  EXPECT_EQ(w[IdOf(rs, OpKind::kAttend, 0)], Waits{IdOf(rs, OpKind::kRecv, 0)});
  EXPECT_EQ(w[IdOf(rs, OpKind::kAttend, 1)], Waits{IdOf(rs, OpKind::kRecv, 1)});
  EXPECT_EQ(w[IdOf(rs, OpKind::kAttend, 2)], Waits{IdOf(rs, OpKind::kRecv, 2)});
  EXPECT_TRUE(w[IdOf(rs, OpKind::kAttend, 3)].empty()) << "no transfer is listed before the last block";
  for (const Op& op : rs.ops)
    if (op.stream == StreamKind::kComm) EXPECT_TRUE(w[op.id].empty()) << "comm ops never wait for a start";
}

TEST(StartOrder, AllGatherGoesBeforeTheFirstKernel) {
  const RankSchedule rs = Rank0(Method::kAllGather, Pass::kForward);
  const auto w = ListedStartWaits(rs);
  EXPECT_EQ(w[IdOf(rs, OpKind::kAttend, 0)], Waits{IdOf(rs, OpKind::kAllGather, 0)});
  for (int step = 1; step < 4; ++step) EXPECT_TRUE(w[IdOf(rs, OpKind::kAttend, step)].empty());
}

TEST(StartOrder, RingBackwardNeverWaitsBehindAGradientReturnItDoesNotNeed) {
  const RankSchedule rs = Rank0(Method::kAllToAll, Pass::kBackward);
  const auto w = ListedStartWaits(rs);
  // Listed before attend 1: the dK/dV return of step 0 (needs attend 0: free) and the K/V transfer of step 1, which the
  // comm stream runs only after that return ends; attend 1 does not wait for the return, so it must not wait for the
  // K/V transfer's start either.
  const int attend1 = IdOf(rs, OpKind::kAttend, 1);
  const int grad_return0 = IdOf(rs, OpKind::kRecv, 0, 1);  // the second recv of step 0
  EXPECT_EQ(w[attend1], Waits{grad_return0});
  const int kv_recv1 = IdOf(rs, OpKind::kRecv, 1, 0);
  for (int32_t g : w[attend1]) EXPECT_NE(g, kv_recv1);
}

TEST(StartOrder, WaitsOnlyForCommOpsListedBeforeTheKernel) {
  for (Method m : {Method::kAllGather, Method::kAllToAll})
    for (Pass p : {Pass::kForward, Pass::kBackward})
      for (int world : {2, 3, 4, 8}) {
        const RankSchedule rs = Rank0(m, p, world);
        const auto w = ListedStartWaits(rs);
        ASSERT_EQ(w.size(), rs.ops.size());
        for (const Op& op : rs.ops)
          for (int32_t g : w[op.id]) {
            EXPECT_EQ(op.stream, StreamKind::kCompute);
            EXPECT_LT(g, op.id);
            EXPECT_EQ(rs.ops[g].stream, StreamKind::kComm);
          }
      }
}

}  // namespace
}  // namespace ringlab
