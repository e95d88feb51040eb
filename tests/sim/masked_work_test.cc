// sim/masked_work.h: the tiles a masked block's CTAs touch, against a brute-force count (every tile of the block
// classified) over random windows, documents and block offsets, for the forward (query-tile CTAs) and backward
// (key-tile CTAs, scaled by the GQA group) grids; and that the cost form charges a short-document block by its
// touched tiles (more than its visible pairs' share of the block).
#include "sim/masked_work.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

namespace ringlab::sim {
namespace {

std::vector<std::pair<double, double>> BruteForce(const WaveModel& w, const Mask& mask, const AttendBlock& b,
                                                  double group) {
  const int64_t q = b.QTokens(), kv = b.KvTokens();
  const int64_t tq = (q + w.tile_q - 1) / w.tile_q, tkv = (kv + w.tile_kv - 1) / w.tile_kv;
  auto kind = [&](int64_t i, int64_t j) {
    return mask.Classify(b.q_global + i * w.tile_q, b.q_global + std::min(q, (i + 1) * w.tile_q),
                         b.kv_global + j * w.tile_kv, b.kv_global + std::min(kv, (j + 1) * w.tile_kv))
        .kind;
  };
  std::vector<std::pair<double, double>> work;
  if (!w.grid_kv) {
    for (int64_t i = tq - 1; i >= 0; --i) {
      double n = 0, p = 0;
      for (int64_t j = 0; j < tkv; ++j) {
        const BlockKind k = kind(i, j);
        n += k != BlockKind::kEmpty;
        p += k == BlockKind::kPartial;
      }
      work.emplace_back(n, p);
    }
    if (w.light_first) std::reverse(work.begin(), work.end());
    return work;
  }
  for (int64_t j = 0; j < tkv; ++j) {
    double n = 0, p = 0;
    for (int64_t i = 0; i < tq; ++i) {
      const BlockKind k = kind(i, j);
      n += k != BlockKind::kEmpty;
      p += k == BlockKind::kPartial;
    }
    work.emplace_back(n * group, p * group);
  }
  return work;
}

TEST(MaskedWork, MatchesEveryTileClassifiedOnRandomMasks) {
  std::mt19937_64 g(7);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); };
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t seq = uniform(64, 3000);
    MaskShape shape;
    if (uniform(0, 2) > 0) shape.window_left = uniform(-1, 600);
    if (uniform(0, 3) == 0) shape.window_right = uniform(-1, 300);
    if (uniform(0, 1)) {
      std::vector<int64_t> cu{0};
      while (cu.back() < seq) cu.push_back(std::min(seq, cu.back() + uniform(1, 700)));
      shape.documents = std::make_shared<const std::vector<int64_t>>(cu);
    }
    const Mask mask(uniform(0, 3) > 0, shape);
    AttendBlock b;
    b.masked = true;
    b.q_global = uniform(0, seq - 1);
    b.kv_global = uniform(0, seq - 1);
    b.q_end = uniform(1, seq - b.q_global);
    b.kv_end = uniform(1, seq - b.kv_global);
    WaveModel w;
    w.grid_kv = uniform(0, 1);
    w.tile_q = int(uniform(0, 1) ? 64 : 128);
    w.tile_kv = int(uniform(0, 1) ? 64 : 128);
    w.light_first = uniform(0, 1);
    const double group = double(uniform(1, 4));
    EXPECT_EQ(MaskedWork(w, mask, b, group), BruteForce(w, mask, b, group))
        << "trial " << trial << " seq " << seq << " window " << shape.window_left << "," << shape.window_right
        << " q " << b.q_global << "+" << b.q_end << " kv " << b.kv_global << "+" << b.kv_end;
  }
}

TEST(MaskedWork, ShortDocumentsCostTheirTouchedTiles) {
  // 4096 tokens of 100-token documents, causal: each 128-row query tile touches 1-3 key tiles, most of them partly,
  // while its visible pairs fill a small share of them; the listed cost charges whole tiles.
  std::vector<int64_t> cu;
  for (int64_t t = 0; t < 4096; t += 100) cu.push_back(t);
  cu.push_back(4096);
  MaskShape shape;
  shape.documents = std::make_shared<const std::vector<int64_t>>(cu);
  const Mask mask(true, shape);
  AttendBlock b;
  b.masked = true;
  b.q_end = b.kv_end = 4096;
  WaveModel w;
  w.tile_q = 128;
  w.tile_kv = 128;
  w.sms = 132;
  w.cost.enabled = true;
  w.cost.cta_us = 1;
  w.cost.tile_us = 2;
  w.cost.masked_tile_us = 0.5;
  const std::vector<std::pair<double, double>> work = MaskedWork(w, mask, b, 1);
  ASSERT_EQ(work.size(), 32u);
  double tiles = 0;
  for (auto [n, p] : work) {
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 3);
    EXPECT_LE(p, n);
    tiles += n;
  }
  const double visible = mask.Classify(0, 4096, 0, 4096).EffectivePairs(true);
  EXPECT_GT(tiles * 128 * 128, 2 * visible);  // the touched tiles hold more than twice the visible pairs
  // One head of 32 CTAs on 132 slots: the kernel is its heaviest CTA.
  double heaviest = 0;
  for (auto [n, p] : work) heaviest = std::max(heaviest, 1 + 2 * n + 0.5 * p);
  EXPECT_DOUBLE_EQ(w.ListedKernelUs(work, 4096, 4096, 1, 1, 1), heaviest);
}

}  // namespace
}  // namespace ringlab::sim
