// Backward attention on Hopper warpgroup MMA (wgmma.mma_async, compiled for sm_90a only): the FlashAttention-2
// algorithm (K and V resident, walk the query tiles that see them, dQ added atomically) with every product on wgmma.
//
// CTA = two warpgroups, 128 keys of one kv head in shared memory (warpgroup w owns keys 64w .. 64w + 63), walking
// every query head of its GQA group and every 64-row query tile that can see its keys; Q, dO, lse and delta
// double-buffered by cp.async into 128-byte-swizzled tiles. Per query tile, per warpgroup:
//   1. S^T = K_w Q^T and dP^T = V_w dO^T (64 keys x 64 queries, both operands K-major in shared memory);
//   2. P^T = exp(S^T scale - lse), dS^T = P^T (dP^T - delta) in registers; dS^T also to shared memory;
//   3. dV_w += P^T dO and dK_w += dS^T Q: A from registers, dO and Q as MN-major operands (no transposes);
//   4. after a barrier (dS^T of both warpgroups in shared memory), dQ += scale dS K with dS as an MN-major A:
//      at D = 128 warpgroup w takes columns 64w .. 64w + 63 over all 128 keys, at D = 64 all columns over its own
//      keys; float32 dQ is added with red.global.add.v2.f32.
// dK and dV rows belong to exactly one CTA: written (or added) at the end without atomics.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_backward_common.cuh"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"
#include "kernels/cuda/wgmma_common.cuh"
#include "kernels/cuda/wgmma_ops.cuh"

namespace ringlab::cuda {
namespace {

using namespace detail;

using Tiles = tiles::BackwardWgmma;

// acc (64 x D) += A (64 x 16 from registers) * B (16 x D, MN-major tile of kRows rows), k16 step kk.
template <typename T, int D, int kRows>
__device__ __forceinline__ void AccumulateRs(float (&acc)[D / 8][4], const uint32_t* a, uint32_t b_tile, int kk) {
  const uint64_t desc = MnMajorDescriptor<kRows>(b_tile, kk);
  if constexpr (D == 128) {
    WgmmaRS64x128<T, 1>(&acc[0][0], a, desc, 1);
  } else {
    WgmmaRS64x64<T, 1>(&acc[0][0], a, desc, 1);
  }
}

// 1. S^T = K_w Q^T and dP^T = V_w dO^T for warpgroup wg's 64 keys x 64 queries, k = D; waited for.
template <typename T, int D, int BN, int BM>
__device__ __forceinline__ void ScoresTWgmma(float (&st)[BM / 8][4], float (&dpt)[BM / 8][4], uint32_t s_k,
                                             uint32_t s_v, uint32_t s_q, uint32_t s_do, int wg) {
  PinAccumulators(st);
  PinAccumulators(dpt);
  WgmmaFence();
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    WgmmaSS64x64<T, 0, 0>(&st[0][0], KMajorDescriptor<BN>(s_k, wg * 64, ks), KMajorDescriptor<BM>(s_q, 0, ks), ks > 0);
    WgmmaSS64x64<T, 0, 0>(&dpt[0][0], KMajorDescriptor<BN>(s_v, wg * 64, ks), KMajorDescriptor<BM>(s_do, 0, ks),
                          ks > 0);
  }
  WgmmaCommit();
  WgmmaWait<0>();
  PinAccumulators(st);
  PinAccumulators(dpt);
}

// P^T and dS^T packed as A fragments (rows = keys, k step j = queries 16j ..); dS^T also to shared memory, where row
// = key and 16-byte chunk 2j holds queries 16j .. 16j + 7, chunk 2j + 1 the next eight.
template <typename T, int BN, int BM>
__device__ __forceinline__ void PackAndStoreDsT(uint32_t (&pa)[BM / 16][4], uint32_t (&sa)[BM / 16][4],
                                                const float (&st)[BM / 8][4], const float (&dpt)[BM / 8][4],
                                                uint32_t s_dst, int key_in_cta, int tq) {
#pragma unroll
  for (int j = 0; j < BM / 16; ++j) {
    pa[j][0] = PackPair<T>(st[2 * j][0], st[2 * j][1]);
    pa[j][1] = PackPair<T>(st[2 * j][2], st[2 * j][3]);
    pa[j][2] = PackPair<T>(st[2 * j + 1][0], st[2 * j + 1][1]);
    pa[j][3] = PackPair<T>(st[2 * j + 1][2], st[2 * j + 1][3]);
    sa[j][0] = PackPair<T>(dpt[2 * j][0], dpt[2 * j][1]);
    sa[j][1] = PackPair<T>(dpt[2 * j][2], dpt[2 * j][3]);
    sa[j][2] = PackPair<T>(dpt[2 * j + 1][0], dpt[2 * j + 1][1]);
    sa[j][3] = PackPair<T>(dpt[2 * j + 1][2], dpt[2 * j + 1][3]);
    const uint32_t lo = tq * 4;
    StShared32(s_dst + Sw128Chunk<BN>(key_in_cta, 2 * j) + lo, sa[j][0]);
    StShared32(s_dst + Sw128Chunk<BN>(key_in_cta + 8, 2 * j) + lo, sa[j][1]);
    StShared32(s_dst + Sw128Chunk<BN>(key_in_cta, 2 * j + 1) + lo, sa[j][2]);
    StShared32(s_dst + Sw128Chunk<BN>(key_in_cta + 8, 2 * j + 1) + lo, sa[j][3]);
  }
}

// The warp's dQ tile (rows m0 + 16 warp_in_wg + g (+8), columns col_block * kQCols ..) scaled and added into the
// float32 dQ with red.global.add.v2.f32.
template <int D, int kQCols>
__device__ __forceinline__ void AddDqTile(const BwdArgs& a, int b, int h, int64_t m0, const float (&dq)[kQCols / 8][4],
                                          int col_block, int warp_in_wg, int g, int tq) {
  float* dqp = a.dq + b * a.dqs.batch + h * a.dqs.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = m0 + warp_in_wg * 16 + g + 8 * r;
    if (row < a.q_tokens) {
#pragma unroll
      for (int i = 0; i < kQCols / 8; ++i) {
        RedAddF32x2(dqp + row * D + col_block * kQCols + i * 8 + 2 * tq, dq[i][2 * r] * a.scale,
                    dq[i][2 * r + 1] * a.scale);
      }
    }
  }
}

template <typename T, int D, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 1) BackwardWgmmaKernel(const BwdArgs a) {
  constexpr int BN = Tiles::kBlockN, BM = Tiles::kBlockM, kThreads = Tiles::kThreads;
  static_assert(D == 64 || D == 128, "head_dim 64 or 128");
  extern __shared__ __align__(1024) uint8_t smem[];
  const uint32_t s_k = (SmemAddr(smem) + 1023u) & ~1023u;
  const uint32_t s_v = s_k + BN * D * 2;
  const uint32_t s_q0 = s_v + BN * D * 2;        // [2][BM][D]
  const uint32_t s_do0 = s_q0 + 2 * BM * D * 2;  // [2][BM][D]
  const uint32_t s_dst = s_do0 + 2 * BM * D * 2;  // dS^T [BN][BM]
  const uint32_t s_stats = s_dst + BN * BM * 2;   // lse[2][BM], delta[2][BM]
  const float* f_stats = reinterpret_cast<const float*>(smem + (s_stats - SmemAddr(smem)));

  const int tid = threadIdx.x, lane = tid & 31;
  const int wg = tid >> 7, warp_in_wg = (tid >> 5) & 3;
  const int g = lane >> 2, tq = lane & 3;
  const int key_in_cta = wg * 64 + warp_in_wg * 16 + g;  // this lane's first key row; the second is 8 further
  const KeyBlock blk = CtaKeyBlock<BN>(a);
  const int b = blk.b, hk = blk.hk;
  const int64_t n0 = blk.n0;
  LoadKeyBlockAsync<BN, D, kThreads, Sw128Layout>(a, blk, s_k, s_v, tid);
  const QueryTilePipeline<BM, D, kThreads, Sw128Layout> pipe(a, blk, s_q0, s_do0, s_stats, f_stats, tid);

  // dK, dV accumulators: keys key_in_cta (+8), columns 8i + 2tq (+1).
  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;

  pipe.Start();
  for (int64_t it = 0; it < pipe.walk.total; ++it) {
    // Tile `it` has landed (and is visible to wgmma); every warpgroup is past iteration it - 1 (its wgmma all waited
    // for): the other Q/dO stage and dS^T are free.
    const QueryTile tile = pipe.Begin(it);
    const int h = tile.h;
    const int64_t m0 = tile.m0;
    const uint32_t s_q = tile.s_q, s_do = tile.s_do;
    const float* s_lse = tile.s_lse;
    const float* s_delta = tile.s_delta;

    float st[BM / 8][4], dpt[BM / 8][4];
    ScoresTWgmma<T, D, BN, BM>(st, dpt, s_k, s_v, s_q, s_do, wg);  // ---- 1. S^T = K_w Q^T, dP^T = V_w dO^T

    // ---- 2. P^T and dS^T (masked to 0); then as A fragments (k16 step j over the 64 queries), dS^T to shared memory.
    const bool need_mask = kMasked || (n0 + BN > a.kv_tokens) || (m0 + BM > a.q_tokens) ||
                           (a.causal && n0 + BN - 1 > m0 + a.offset);
    // Tile-local masks: key r is out iff r >= kv_lim; query c iff c >= q_lim; (causal) pair iff r > c + diag;
    // (TokenMask) pair iff key n0 + r lies outside query m0 + c's key interval [key_lo, key_hi).
    const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, BN);
    const int q_lim = ClampToInt(a.q_tokens - m0, 0, BM);
    const int diag = a.causal ? ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20) : (1 << 21);
#pragma unroll
    for (int ni = 0; ni < BM / 8; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = ni * 8 + 2 * tq + (e & 1);
        float p = exp2f(fmaf(st[ni][e], a.scale_log2, -RowLse2(s_lse[c])));
        if (need_mask) {
          const int r = key_in_cta + ((e >> 1) << 3);
          if (r >= kv_lim || c >= q_lim || (!kMasked && r > c + diag)) p = 0.f;
          if constexpr (kMasked) {
            int64_t key_lo, key_hi;
            MaskRowKeys(a.tm, min(m0 + c, a.q_tokens - 1), &key_lo, &key_hi);
            if (n0 + r < key_lo || n0 + r >= key_hi) p = 0.f;
          }
        }
        st[ni][e] = p;
        dpt[ni][e] = p * (dpt[ni][e] - s_delta[c]);
      }
    uint32_t pa[BM / 16][4], sa[BM / 16][4];  // A fragments: rows = keys, k = queries 16j ..
    PackAndStoreDsT<T, BN, BM>(pa, sa, st, dpt, s_dst, key_in_cta, tq);

    // ---- 3. dV_w += P^T dO, dK_w += dS^T Q (k = 64 queries), left running while dQ waits for the barrier.
    PinAccumulators(dv);
    PinAccumulators(dk);
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      AccumulateRs<T, D, BM>(dv, pa[kk], s_do, kk);
      AccumulateRs<T, D, BM>(dk, sa[kk], s_q, kk);
    }
    WgmmaCommit();
    FenceProxyAsyncShared();  // this thread's dS^T stores, visible to the dQ wgmma of either warpgroup
    __syncthreads();          // dS^T of both warpgroups complete

    // ---- 4. dQ += scale dS K: 64 queries x 64 columns.
    constexpr int kQCols = 64;
    constexpr int kKeySteps = D == 128 ? BN / 16 : BN / 32;  // D = 128: all keys; D = 64: this warpgroup's keys
    const int col_block = D == 128 ? wg : 0;
    const int key_step0 = D == 128 ? 0 : wg * (BN / 32);
    float dq[kQCols / 8][4];
    PinAccumulators(dq);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < kKeySteps; ++ks) {
      WgmmaSS64x64<T, 1, 1>(&dq[0][0], MnMajorDescriptor<BN>(s_dst, key_step0 + ks),
                            MnMajorDescriptor<BN>(s_k + col_block * (BN * 128), key_step0 + ks), ks > 0);
    }
    WgmmaCommit();
    WgmmaWait<0>();  // dQ, and step 3's dV/dK
    PinAccumulators(dq);
    PinAccumulators(dv);
    PinAccumulators(dk);

    AddDqTile<D, kQCols>(a, b, h, m0, dq, col_block, warp_in_wg, g, tq);
  }
  CpAsyncWait<0>();

  float* dkp = a.dk + b * a.dks.batch + hk * a.dks.head;
  float* dvp = a.dv + b * a.dvs.batch + hk * a.dvs.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = n0 + key_in_cta + 8 * r;
    if (n >= a.kv_tokens) continue;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      StoreDkDvPair(a, dkp, dvp, n, i * 8 + 2 * tq, D, dk[i][2 * r], dk[i][2 * r + 1], dv[i][2 * r], dv[i][2 * r + 1]);
    }
  }
}

}  // namespace

Status LaunchBackwardWgmma(const BackwardParams& p, void* stream) {
  return LaunchBackwardKernel<Tiles>(p, stream, /*sm90_only=*/"LaunchBackwardWgmma",
                                     [&p](auto t, auto d) {
                                       constexpr int kD = decltype(d)::value;
                                       return p.shape.mask.enabled ? &BackwardWgmmaKernel<decltype(t), kD, true>
                                                                   : &BackwardWgmmaKernel<decltype(t), kD, false>;
                                     });
}

}  // namespace ringlab::cuda
