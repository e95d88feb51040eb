#include "sim/masked_work.h"

#include <algorithm>

namespace ringlab::sim {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Of the tiles of `tile` tokens over a block range starting at global token `base`, `n` tokens long (the last one may
// be short): how many meet the global range [lo, hi], and how many lie inside [full_lo, full_hi] whole.
std::pair<double, double> TouchedAndWhole(int64_t base, int64_t n, int64_t tile, int64_t lo, int64_t hi,
                                          int64_t full_lo, int64_t full_hi) {
  const int64_t tiles = CeilDiv(n, tile);
  lo = std::max(lo, base);
  hi = std::min(hi, base + n - 1);
  if (lo > hi) return {0, 0};
  const double touched = double((hi - base) / tile - (lo - base) / tile + 1);
  full_lo = std::max(full_lo, base);
  full_hi = std::min(full_hi, base + n - 1);
  if (full_lo > full_hi) return {touched, 0};
  const int64_t first = CeilDiv(full_lo - base, tile);  // the first tile starting at or after full_lo
  const int64_t m = full_hi - base + 1;                 // tile t ends by full_hi iff min(n, (t+1)·tile) <= m
  const int64_t end = m == n ? tiles : m / tile;        // one past the last such tile
  return {touched, double(std::max<int64_t>(0, end - first))};
}

}  // namespace

// Why no tile is classified one by one: for rows [r0, r1) the keys some row sees form one range [lo(r0), hi(r1 − 1)]
// (lo and hi grow with the row, and a document's last row sees up to its end, the next one's first row from its
// start), so the touched tiles are those meeting it; a tile is whole when every row sees every key of it, i.e. the rows
// share a document and the tile lies in [lo(r1 − 1), hi(r0)]. The same holds for keys and the queries that see them.
std::vector<std::pair<double, double>> MaskedWork(const WaveModel& w, const Mask& mask, const AttendBlock& b,
                                                  double group) {
  const int64_t q = b.QTokens(), kv = b.KvTokens();
  const int64_t tq = CeilDiv(q, w.tile_q), tkv = CeilDiv(kv, w.tile_kv);
  const int64_t lo_off = mask.LowestOffset(), hi_off = mask.HighestOffset();
  auto doc_start = [&](int64_t t) { return mask.DocumentStart(mask.DocumentOf(t)); };
  auto doc_last = [&](int64_t t) { return mask.DocumentEnd(mask.DocumentOf(t)) - 1; };
  std::vector<std::pair<double, double>> work;
  if ((w.grid_kv ? tkv : tq) > kMaxMaskedWorkCtas) return work;
  if (!w.grid_kv) {  // a CTA per query tile: the keys its rows see
    work.reserve(tq);
    for (int64_t i = tq - 1; i >= 0; --i) {
      const int64_t r0 = b.q_global + i * w.tile_q, r1 = b.q_global + std::min(q, (i + 1) * w.tile_q);
      const int64_t lo = std::max(doc_start(r0), r0 + lo_off), hi = std::min(doc_last(r1 - 1), r1 - 1 + hi_off);
      const bool one_doc = mask.DocumentOf(r0) == mask.DocumentOf(r1 - 1);
      const int64_t full_lo = std::max(doc_start(r1 - 1), r1 - 1 + lo_off);
      const int64_t full_hi = one_doc ? std::min(doc_last(r0), r0 + hi_off) : full_lo - 1;
      const auto [touched, whole] = TouchedAndWhole(b.kv_global, kv, w.tile_kv, lo, hi, full_lo, full_hi);
      work.emplace_back(touched, touched - whole);
    }
    if (w.light_first) std::reverse(work.begin(), work.end());
    return work;
  }
  work.reserve(tkv);
  for (int64_t j = 0; j < tkv; ++j) {  // a CTA per key tile: the queries that see its keys
    const int64_t k0 = b.kv_global + j * w.tile_kv, k1 = b.kv_global + std::min(kv, (j + 1) * w.tile_kv);
    const int64_t lo = std::max(doc_start(k0), k0 - hi_off), hi = std::min(doc_last(k1 - 1), k1 - 1 - lo_off);
    const bool one_doc = mask.DocumentOf(k0) == mask.DocumentOf(k1 - 1);
    const int64_t full_lo = std::max(doc_start(k1 - 1), k1 - 1 - hi_off);
    const int64_t full_hi = one_doc ? std::min(doc_last(k0), k0 - lo_off) : full_lo - 1;
    const auto [touched, whole] = TouchedAndWhole(b.q_global, q, w.tile_q, lo, hi, full_lo, full_hi);
    work.emplace_back(touched * group, (touched - whole) * group);
  }
  return work;
}

}  // namespace ringlab::sim
