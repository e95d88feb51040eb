// The CPU executor under window and document masks equals the float64 reference with the same mask over the whole
// sequence: relative error <= 1e-12 for out, lse, dQ, dK, dV, for every mask × method × sharding (and Ulysses), with
// documents shorter than a block, documents spanning ranks and windows larger than a shard.
#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/mask_spec.h"
#include "kernels/cpu/block_attention.h"
#include "kernels/cpu/reference_check.h"

namespace ringlab::cpu {
namespace {

ScheduleConfig Config(const std::string& mask, int world, ShardingKind sharding, Method method, int64_t seq,
                      int ulysses = 1) {
  ScheduleConfig cfg{.problem = Problem{.batch = 2, .heads = 4, .kv_heads = 2, .seq = seq, .head_dim = 24},
                     .world = world, .sharding = sharding, .method = method, .ulysses = ulysses};
  ParsedMask parsed;
  const Status st = ParseMaskSpec(mask, seq, &parsed);
  EXPECT_TRUE(st.ok()) << st.message();
  if (parsed.causal) cfg.problem.causal = *parsed.causal;
  cfg.problem.mask = parsed.shape;
  return cfg;
}

void ExpectMatchesReference(const ScheduleConfig& cfg, Precision precision, uint64_t seed) {
  CheckReport report;
  const Status st = CheckAgainstReference(cfg, /*backward=*/true, precision, seed, &report);
  ASSERT_TRUE(st.ok()) << Describe(cfg) << ": " << st.message();
  ASSERT_EQ(report.errors.size(), 5u);
  for (const TensorError& e : report.errors)
    EXPECT_LE(e.relative, DefaultTolerance(precision)) << Describe(cfg) << " " << e.name << " rel " << e.relative;
}

// Shards of 16 tokens at W = 4 (head-tail chunks of 8): fixed-3 documents are shorter than a chunk, fixed-40 ones
// span three ranks, window 40 is larger than a shard, lognormal:4 mixes lengths; full+window is two-sided.
const std::vector<std::string> kMasks{"causal+docs-synthetic:fixed-3",  "causal+docs-synthetic:fixed-40",
                                      "causal+window:40,0",             "causal+window:5,0",
                                      "full+window:6,11",               "full+docs-synthetic:fixed-20",
                                      "causal+docs-synthetic:lognormal:4+window:9,0",
                                      "full+docs-synthetic:fixed-12+window:3,2"};

TEST(MaskedCpuExecutor, EveryMaskMethodAndShardingMatchesTheReference) {
  uint64_t seed = 1000;
  for (const std::string& mask : kMasks)
    for (ShardingKind sh : kShardingKinds)
      for (Method m : {Method::kAllGather, Method::kAllToAll}) {
        ScheduleConfig cfg = Config(mask, 4, sh, m, 64);
        if (sh == ShardingKind::kHeadTail && !cfg.problem.causal) continue;
        ExpectMatchesReference(cfg, Precision::kFloat64, ++seed);
      }
}

TEST(MaskedCpuExecutor, OddWorldsFloat32AndPeerVariants) {
  for (const std::string& mask : {kMasks[0], kMasks[2], kMasks[6]}) {
    ScheduleConfig cfg = Config(mask, 3, ShardingKind::kHeadTail, Method::kAllToAll, 3 * 2 * 7);
    ExpectMatchesReference(cfg, Precision::kFloat64, 7);
    ExpectMatchesReference(cfg, Precision::kFloat32, 8);
    cfg.variants = PeerVariants();
    ExpectMatchesReference(cfg, Precision::kFloat64, 9);
    cfg.world = 1;
    cfg.variants = {};
    ExpectMatchesReference(cfg, Precision::kFloat64, 10);
  }
}

TEST(MaskedCpuExecutor, UlyssesAndHybridMatchTheReference) {
  for (const std::string& mask : kMasks)
    for (int ulysses : {2, 4}) {
      ScheduleConfig cfg = Config(mask, 4, ShardingKind::kContiguous, Method::kAllToAll, 64, ulysses);
      ExpectMatchesReference(cfg, Precision::kFloat64, 77);
    }
}

// Seeded random configurations beyond the fixed grids above: any world (1-16), Ulysses degree, GQA group, batch, odd
// head dims, sequence lengths, windows (one- and two-sided) and synthetic documents, every method and sharding. A
// configuration ValidateConfig refuses is drawn again; each accepted one must match the float64 reference.
TEST(MaskedCpuExecutor, RandomConfigurationsMatchTheReference) {
  std::mt19937_64 rng(20261207);
  auto pick = [&](auto... v) {
    const std::vector<int64_t> options{v...};
    return options[rng() % options.size()];
  };
  int checked = 0;
  for (int attempt = 0; attempt < 400 && checked < 48; ++attempt) {
    const int world = int(pick(1, 2, 3, 4, 5, 6, 8, 12, 16));
    const int kv_heads = int(pick(1, 2, 3, 4)), group = int(pick(1, 2, 3));
    const bool causal = pick(0, 1, 1);
    std::string mask = causal ? "causal" : "full";
    if (pick(0, 1)) {
      mask += "+window:" + std::to_string(pick(-1, 0, 1, 5, 17, 63, 300)) + "," +
              std::to_string(causal ? 0 : pick(-1, 0, 3, 40));
    }
    if (pick(0, 1)) {
      const std::string kind = pick(0, 1) ? "fixed-" + std::to_string(pick(1, 7, 32, 100)) : "lognormal";
      mask += "+docs-synthetic:" + kind + ":" + std::to_string(rng() % 100);
    }
    const ShardingKind sharding = kShardingKinds[rng() % std::size(kShardingKinds)];
    const Method method = pick(0, 1) ? Method::kAllGather : Method::kAllToAll;
    // A Ulysses degree in a third of the draws: one that divides the world and the heads (the head all-to-all's rule).
    int ulysses = 1;
    std::vector<int> degrees;
    for (int u = 2; u <= world; ++u)
      if (world % u == 0 && (kv_heads * group) % u == 0 && (kv_heads % u == 0 || u % kv_heads == 0))
        degrees.push_back(u);
    if (!degrees.empty() && pick(0, 0, 1)) ulysses = degrees[rng() % degrees.size()];
    const int64_t seq = 4 * world * ulysses * pick(1, 2, 3, 5, 8);
    ScheduleConfig cfg = Config(mask, world, sharding, method, seq, ulysses);
    cfg.problem.batch = int(pick(1, 2));
    cfg.problem.kv_heads = kv_heads;
    cfg.problem.heads = kv_heads * group;
    cfg.problem.head_dim = int(pick(1, 3, 8, 16, 33));
    if (!ValidateConfig(cfg).ok()) continue;
    ExpectMatchesReference(cfg, Precision::kFloat64, rng());
    if (HasFailure()) return;
    ++checked;
  }
  EXPECT_GE(checked, 40) << "too few of the random configurations were valid to mean much";
}

TEST(MaskedReference, GeneralMaskEqualsTheCausalSpecWhereTheyAgree) {
  // A window wider than the sequence is the causal mask: the general path must give the same scores.
  const AttentionShape s{.batch = 1, .heads = 1, .kv_heads = 1, .q_tokens = 6, .kv_tokens = 6, .head_dim = 4};
  std::vector<double> q(24), k(24);
  for (int i = 0; i < 24; ++i) q[i] = 0.1 * i - 1, k[i] = 0.05 * (i % 7);
  const Mask wide(true, MaskShape{.window_left = 100, .window_right = 100});
  const RowMatrix<double> a = MaskedScores<double>(s, MaskSpec{.causal = true}, q.data(), k.data());
  const RowMatrix<double> b = MaskedScores<double>(s, MaskSpec{.general = &wide}, q.data(), k.data());
  EXPECT_TRUE(a == b);
  // Shifted global positions: query 0 at token 10 against keys from token 8 under window 1: keys 9 and 10 only.
  const Mask narrow(true, MaskShape{.window_left = 1, .window_right = 0});
  const RowMatrix<double> c =
      MaskedScores<double>(s, MaskSpec{.general = &narrow, .q_global = 10, .kv_global = 8}, q.data(), k.data());
  for (int j = 0; j < 6; ++j) EXPECT_EQ(std::isinf(c(0, j)), j != 1 && j != 2) << j;
}

}  // namespace
}  // namespace ringlab::cpu
