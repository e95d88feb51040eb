// What the two forward kernels (mma.sync in attention_forward_mma.cu, wgmma in attention_forward_wgmma.cu) share: the
// device-side argument block, its construction from ForwardParams, the epilogue that normalizes one row of O and
// overwrites or log-sum-exp-merges it into the float32 accumulators, and the launcher's checks and dispatch. Only
// included by .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <string>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/launch_common.h"

namespace ringlab::cuda::detail {

struct FwdArgs {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  float* out;
  float* lse;
  TensorStrides qs, ks, vs, os, ls;
  int heads, group;  // group = heads / kv_heads
  int64_t q_tokens, kv_tokens, offset;
  float scale_log2;
  bool causal, merge;
  TokenMask tm;  // kernels instantiated with kMasked read it (attention_kernels.h)
};

inline FwdArgs MakeFwdArgs(const ForwardParams& p) {
  const BlockShape& s = p.shape;
  FwdArgs a;
  a.q = static_cast<const uint16_t*>(p.q);
  a.k = static_cast<const uint16_t*>(p.k);
  a.v = static_cast<const uint16_t*>(p.v);
  a.out = p.out_acc;
  a.lse = p.lse_acc;
  a.qs = p.q_strides;
  a.ks = p.k_strides;
  a.vs = p.v_strides;
  a.os = p.out_strides;
  a.ls = p.lse_strides;
  a.heads = s.heads;
  a.group = s.heads / s.kv_heads;
  a.q_tokens = s.q_tokens;
  a.kv_tokens = s.kv_tokens;
  a.offset = s.diagonal_offset;
  const float scale = s.scale > 0.f ? s.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
  a.scale_log2 = scale * kLog2e;
  a.causal = s.causal;
  a.merge = p.mode == AccumulateMode::kMerge;
  a.tm = s.mask;
  return a;
}

// O's rows times the softmax's rescale factors, in the mma C-fragment layout (alpha[0] for the lane's first row,
// alpha[1] for the row 8 further down); skipped when no row of the warp moved its max (warp-uniform branch).
template <int D>
__device__ __forceinline__ void RescaleRows(float (&o)[D / 8][4], const float (&alpha)[2]) {
  if (!__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) return;
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    o[i][0] *= alpha[0];
    o[i][1] *= alpha[0];
    o[i][2] *= alpha[1];
    o[i][3] *= alpha[1];
  }
}

// The probabilities of an S tile (C-fragment layout, BN columns) packed into A fragments of P V: k16 step kk of P
// is p[kk].
template <typename T, int BN>
__device__ __forceinline__ void PackProbabilities(const float (&s)[BN / 8][4], uint32_t (&p)[BN / 16][4]) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    p[kk][0] = PackPair<T>(s[2 * kk][0], s[2 * kk][1]);
    p[kk][1] = PackPair<T>(s[2 * kk][2], s[2 * kk][3]);
    p[kk][2] = PackPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    p[kk][3] = PackPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
  }
}

// The keys [*n_start, *n_end) a CTA of query rows [m0, row_last] visits: all of them, up to the causal diagonal, or
// (kMasked) the union of the rows' TokenMask intervals; key tiles outside are skipped.
template <bool kMasked>
__device__ __forceinline__ void ForwardKeyRange(const FwdArgs& a, int64_t m0, int64_t row_last, int64_t* n_start,
                                                int64_t* n_end) {
  *n_start = 0;
  *n_end = a.kv_tokens;
  if constexpr (kMasked) {
    MaskTileKeys(a.tm, m0, row_last, a.kv_tokens, n_start, n_end);
  } else if (a.causal) {
    *n_end = min(*n_end, row_last + a.offset + 1);
  }
}

// Writes one query row held by a quad of lanes in the mma C-fragment layout: o[i][2 * r + 0..1] are this lane's two
// columns (8 i + 2 tq + 0..1) of the row. m_run is the row's running max (base 2, scaled), l_part this lane's share
// of the row sum (summed over the quad here). Every lane of the quad must call it (it shuffles).
template <int D>
__device__ __forceinline__ void WriteForwardRow(const FwdArgs& a, float* out, float* lse, int64_t row,
                                                const float (&o)[D / 8][4], int r, float m_run, float l_part,
                                                int tq) {
  const float l = QuadSum(l_part);
  const bool valid = row < a.q_tokens;
  const bool empty = !(l > 0.f);
  const float inv = empty ? 0.f : 1.f / l;
  const float my_lse = empty ? -INFINITY : (m_run + log2f(l)) * kLn2;
  float* orow = out + row * D;
  if (!a.merge) {
    if (valid) {
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        *reinterpret_cast<float2*>(orow + i * 8 + 2 * tq) = make_float2(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
      }
      if (tq == 0) lse[row] = my_lse;
    }
    return;
  }
  const float old_lse = valid ? lse[row] : -INFINITY;
  __syncwarp();  // every lane of the quad has read lse[row] before lane tq == 0 rewrites it
  if (valid && !empty) {
    const float mx = fmaxf(old_lse, my_lse);
    const float w_old = expf(old_lse - mx), w_new = expf(my_lse - mx);
    const float total = w_old + w_new;
    const float c_old = w_old / total, c_new = w_new / total * inv;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      float2* p = reinterpret_cast<float2*>(orow + i * 8 + 2 * tq);
      float2 prev = make_float2(0.f, 0.f);
      if (c_old != 0.f) prev = *p;  // an empty accumulator (lse = -inf) may hold anything
      *p = make_float2(prev.x * c_old + o[i][2 * r] * c_new, prev.y * c_old + o[i][2 * r + 1] * c_new);
    }
    if (tq == 0) lse[row] = mx + logf(total);
  }
}

// The forward launchers' common path: check the parameters, nothing to launch for an empty query block, refuse a
// kernel built for compute capability 9.0 alone elsewhere (sm90_only: the launcher's name, else null), then launch
// kernel_for(T{}, integral_constant<D>{}) over the query tiles of Tiles::kBlockM.
template <typename Tiles, typename KernelFor>
Status LaunchForwardKernel(const ForwardParams& p, void* stream, const char* sm90_only, KernelFor kernel_for) {
  RINGLAB_RETURN_IF_ERROR(CheckForwardParams(p));
  const BlockShape& s = p.shape;
  if (s.q_tokens == 0) return Status::Ok();
  if (sm90_only != nullptr && !DeviceIsSm90())
    return Status::Unavailable(std::string(sm90_only) +
                               ": needs a compute capability 9.0 GPU (H100/H200); use LaunchForward");
  return DispatchElementAndHeadDim(s.element, s.head_dim, [&](auto t, auto d) {
    return LaunchTiled<Tiles, decltype(t), decltype(d)::value>(kernel_for(t, d),
                                                               TileGrid(s.q_tokens, Tiles::kBlockM, s.batch * s.heads),
                                                               static_cast<cudaStream_t>(stream), MakeFwdArgs(p));
  });
}

}  // namespace ringlab::cuda::detail
