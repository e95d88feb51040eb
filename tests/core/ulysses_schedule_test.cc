// Ulysses and 2-D hybrid schedules: every invariant holds for every layout, the layout's groups and GQA share are as
// documented in ulysses_layout.h, message and byte counts per rank are as stated below, bad layouts are rejected
// with one line naming the field, and the config's new fields survive JSON.
#include <gtest/gtest.h>

#include <tuple>

#include "core/config_json.h"
#include "core/schedule.h"
#include "core/schedule_validator.h"
#include "core/ulysses_layout.h"

namespace ringlab {
namespace {

using UxR = std::pair<int, int>;
using Params = std::tuple<UxR, Method, UlyssesPlacement, Pass>;
class UlyssesInvariants : public ::testing::TestWithParam<Params> {};

TEST_P(UlyssesInvariants, HoldForEveryMaskGqaAndVariant) {
  const auto [uxr, method, placement, pass] = GetParam();
  const auto [u, r] = uxr;
  for (int kv_heads : {1, 2, 4, 8, 16}) {
    if (u % kv_heads != 0 && kv_heads % u != 0) continue;
    for (auto [sharding, causal] : {std::pair{ShardingKind::kContiguous, false}, {ShardingKind::kContiguous, true},
                                    {ShardingKind::kHeadTail, true}})
      for (Variants v : {Variants{}, PeerVariants()}) {
        ScheduleConfig cfg{.problem = Problem{.batch = 1, .heads = 16, .kv_heads = kv_heads, .seq = 2 * u * r * 4,
                                              .head_dim = 64, .causal = causal},
                           .world = u * r, .sharding = sharding, .method = method, .pass = pass, .variants = v,
                           .ulysses = u, .placement = placement};
        Schedule s;
        Status st = BuildSchedule(cfg, &s);
        ASSERT_TRUE(st.ok()) << Describe(cfg) << ": " << st.message();
        Status v_st = ValidateSchedule(s);
        EXPECT_TRUE(v_st.ok()) << Describe(cfg) << ": " << v_st.message();
      }
  }
}

std::string ParamName(const ::testing::TestParamInfo<Params>& info) {
  const auto [uxr, method, placement, pass] = info.param;
  return "U" + std::to_string(uxr.first) + "xR" + std::to_string(uxr.second) + "_" + std::string(MethodName(method)) +
         "_" + std::string(PlacementName(placement)) + "_" + std::string(PassName(pass));
}

INSTANTIATE_TEST_SUITE_P(Layouts, UlyssesInvariants,
                         ::testing::Combine(::testing::Values(UxR{2, 1}, UxR{4, 1}, UxR{8, 1}, UxR{16, 1}, UxR{2, 2},
                                                              UxR{4, 2}, UxR{2, 4}, UxR{4, 4}, UxR{8, 2}, UxR{2, 3}),
                                            ::testing::Values(Method::kAllToAll, Method::kAllGather),
                                            ::testing::Values(UlyssesPlacement::kConsecutive,
                                                              UlyssesPlacement::kStrided),
                                            ::testing::Values(Pass::kForward, Pass::kBackward)),
                         ParamName);

int Count(const Schedule& s, int rank, OpKind kind) {
  int n = 0;
  for (const Op& op : s.ranks[rank].ops) n += op.kind == kind;
  return n;
}

int64_t Bytes(const Schedule& s, int rank, OpKind kind) {
  int64_t n = 0;
  for (const Op& op : s.ranks[rank].ops) n += op.kind == kind ? op.bytes : 0;
  return n;
}

ScheduleConfig Hybrid(int u, int r, int kv_heads, Pass pass, Method method = Method::kAllToAll) {
  return ScheduleConfig{.problem = Problem{.batch = 2, .heads = 32, .kv_heads = kv_heads, .seq = 1024, .head_dim = 128},
                        .world = u * r, .method = method, .pass = pass, .ulysses = u};
}

// Pure Ulysses, bf16, B=2, H=32, D=128, S=1024, W=U=8, piece p = S/W = 128 tokens. Every rank sends U−1 parts of:
//   forward: K/V 2·B·(Hkv/U)·p·D·2, Q B·(H/U)·p·D·2, out (float32) B·(H/U)·p·D·4, lse B·(H/U)·p·4: 4 all-to-alls;
//   backward: K/V, Q, dOut, lse, delta in and dQ, dK/dV (float32) out: 7 all-to-alls; no point-to-point traffic.
TEST(UlyssesCounts, PureUlyssesMovesFourAllToAllsForwardAndSevenBackward) {
  const int64_t u = 8, p = 128, b = 2, hq = 32 / 8, hkv = 8 / 8, d = 128;
  Schedule f, bw;
  ASSERT_TRUE(BuildSchedule(Hybrid(8, 1, 8, Pass::kForward), &f).ok());
  ASSERT_TRUE(BuildSchedule(Hybrid(8, 1, 8, Pass::kBackward), &bw).ok());
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(Count(f, r, OpKind::kAllToAll), 4);
    EXPECT_EQ(Count(f, r, OpKind::kSend) + Count(f, r, OpKind::kAllGather), 0);
    EXPECT_EQ(Bytes(f, r, OpKind::kAllToAll),
              (u - 1) * (2 * b * hkv * p * d * 2 + b * hq * p * d * 2 + b * hq * p * d * 4 + b * hq * p * 4));
    EXPECT_EQ(Count(bw, r, OpKind::kAllToAll), 7);
    EXPECT_EQ(Count(bw, r, OpKind::kSend), 0);
    EXPECT_EQ(Bytes(bw, r, OpKind::kAllToAll),
              (u - 1) * (2 * b * hkv * p * d * 2 + 2 * b * hq * p * d * 2 + 2 * b * hq * p * 4 + b * hq * p * d * 4 +
                         2 * b * hkv * p * d * 4));
  }
}

// GQA: with U > Hkv every rank still receives exactly one KV head (replication U/Hkv), so the K/V all-to-all moves
// what it moves for Hkv = U; with Hkv = 2U it moves twice that.
TEST(UlyssesCounts, KvHeadsAreReplicatedOnlyAsMuchAsNeeded) {
  auto kv_bytes = [](int kv_heads) {
    Schedule s;
    EXPECT_TRUE(BuildSchedule(Hybrid(8, 1, kv_heads, Pass::kForward), &s).ok());
    const Op& first = s.ranks[3].ops[0];  // the K/V all-to-all is posted first
    EXPECT_EQ(first.reads[0].kind, BufferKind::kKV);
    return first.bytes;
  };
  EXPECT_EQ(kv_bytes(2), kv_bytes(8));
  EXPECT_EQ(kv_bytes(16), 2 * kv_bytes(8));
  const UlyssesLayout l(Hybrid(8, 1, 2, Pass::kForward));
  EXPECT_EQ(l.KvReplication(), 4);
  EXPECT_EQ(l.KvHeads(), 1);
  for (int u = 0; u < 8; ++u) EXPECT_EQ(l.FirstKvHead(u), u / 4) << "query heads " << l.FirstQueryHead(u);
}

// Hybrid U=4 × R=2 ring pass-KV, S=1024: the ring moves the rank's KV heads (Hkv/U = 2) over the ring shard
// S/R = 512 tokens: R−1 = 1 send forward, 2R−1 = 3 backward (K/V once, dK/dV twice), besides the all-to-alls.
TEST(UlyssesCounts, HybridRingSendsRMinusOneKvShardsForwardAndTwoRMinusOneBackward) {
  const int64_t kv_shard = 2 * 2 * (8 / 4) * 512 * 128 * 2;
  Schedule f, b;
  ASSERT_TRUE(BuildSchedule(Hybrid(4, 2, 8, Pass::kForward), &f).ok());
  ASSERT_TRUE(BuildSchedule(Hybrid(4, 2, 8, Pass::kBackward), &b).ok());
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(Count(f, r, OpKind::kAllToAll), 4);
    EXPECT_EQ(Count(f, r, OpKind::kSend), 1);
    EXPECT_EQ(Bytes(f, r, OpKind::kSend), kv_shard);
    EXPECT_EQ(Count(b, r, OpKind::kAllToAll), 7);
    EXPECT_EQ(Count(b, r, OpKind::kSend), 3);
  }
  // Every rank attends H/U heads over a head-tail balanced ring shard: equal FLOPs, summing to the problem's.
  double total = 0;
  for (int r = 0; r < 8; ++r) {
    double flops = 0;
    for (const Op& op : f.ranks[r].ops) flops += op.flops;
    total += flops;
  }
  EXPECT_DOUBLE_EQ(total, Hybrid(4, 2, 8, Pass::kForward).problem.ForwardFlops());
  Schedule g;
  ASSERT_TRUE(BuildSchedule(Hybrid(4, 2, 8, Pass::kForward, Method::kAllGather), &g).ok());
  EXPECT_EQ(Count(g, 0, OpKind::kAllGather), 1);
  EXPECT_EQ(Bytes(g, 0, OpKind::kAllGather), kv_shard * (2 - 1));
}

// W = 8, U = 4, R = 2. Consecutive: rank = j·U + u; strided: rank = u·R + j.
TEST(UlyssesLayoutGroups, PlacementDecidesWhichRanksFormEachGroup) {
  ScheduleConfig cfg = Hybrid(4, 2, 8, Pass::kForward);
  UlyssesLayout consecutive(cfg);
  EXPECT_EQ(consecutive.UlyssesGroup(5), (CommGroup{.first = 4, .stride = 1, .size = 4}));
  EXPECT_EQ(consecutive.RingGroup(5), (CommGroup{.first = 1, .stride = 4, .size = 2}));
  cfg.placement = UlyssesPlacement::kStrided;
  UlyssesLayout strided(cfg);
  EXPECT_EQ(strided.UlyssesGroup(5), (CommGroup{.first = 1, .stride = 2, .size = 4}));
  EXPECT_EQ(strided.RingGroup(5), (CommGroup{.first = 4, .stride = 1, .size = 2}));
  // The ring send of rank 5 goes to the next ring position in its ring group.
  Schedule s;
  ASSERT_TRUE(BuildSchedule(cfg, &s).ok());
  for (const Op& op : s.ranks[5].ops)
    if (op.kind == OpKind::kSend) EXPECT_EQ(op.peer, 4);
}

void ExpectRejected(ScheduleConfig cfg, const std::string& text) {
  Status st = ValidateConfig(cfg);
  ASSERT_FALSE(st.ok()) << "expected a rejection mentioning: " << text;
  EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << "one line";
}

TEST(UlyssesValidation, RejectsBadLayoutsNamingTheFieldAndTheAllowedValues) {
  ScheduleConfig cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.ulysses = 3;
  ExpectRejected(cfg, "ulysses U=3 must divide world W=8 (allowed: 1, 2, 4, 8)");
  cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.ring = 4;
  ExpectRejected(cfg, "ring R=4 times ulysses U=4 must equal world W=8 (allowed ring: 0 to derive it, or 2)");
  cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.problem.heads = 6;
  cfg.problem.kv_heads = 2;
  ExpectRejected(cfg, "ulysses U=4 must divide heads H=6 (allowed: 1, 2, 3, 6)");
  cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.problem.heads = 24;
  cfg.problem.kv_heads = 6;
  ExpectRejected(cfg, "ulysses U=4 and kv-heads Hkv=6 must divide one another");
  cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.problem.seq = 1028;
  ExpectRejected(cfg, "seq 1028 must be divisible by world = 8");
  // Head-tail balances the ring dimension: seq must split into 2R chunks as well as into W pieces. With an odd U
  // the second does not imply the first: U = 3, R = 2, W = 6, seq 18.
  cfg = ScheduleConfig{.problem = Problem{.heads = 6, .kv_heads = 3, .seq = 18}, .world = 6, .ulysses = 3};
  ExpectRejected(cfg, "seq 18 must be divisible by 2*R = 4 for sharding head-tail (it balances the ring dimension R=2)");
  cfg.problem.seq = 12;
  EXPECT_TRUE(ValidateConfig(cfg).ok());
  cfg.ulysses = 0;
  ExpectRejected(cfg, "ulysses (Ulysses degree U) must be >= 1 (got 0)");
  cfg = Hybrid(4, 2, 8, Pass::kForward);
  cfg.problem.causal = false;
  ExpectRejected(cfg, "sharding head-tail is causal load balancing");
}

TEST(UlyssesValidator, CoverageIsPerHeadGroup) {
  Schedule s;
  ASSERT_TRUE(BuildSchedule(Hybrid(2, 2, 8, Pass::kForward), &s).ok());
  ASSERT_TRUE(ValidateSchedule(s).ok());
  // Rank 1 (head group 1) loses its attention blocks: group 1's pairs are never computed although group 0 has them.
  for (Op& op : s.ranks[1].ops)
    if (op.kind == OpKind::kAttend) op.attend.q_end = op.attend.q_begin;
  Status st = CheckCoverage(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("never computed for head group 1 (query heads 16..31)"), std::string::npos)
      << st.message();
}

TEST(UlyssesValidator, CatchesAnAllToAllMissingFromOneMemberAndAReadBeforeIt) {
  Schedule s;
  ASSERT_TRUE(BuildSchedule(Hybrid(4, 1, 8, Pass::kForward), &s).ok());
  Schedule broken = s;
  broken.ranks[2].ops[1].tag = 42;  // rank 2 joins the Q all-to-all under another tag
  Status st = CheckMatching(broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("all-to-all tag 1 of the group from rank 0 is joined by 3 of 4 ranks"),
            std::string::npos) << st.message();
  EXPECT_NE(CheckProgress(broken).message().find("deadlock"), std::string::npos);
  broken = s;
  for (Op& op : broken.ranks[0].ops)
    if (op.kind == OpKind::kAttend) op.deps = {};
  st = CheckBufferHazards(broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("without waiting"), std::string::npos) << st.message();
  broken = s;
  broken.ranks[0].ops[0].writes = {};
  broken.ranks[0].ops[0].writes.push_back(BufferRef{BufferKind::kQHeads, 0});  // K/V into the Q heads buffer
  EXPECT_NE(CheckStructure(broken).message().find("allowed: a buffer and its head-sharded form"), std::string::npos);
}

TEST(UlyssesConfig, DescribeAndJsonCarryTheLayout) {
  ScheduleConfig cfg = Hybrid(4, 2, 8, Pass::kBackward);
  cfg.placement = UlyssesPlacement::kStrided;
  EXPECT_NE(Describe(cfg).find("W=8 U=4xR=2 strided"), std::string::npos) << Describe(cfg);
  const nlohmann::json j = ToJson(cfg);
  EXPECT_EQ(j["ulysses"], 4);
  EXPECT_EQ(j["ring"], 2);
  EXPECT_EQ(j["placement"], "strided");
  ScheduleConfig back;
  ASSERT_TRUE(FromJson(j, &back).ok());
  EXPECT_EQ(back.ulysses, 4);
  EXPECT_EQ(back.placement, UlyssesPlacement::kStrided);
  EXPECT_TRUE(ValidateConfig(back).ok());
  nlohmann::json old = j;  // files written before the fields existed are plain context parallelism
  old.erase("ulysses");
  old.erase("ring");
  old.erase("placement");
  ASSERT_TRUE(FromJson(old, &back).ok());
  EXPECT_EQ(back.ulysses, 1);
  old["placement"] = "diagonal";
  EXPECT_EQ(FromJson(old, &back).message(), "config.placement 'diagonal' is not one of consecutive, strided");
}

}  // namespace
}  // namespace ringlab
