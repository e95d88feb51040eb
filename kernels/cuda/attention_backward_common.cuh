// The device-side argument block of the backward kernels and its construction from BackwardParams. Only included by
// .cu files.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda::detail {

struct BwdArgs {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  const uint16_t* dout;
  const float* lse;
  const float* delta;
  float* dq;
  float* dk;
  float* dv;
  TensorStrides qs, ks, vs, dos, ls, des, dqs, dks, dvs;
  int kv_heads, group;
  int64_t q_tokens, kv_tokens, offset;
  float scale, scale_log2;
  bool causal, accumulate_dkv;
};

inline BwdArgs MakeBwdArgs(const BackwardParams& p) {
  const BlockShape& s = p.shape;
  BwdArgs a;
  a.q = static_cast<const uint16_t*>(p.q);
  a.k = static_cast<const uint16_t*>(p.k);
  a.v = static_cast<const uint16_t*>(p.v);
  a.dout = static_cast<const uint16_t*>(p.dout);
  a.lse = p.lse;
  a.delta = p.delta;
  a.dq = p.dq;
  a.dk = p.dk;
  a.dv = p.dv;
  a.qs = p.q_strides;
  a.ks = p.k_strides;
  a.vs = p.v_strides;
  a.dos = p.dout_strides;
  a.ls = p.lse_strides;
  a.des = p.delta_strides;
  a.dqs = p.dq_strides;
  a.dks = p.dk_strides;
  a.dvs = p.dv_strides;
  a.kv_heads = s.kv_heads;
  a.group = s.heads / s.kv_heads;
  a.q_tokens = s.q_tokens;
  a.kv_tokens = s.kv_tokens;
  a.offset = s.diagonal_offset;
  a.scale = s.scale > 0.f ? s.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
  a.scale_log2 = a.scale * kLog2e;
  a.causal = s.causal;
  a.accumulate_dkv = p.accumulate_dkv;
  return a;
}

// The query tiles a backward CTA with keys [n0, n0 + BN) of kv head hk walks: every query head of the GQA group,
// and in each every BM-row tile that can see those keys (causal: from the first row whose diagonal reaches n0).
// Iteration `it` is tile Row0(it) of head Head(it).
template <int BM>
struct QueryTileWalk {
  int64_t first_tile = 0, per_head = 0, total = 0;
  int head0 = 0;
  __device__ QueryTileWalk(const BwdArgs& a, int hk, int64_t n0) {
    int64_t m_begin = 0;
    if (a.causal) m_begin = max(int64_t{0}, n0 - a.offset);
    first_tile = m_begin / BM;
    const int64_t m_tiles = (a.q_tokens + BM - 1) / BM;
    per_head = m_begin < a.q_tokens ? m_tiles - first_tile : 0;
    total = per_head * a.group;
    head0 = hk * a.group;
  }
  __device__ int Head(int64_t it) const { return head0 + static_cast<int>(it / per_head); }
  __device__ int64_t Row0(int64_t it) const { return (first_tile + it % per_head) * BM; }
};

// Copies lse and delta of query rows [m0, m0 + BM) of head h into shared memory laid out lse[2][BM], delta[2][BM]
// (float), at `stage`; rows past the end are zero-filled. Threads 0 .. 2 BM - 1 copy one value each.
template <int BM>
__device__ __forceinline__ void LoadRowStatsAsync(const BwdArgs& a, int b, int h, int64_t m0, uint32_t s_stats,
                                                  int stage, int tid) {
  if (tid >= 2 * BM) return;
  const int c = tid % BM;
  const bool ok = m0 + c < a.q_tokens;
  const float* src = tid < BM ? a.lse + b * a.ls.batch + h * a.ls.head + m0 + c
                              : a.delta + b * a.des.batch + h * a.des.head + m0 + c;
  const uint32_t dst = s_stats + ((tid < BM ? 0 : 2) + stage) * BM * 4 + c * 4;
  CpAsync4(dst, ok ? src : a.lse, ok ? 4 : 0);
}

// Writes (or, with accumulate_dkv, adds) one lane's pair of dK and dV columns [col, col + 1] of key row n: dk_pair
// and dv_pair are the accumulators (dK not yet scaled). dK/dV rows belong to one CTA: no atomics.
__device__ __forceinline__ void StoreDkDvPair(const BwdArgs& a, float* dk_head, float* dv_head, int64_t n, int col,
                                              int head_dim, float dk0, float dk1, float dv0, float dv1) {
  float2* pk = reinterpret_cast<float2*>(dk_head + n * head_dim + col);
  float2* pv = reinterpret_cast<float2*>(dv_head + n * head_dim + col);
  float2 nk = make_float2(dk0 * a.scale, dk1 * a.scale);
  float2 nv = make_float2(dv0, dv1);
  if (a.accumulate_dkv) {
    const float2 ok = *pk, ov = *pv;
    nk.x += ok.x;
    nk.y += ok.y;
    nv.x += ov.x;
    nv.y += ov.y;
  }
  *pk = nk;
  *pv = nv;
}

}  // namespace ringlab::cuda::detail
