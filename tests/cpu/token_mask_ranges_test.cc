// kernels/cuda/token_mask_ranges.h on the host: the intervals the GPU kernels take from a TokenMask per row, per key
// and per key block, against brute force over every (query, key) pair of random masks (documents partitioning the
// tokens, one- and two-sided windows, both, none), block offsets as in a ring (the query block after, before or on
// the key block) and key blocks past the end. No GPU: the header is plain C++ outside nvcc.
#include "kernels/cuda/token_mask_ranges.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace ringlab::cuda::detail {
namespace {

struct RandomMask {
  std::vector<int32_t> doc_start, doc_end;
  TokenMask mask;
  int64_t q_tokens = 0, kv_tokens = 0;
};

RandomMask Draw(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  RandomMask r;
  r.q_tokens = pick(1, 300);
  r.kv_tokens = pick(1, 300);
  r.mask.enabled = true;
  r.mask.q_global = pick(0, 400);
  r.mask.kv_global = pick(0, 400);
  const int64_t tokens = std::max(r.mask.q_global + r.q_tokens, r.mask.kv_global + r.kv_tokens);
  const int kind = static_cast<int>(pick(0, 3));  // 0: documents, 1: window, 2: both, 3: neither (full)
  if (kind != 1 && kind != 3) {
    r.doc_start.resize(tokens);
    r.doc_end.resize(tokens);
    const int64_t max_len = pick(1, 120);
    for (int64_t s = 0; s < tokens;) {
      const int64_t e = std::min(tokens, s + pick(1, max_len));
      for (int64_t t = s; t < e; ++t) r.doc_start[t] = int32_t(s), r.doc_end[t] = int32_t(e);
      s = e;
    }
    r.mask.doc_start = r.doc_start.data();
    r.mask.doc_end = r.doc_end.data();
  }
  if (kind == 1 || kind == 2) {  // keys [q + lo, q + hi]: lo <= 0 <= hi, either side possibly unlimited
    if (pick(0, 3) > 0) r.mask.lo = -pick(0, 90);
    r.mask.hi = pick(0, 2) == 0 ? pick(0, 90) : 0;  // mostly causal
  } else if (pick(0, 1) == 0) {
    r.mask.hi = 0;  // causal
  }
  return r;
}

bool Sees(const RandomMask& r, int64_t row, int64_t key) {
  int64_t b, e;
  MaskRowKeys(r.mask, row, &b, &e);
  return b <= key && key < e;
}

TEST(TokenMaskRanges, RowAndKeyIntervalsAreTheMaskItself) {
  std::mt19937_64 rng(20261207);
  for (int t = 0; t < 300; ++t) {
    const RandomMask r = Draw(rng);
    for (int64_t key = 0; key < r.kv_tokens; ++key) {
      int64_t b, e;
      MaskKeyQueries(r.mask, key, &b, &e);
      for (int64_t row = 0; row < r.q_tokens; ++row)
        ASSERT_EQ(Sees(r, row, key), b <= row && row < e) << "case " << t << " row " << row << " key " << key;
    }
  }
}

TEST(TokenMaskRanges, KeyBlockQueriesAreExactlyTheRowsThatSeeIt) {
  std::mt19937_64 rng(7);
  int nonempty = 0;
  for (int t = 0; t < 400; ++t) {
    const RandomMask r = Draw(rng);
    for (int64_t n_keys : {1, 16, 64, 128}) {
      for (int64_t n0 = 0; n0 < r.kv_tokens + n_keys; n0 += n_keys) {  // the last block may lie past the end
        int64_t begin, end;
        MaskKeyBlockQueries(r.mask, r.q_tokens, r.kv_tokens, n0, n_keys, &begin, &end);
        ASSERT_LE(0, begin);
        ASSERT_LE(begin, end);
        ASSERT_LE(end, r.q_tokens);
        for (int64_t row = 0; row < r.q_tokens; ++row) {
          bool any = false;
          for (int64_t key = n0; key < std::min(n0 + n_keys, r.kv_tokens) && !any; ++key) any = Sees(r, row, key);
          ASSERT_EQ(any, begin <= row && row < end)
              << "case " << t << " keys [" << n0 << ", +" << n_keys << ") row " << row << " range [" << begin
              << ", " << end << ")";
        }
        nonempty += end > begin;
      }
    }
  }
  EXPECT_GT(nonempty, 1000);  // the draws reach blocks that some rows see, not only empty ones
}

}  // namespace
}  // namespace ringlab::cuda::detail
