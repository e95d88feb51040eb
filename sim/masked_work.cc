#include "sim/masked_work.h"

#include <algorithm>

namespace ringlab::sim {
namespace {

// Tiles of `tile` tokens over [0, n) (block-local) that intersect the global range [lo, hi] (a block starting at global
// token `base`), classified against the rows [r0, r1) (global) by `classify(t0, t1)`: (touched, partly visible).
template <typename Classify>
std::pair<double, double> CountTiles(int64_t n, int64_t tile, int64_t base, int64_t lo, int64_t hi,
                                     Classify classify) {
  const int64_t tiles = (n + tile - 1) / tile;
  const int64_t first = std::clamp<int64_t>((lo - base) / tile, 0, tiles);  // lo - base may be negative: clamped
  const int64_t last = std::clamp<int64_t>((hi - base) / tile + 1, 0, tiles);
  double touched = 0, partial = 0;
  for (int64_t t = first; t < last; ++t) {
    const BlockKind kind = classify(base + t * tile, base + std::min(n, (t + 1) * tile));
    if (kind == BlockKind::kEmpty) continue;
    touched += 1;
    if (kind == BlockKind::kPartial) partial += 1;
  }
  return {touched, partial};
}

}  // namespace

std::vector<std::pair<double, double>> MaskedWork(const WaveModel& w, const Mask& mask, const AttendBlock& b,
                                                  double group) {
  const int64_t q = b.QTokens(), kv = b.KvTokens();
  const int64_t tq = (q + w.tile_q - 1) / w.tile_q, tkv = (kv + w.tile_kv - 1) / w.tile_kv;
  const int64_t lo_off = mask.LowestOffset(), hi_off = mask.HighestOffset();
  std::vector<std::pair<double, double>> work;
  if (!w.grid_kv) {  // a CTA per query tile: the keys its rows may see, from its first row's to its last row's
    work.reserve(tq);
    for (int64_t i = tq - 1; i >= 0; --i) {
      const int64_t r0 = b.q_global + i * w.tile_q, r1 = b.q_global + std::min(q, (i + 1) * w.tile_q);
      const int64_t lo = std::max(mask.DocumentStart(mask.DocumentOf(r0)), r0 + lo_off);
      const int64_t hi = std::min(mask.DocumentEnd(mask.DocumentOf(r1 - 1)) - 1, r1 - 1 + hi_off);
      work.push_back(CountTiles(kv, w.tile_kv, b.kv_global, lo, hi, [&](int64_t k0, int64_t k1) {
        return mask.Classify(r0, r1, k0, k1).kind;
      }));
    }
    if (w.light_first) std::reverse(work.begin(), work.end());
    return work;
  }
  work.reserve(tkv);
  for (int64_t j = 0; j < tkv; ++j) {  // a CTA per key tile: the queries that may see its keys
    const int64_t k0 = b.kv_global + j * w.tile_kv, k1 = b.kv_global + std::min(kv, (j + 1) * w.tile_kv);
    const int64_t lo = std::max(mask.DocumentStart(mask.DocumentOf(k0)), k0 - hi_off);
    const int64_t hi = std::min(mask.DocumentEnd(mask.DocumentOf(k1 - 1)) - 1, k1 - 1 - lo_off);
    auto [touched, partial] = CountTiles(q, w.tile_q, b.q_global, lo, hi, [&](int64_t q0, int64_t q1) {
      return mask.Classify(q0, q1, k0, k1).kind;
    });
    work.emplace_back(touched * group, partial * group);
  }
  return work;
}

}  // namespace ringlab::sim
