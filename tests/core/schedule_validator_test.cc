// The validator names the first violation when a schedule is broken on purpose.
#include "core/schedule_validator.h"

#include <gtest/gtest.h>

namespace ringlab {
namespace {

Schedule Ring(int w, Pass pass = Pass::kForward) {
  Schedule s;
  EXPECT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 64 * w}, .world = w, .pass = pass}, &s).ok());
  return s;
}

Op* Find(Schedule& s, int rank, OpKind kind, int nth = 0) {
  for (Op& op : s.ranks[rank].ops)
    if (op.kind == kind && nth-- == 0) return &op;
  return nullptr;
}

void ExpectMessage(const Status& st, const std::string& text) {
  ASSERT_FALSE(st.ok()) << "expected a violation mentioning: " << text;
  EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
}

TEST(Validator, CatchesABlockComputedTwice) {
  Schedule s = Ring(4);
  Op again = *Find(s, 2, OpKind::kAttend);
  again.id = int32_t(s.ranks[2].ops.size());
  s.ranks[2].ops.push_back(again);
  ExpectMessage(CheckCoverage(s), "a second time");
}

TEST(Validator, CatchesABlockNeverComputed) {
  Schedule s = Ring(4);
  Op* attend = Find(s, 1, OpKind::kAttend, 2);
  attend->attend.q_end = attend->attend.q_begin;
  ExpectMessage(CheckCoverage(s), "never computed");
}

TEST(Validator, CatchesAWrongMask) {
  Schedule s = Ring(2);
  Find(s, 0, OpKind::kAttend)->attend.causal = false;  // own block computed without its causal mask
  ExpectMessage(CheckCoverage(s), "wrong mask");
}

// A chunk of one token (seq = chunks) on the causal diagonal is wholly visible: the validator called it full where the
// truth is diagonal and rejected every such schedule ("wrong mask").
TEST(Validator, AcceptsChunksOfOneToken) {
  for (ShardingKind sharding : {ShardingKind::kContiguous, ShardingKind::kHeadTail})
    for (Method method : {Method::kAllGather, Method::kAllToAll})
      for (Pass pass : {Pass::kForward, Pass::kBackward})
        for (int w : {1, 2, 3, 4}) {
          const int64_t chunks = sharding == ShardingKind::kHeadTail ? 2 * w : w;
          ScheduleConfig cfg{.problem = Problem{.heads = 4, .kv_heads = 2, .seq = chunks}, .world = w,
                             .sharding = sharding, .method = method, .pass = pass};
          Schedule s;
          ASSERT_TRUE(BuildSchedule(cfg, &s).ok());
          const Status st = ValidateSchedule(s);
          EXPECT_TRUE(st.ok()) << ShardingName(sharding) << " " << MethodName(method) << " W=" << w << ": "
                               << st.message();
        }
}

TEST(Validator, CatchesASendWithoutReceive) {
  Schedule s = Ring(3);
  Find(s, 1, OpKind::kRecv)->tag = 99;
  ExpectMessage(CheckMatching(s), "never");
}

TEST(Validator, CatchesMismatchedBytes) {
  Schedule s = Ring(3);
  Find(s, 1, OpKind::kSend)->bytes += 2;
  ExpectMessage(CheckMatching(s), "bytes");
}

TEST(Validator, CatchesAReadBeforeTheReceiveFillsTheBuffer) {
  Schedule s = Ring(4);
  Op* attend = Find(s, 0, OpKind::kAttend, 1);  // step 1 reads kv_ring[1], filled by the step-0 receive
  attend->deps = {};
  ExpectMessage(CheckBufferHazards(s), "without waiting");
}

TEST(Validator, CatchesAnOverwriteOfABufferStillBeingRead) {
  Schedule s = Ring(4);
  Op* recv = Find(s, 0, OpKind::kRecv, 2);  // step 2 receive overwrites kv_ring[1], read by the step-1 attention
  recv->deps = {};
  ExpectMessage(CheckBufferHazards(s), "may still read");
}

TEST(Validator, CatchesADeadlockWhenARingPostsItsSendAlone) {
  Schedule s = Ring(3);
  for (auto& rank : s.ranks)
    for (Op& op : rank.ops) op.group = -1;  // send and receive no longer posted together: every rank blocks in send
  ExpectMessage(CheckProgress(s), "deadlock");
}

// Dependencies must point to earlier ops, which rules out cycles inside a rank by construction.
TEST(Validator, CatchesAForwardDependency) {
  Schedule s = Ring(2);
  Op* send = Find(s, 0, OpKind::kSend);
  send->deps = {};
  send->deps.push_back(Find(s, 0, OpKind::kAttend, 1)->id);
  ExpectMessage(CheckStructure(s), "not an earlier op");
}

TEST(Validator, CatchesUnbalancedHeadTail) {
  Schedule s = Ring(4);
  Find(s, 3, OpKind::kAttend)->flops *= 2;
  ExpectMessage(CheckBalance(s), "head-tail rank 3");
}

TEST(Validator, AcceptsTheBackwardRing) { EXPECT_TRUE(ValidateSchedule(Ring(5, Pass::kBackward)).ok()); }

}  // namespace
}  // namespace ringlab
