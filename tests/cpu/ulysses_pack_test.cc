// The GPU all-to-all's index mapping (kernels/cuda/ulysses_pack.h) against UlyssesLayout's sharding: every rank
// packs its piece on the host, the slots are exchanged as NCCL would (rank v's slot u goes to member u's slot v), the
// receivers unpack, and the result must be each rank's heads over its ring shard (sequence→head), or the original
// pieces back (head→sequence), with replicated K/V heads summed once per replica.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "core/ulysses_layout.h"
#include "kernels/cuda/ulysses_pack.h"

namespace ringlab::gpu {
namespace {

struct Case {
  int world, ulysses, heads, kv_heads;
  int64_t seq;
  ShardingKind sharding;
  UlyssesPlacement placement;
};

// The config's K/V (kv) or Q (!kv) tensor of one all-to-all as the executor sees it; `inner` = head dim or 1.
AllToAllShape ShapeFor(const UlyssesLayout& l, const Problem& p, bool kv, int64_t inner) {
  return AllToAllShape{.members = l.Ulysses(), .halves = kv ? 2 : 1, .batch = p.batch,
                       .all_heads = kv ? p.kv_heads : p.heads, .member_heads = kv ? l.KvHeads() : l.QueryHeads(),
                       .piece = l.PieceTokens(), .inner = inner};
}

// Emulated all-to-all among every Ulysses group: slots[rank] are the rank's packed slots; returns what each rank
// receives (member v's slot for it at v·SlotElems()).
std::vector<std::vector<double>> Exchange(const UlyssesLayout& l, const AllToAllShape& s, int world,
                                          const std::vector<std::vector<double>>& slots) {
  std::vector<std::vector<double>> recv(world, std::vector<double>(s.SlotsElems()));
  for (int rank = 0; rank < world; ++rank) {
    const CommGroup g = l.UlyssesGroup(rank);
    const int me = l.UlyssesIndex(rank);
    for (int v = 0; v < g.size; ++v) {
      const std::vector<double>& from = slots[g.Rank(v)];  // member v sends me its slot `me`
      std::copy(from.begin() + me * s.SlotElems(), from.begin() + (me + 1) * s.SlotElems(),
                recv[rank].begin() + v * s.SlotElems());
    }
  }
  return recv;
}

void CheckRoundTrip(const Case& c, bool kv, int64_t inner) {
  const Problem p{.batch = 2, .heads = c.heads, .kv_heads = c.kv_heads, .seq = c.seq, .head_dim = int(inner),
                  .causal = true};
  const ScheduleConfig cfg{.problem = p, .world = c.world, .sharding = c.sharding, .ulysses = c.ulysses,
                           .placement = c.placement};
  ASSERT_TRUE(ValidateConfig(cfg).ok()) << ValidateConfig(cfg).message();
  const UlyssesLayout l(cfg);
  const AllToAllShape s = ShapeFor(l, p, kv, inner);
  const int all_heads = kv ? p.kv_heads : p.heads, halves = kv ? 2 : 1;
  const int64_t outer = int64_t(halves) * p.batch * all_heads;  // rows (half, batch, head) of the global tensor
  std::vector<double> global(outer * p.seq * inner);
  std::iota(global.begin(), global.end(), 1.0);  // every element distinct and nonzero
  std::vector<std::vector<double>> pieces(c.world), slots(c.world);
  for (int rank = 0; rank < c.world; ++rank) {
    pieces[rank] = l.Shard(global, outer, inner, rank);
    ASSERT_EQ(int64_t(pieces[rank].size()), s.SeqElems());
    slots[rank] = PackOnHost(s, /*to_heads=*/true, pieces[rank]);
  }
  const std::vector<std::vector<double>> recv = Exchange(l, s, c.world, slots);
  const Sharding ring = l.RingSharding();
  std::vector<std::vector<double>> head_shards(c.world), back(c.world);
  for (int rank = 0; rank < c.world; ++rank) {
    head_shards[rank] = UnpackOnHost(s, /*to_heads=*/true, recv[rank]);
    // Expected: the rank's heads over its ring position's shard, tokens in the ring sharding's local order.
    const std::vector<double> shard = ring.Shard(global, outer, inner, l.RingIndex(rank));
    const int u = l.UlyssesIndex(rank);
    for (int64_t row = 0; row < int64_t(halves) * p.batch * s.member_heads; ++row) {
      const int64_t i = row % s.member_heads, hb = row / s.member_heads;
      const int64_t src_row = hb * all_heads + s.FirstHead(u) + i;
      for (int64_t e = 0; e < s.Shard() * inner; ++e)
        ASSERT_EQ(head_shards[rank][row * s.Shard() * inner + e], shard[src_row * s.Shard() * inner + e])
            << "rank " << rank << " row " << row << " element " << e;
    }
    slots[rank] = PackOnHost(s, /*to_heads=*/false, head_shards[rank]);
  }
  // Head→sequence: every piece comes back, a replicated K/V head as the sum of its equal replicas.
  const std::vector<std::vector<double>> recv_back = Exchange(l, s, c.world, slots);
  const double replicas = kv ? l.KvReplication() : 1;
  for (int rank = 0; rank < c.world; ++rank) {
    back[rank] = UnpackOnHost(s, /*to_heads=*/false, recv_back[rank]);
    ASSERT_EQ(back[rank].size(), pieces[rank].size());
    for (size_t e = 0; e < back[rank].size(); ++e)
      ASSERT_EQ(back[rank][e], replicas * pieces[rank][e]) << "rank " << rank << " element " << e;
  }
}

constexpr auto kHT = ShardingKind::kHeadTail, kC = ShardingKind::kContiguous;
constexpr auto kCons = UlyssesPlacement::kConsecutive, kStr = UlyssesPlacement::kStrided;

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return "W" + std::to_string(c.world) + "U" + std::to_string(c.ulysses) + "_H" + std::to_string(c.heads) + "kv" +
         std::to_string(c.kv_heads) + "_S" + std::to_string(c.seq) + "_" + std::string(c.sharding == kHT ? "headtail" : "contiguous") +
         "_" + std::string(PlacementName(c.placement));
}

class UlyssesPackTest : public ::testing::TestWithParam<Case> {};

TEST_P(UlyssesPackTest, QueriesRoundTrip) { CheckRoundTrip(GetParam(), /*kv=*/false, /*inner=*/4); }
TEST_P(UlyssesPackTest, KeyValuesRoundTripAndSumReplicas) { CheckRoundTrip(GetParam(), /*kv=*/true, /*inner=*/4); }
TEST_P(UlyssesPackTest, RowTensorsRoundTrip) { CheckRoundTrip(GetParam(), /*kv=*/false, /*inner=*/1); }

INSTANTIATE_TEST_SUITE_P(
    Layouts, UlyssesPackTest,
    ::testing::Values(Case{1, 1, 4, 2, 16, kHT, kCons},     // W = 1: the degenerate exchange is the identity
                      Case{2, 2, 4, 2, 16, kHT, kCons},     // pure Ulysses, GQA
                      Case{4, 4, 8, 2, 32, kC, kCons},      // U > Hkv: each K/V head on two members
                      Case{8, 8, 8, 1, 64, kHT, kCons},     // one K/V head replicated eight times
                      Case{4, 2, 4, 4, 32, kHT, kCons},     // hybrid 2 × 2, head-tail on the ring
                      Case{4, 2, 4, 4, 32, kHT, kStr},      // the same, strided placement
                      Case{6, 3, 6, 3, 48, kHT, kCons},     // odd U: pieces cut by head-tail chunk boundaries
                      Case{8, 4, 8, 2, 64, kHT, kStr},      // hybrid 4 × 2 strided, replicated K/V
                      Case{16, 8, 16, 2, 128, kC, kCons}),  // hybrid 8 × 2
    Name);

TEST(UlyssesPackTest, MembersOfHeadFollowsTheLayoutsRule) {
  // Every head's members are exactly those whose [FirstHead, FirstHead + n) covers it.
  for (auto [u, heads] : {std::pair{4, 8}, {8, 2}, {4, 4}, {16, 8}, {2, 1}}) {
    const AllToAllShape s{.members = u, .all_heads = heads, .member_heads = std::max(1, heads / u)};
    for (int hd = 0; hd < heads; ++hd) {
      int first = 0, count = 0;
      s.MembersOfHead(hd, &first, &count);
      for (int v = 0; v < u; ++v) {
        const bool holds = s.FirstHead(v) <= hd && hd < s.FirstHead(v) + s.member_heads;
        EXPECT_EQ(holds, v >= first && v < first + count) << "U=" << u << " heads=" << heads << " head " << hd;
      }
    }
  }
}

}  // namespace
}  // namespace ringlab::gpu
