// The intervals a TokenMask (attention_kernels.h) allows, as host and device code: the keys a query row sees, the
// queries that see a key, and the query rows that see any key of a key block. The kernels call them per row, per key
// and per CTA; tests/cpu/token_mask_ranges_test.cc checks them on the host against brute force.
#pragma once

#include <cstdint>

#include "kernels/cuda/attention_kernels.h"

// Host and device, inlined (a name of its own: ulysses_pack.h defines RINGLAB_HOST_DEVICE without the inlining).
#if defined(__CUDACC__)
#define RINGLAB_MASK_FN __host__ __device__ __forceinline__
#else
#define RINGLAB_MASK_FN inline
#endif

namespace ringlab::cuda::detail {

RINGLAB_MASK_FN int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }
RINGLAB_MASK_FN int64_t Max64(int64_t a, int64_t b) { return a > b ? a : b; }

// The keys [*begin, *end) (block-local) that query row `row` (block-local) sees under a TokenMask.
RINGLAB_MASK_FN void MaskRowKeys(const TokenMask& m, int64_t row, int64_t* begin, int64_t* end) {
  const int64_t q = m.q_global + row;
  int64_t b = q + m.lo, e = q + m.hi + 1;
  if (m.doc_start != nullptr) {
    b = Max64(b, static_cast<int64_t>(m.doc_start[q]));
    e = Min64(e, static_cast<int64_t>(m.doc_end[q]));
  }
  *begin = b - m.kv_global;
  *end = e - m.kv_global;
}

// The queries [*begin, *end) (block-local) that see key `key` (block-local, inside the block) under a TokenMask: the
// window read backwards, and the key's own document (documents partition the global tokens, so a query shares the
// key's document iff it lies in [doc_start[k], doc_end[k])).
RINGLAB_MASK_FN void MaskKeyQueries(const TokenMask& m, int64_t key, int64_t* begin, int64_t* end) {
  const int64_t k = m.kv_global + key;
  int64_t b = k - m.hi, e = k - m.lo + 1;
  if (m.doc_start != nullptr) {
    b = Max64(b, static_cast<int64_t>(m.doc_start[k]));
    e = Min64(e, static_cast<int64_t>(m.doc_end[k]));
  }
  *begin = b - m.q_global;
  *end = e - m.q_global;
}

// The query rows [*begin, *end) of [0, q_tokens) that see at least one key of [n0, n0 + n_keys) (block-local keys,
// clipped to kv_tokens; an empty range where no key exists). Both ends of a key's query interval (MaskKeyQueries) are
// non-decreasing in the key, and with every token seeing itself (lo <= 0 <= hi, which the mask grammar guarantees)
// key k's interval ends no earlier than key k + 1's begins (at a document boundary both are k + 1), so their union is
// one interval, from the first key's begin to the last key's end: two lookups per CTA where a bisection over the rows
// took ~2 log2(q_tokens) dependent ones.
RINGLAB_MASK_FN void MaskKeyBlockQueries(const TokenMask& m, int64_t q_tokens, int64_t kv_tokens, int64_t n0,
                                             int64_t n_keys, int64_t* begin, int64_t* end) {
  const int64_t last = Min64(n0 + n_keys, kv_tokens) - 1;
  *begin = *end = 0;
  if (last < n0) return;
  int64_t b0, e0, b1, e1;
  MaskKeyQueries(m, n0, &b0, &e0);
  MaskKeyQueries(m, last, &b1, &e1);
  *begin = Min64(Max64(b0, 0), q_tokens);
  *end = Max64(Min64(e1, q_tokens), *begin);
}

}  // namespace ringlab::cuda::detail

#undef RINGLAB_MASK_FN
