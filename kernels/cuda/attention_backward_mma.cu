// Backward attention on mma.sync m16n8k16, the portable backward (any sm_80+ GPU; LaunchBackwardMma, the default of
// LaunchBackward off compute capability 9.0): FlashAttention-2's algorithm and 2-D warp layout. It replaced a 1-D
// layout (16 keys x 64 queries per warp) that was bound by ldmatrix traffic at ~294 B/mma; see bench/kernels/NOTES.md.
//
// CTA = 8 warps, 128 keys of one kv head (K and V resident in shared memory), walking every query head of its GQA
// group and every 64-row query tile that can see its keys; Q, dO, lse and delta double-buffered by cp.async.
// Warp w: kw = w % 4, hw = w / 4.
//   1. S^T = K Q^T and dP^T = V dO^T: warp tile 32 keys (kw) x 32 queries (hw), k = D.        (4 ldmatrix / 8 mma)
//   2. P^T = exp(S^T scale - lse), dS^T = P^T (dP^T - delta), both bf16/fp16 into shared memory ([key][query],
//      swizzled), and kept in registers as the A fragments of the warp's own 32 queries.
//   3. dV += P^T dO, dK += dS^T Q: warp tile 32 keys (kw) x D/2 columns (hw), k = 64 queries; the k-steps over the
//      warp's own queries take A from registers, the others from shared memory.              (12 ldmatrix / 32 mma)
//   4. dQ += scale dS K: warp tile 32 queries (hw) x D/4 columns (kw), k = 128 keys, added into float32 dQ with
//      red.global.add.v2.f32.                                                                 (4 ldmatrix / 8 mma)
// Per warp and tile at D=128: 144 ldmatrix.x4 (+ 16 32-bit stores per lane) for 320 mma ≈ 240 B/mma (the 1-D layout:
// 184 ldmatrix for 320 mma ≈ 294 B/mma). dK/dV rows are owned by exactly one CTA: written (or added) at the end
// without atomics.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_backward_common.cuh"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"

namespace ringlab::cuda {
namespace {

using namespace detail;

using Tiles = tiles::BackwardMma;

// Warp coordinates shared by the phases: lane, g = lane / 4, tq = lane % 4, kw = key group of 32 (phases 1-3) or D
// quarter (phase 4), hw = query half (phases 1, 2, 4) or D half (phase 3).
struct WarpPos {
  int lane, g, tq, kw, hw;
};

// 1. S^T = K Q^T and dP^T = V dO^T for keys kw*32 .. +31 (m tiles mi) x queries hw*32 .. +31 (n8 tiles ni), k = D.
template <typename T, int D>
__device__ __forceinline__ void ScoresT(float (&st)[2][4][4], float (&dpt)[2][4][4], uint32_t s_k, uint32_t s_v,
                                        uint32_t s_q, uint32_t s_do, const WarpPos& w) {
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[mi][ni][e] = dpt[mi][ni][e] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t ka[2][4], va[2][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
      const uint32_t a_off = SwizzledChunk<D>(w.kw * 32 + mi * 16 + (w.lane & 15), kk * 2 + (w.lane >> 4));
      LdMatrixX4(ka[mi], s_k + a_off);
      LdMatrixX4(va[mi], s_v + a_off);
    }
#pragma unroll
    for (int nn = 0; nn < 2; ++nn) {
      uint32_t qb[4], ob[4];
      const uint32_t b_off = SwizzledChunk<D>(w.hw * 32 + nn * 16 + (w.lane & 7) + ((w.lane >> 4) << 3),
                                              kk * 2 + ((w.lane >> 3) & 1));
      LdMatrixX4(qb, s_q + b_off);
      LdMatrixX4(ob, s_do + b_off);
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        Mma<T>(st[mi][2 * nn], ka[mi], qb[0], qb[1]);
        Mma<T>(st[mi][2 * nn + 1], ka[mi], qb[2], qb[3]);
        Mma<T>(dpt[mi][2 * nn], va[mi], ob[0], ob[1]);
        Mma<T>(dpt[mi][2 * nn + 1], va[mi], ob[2], ob[3]);
      }
    }
  }
}

// P^T and dS^T packed as A fragments ([mi][j]: rows = keys, k step j over the warp's 32 queries) and stored to
// shared memory ([key][query], swizzled) for the other warps.
template <typename T, int BM>
__device__ __forceinline__ void PackAndStoreT(uint32_t (&pa)[2][2][4], uint32_t (&sa)[2][2][4],
                                              const float (&st)[2][4][4], const float (&dpt)[2][4][4], uint32_t s_pt,
                                              uint32_t s_dst, const WarpPos& w) {
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      pa[mi][j][0] = PackPair<T>(st[mi][2 * j][0], st[mi][2 * j][1]);
      pa[mi][j][1] = PackPair<T>(st[mi][2 * j][2], st[mi][2 * j][3]);
      pa[mi][j][2] = PackPair<T>(st[mi][2 * j + 1][0], st[mi][2 * j + 1][1]);
      pa[mi][j][3] = PackPair<T>(st[mi][2 * j + 1][2], st[mi][2 * j + 1][3]);
      sa[mi][j][0] = PackPair<T>(dpt[mi][2 * j][0], dpt[mi][2 * j][1]);
      sa[mi][j][1] = PackPair<T>(dpt[mi][2 * j][2], dpt[mi][2 * j][3]);
      sa[mi][j][2] = PackPair<T>(dpt[mi][2 * j + 1][0], dpt[mi][2 * j + 1][1]);
      sa[mi][j][3] = PackPair<T>(dpt[mi][2 * j + 1][2], dpt[mi][2 * j + 1][3]);
      // Row = key, 16-byte chunk = 8 queries: chunk hw*4 + 2j holds queries hw*32 + 16j .. +7, the next +8 .. +15.
      const int r0 = w.kw * 32 + mi * 16 + w.g;
      const int c_lo = w.hw * 4 + 2 * j, c_hi = c_lo + 1;
      const uint32_t o00 = SwizzledChunk<BM>(r0, c_lo) + w.tq * 4, o10 = SwizzledChunk<BM>(r0 + 8, c_lo) + w.tq * 4;
      const uint32_t o01 = SwizzledChunk<BM>(r0, c_hi) + w.tq * 4, o11 = SwizzledChunk<BM>(r0 + 8, c_hi) + w.tq * 4;
      StShared32(s_pt + o00, pa[mi][j][0]);
      StShared32(s_pt + o10, pa[mi][j][1]);
      StShared32(s_pt + o01, pa[mi][j][2]);
      StShared32(s_pt + o11, pa[mi][j][3]);
      StShared32(s_dst + o00, sa[mi][j][0]);
      StShared32(s_dst + o10, sa[mi][j][1]);
      StShared32(s_dst + o01, sa[mi][j][2]);
      StShared32(s_dst + o11, sa[mi][j][3]);
    }
}

// 3. dV += P^T dO and dK += dS^T Q: keys kw*32 .. +31, columns hw*(D/2) .. +D/2-1, k = BM queries; the k-steps over
// the warp's own queries take A from registers, the others from shared memory.
template <typename T, int D, int BM>
__device__ __forceinline__ void AccumulateDkDv(float (&dk)[2][D / 16][4], float (&dv)[2][D / 16][4],
                                               const uint32_t (&pa)[2][2][4], const uint32_t (&sa)[2][2][4],
                                               uint32_t s_pt, uint32_t s_dst, uint32_t s_q, uint32_t s_do,
                                               const WarpPos& w) {
#pragma unroll
  for (int kk = 0; kk < BM / 16; ++kk) {
    uint32_t pk[2][4], sk[2][4];
    if ((kk >> 1) == w.hw) {  // the warp's own queries: fragments already in registers
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int x = 0; x < 4; ++x) {
          pk[mi][x] = pa[mi][kk & 1][x];
          sk[mi][x] = sa[mi][kk & 1][x];
        }
    } else {
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        const uint32_t off = SwizzledChunk<BM>(w.kw * 32 + mi * 16 + (w.lane & 15), kk * 2 + (w.lane >> 4));
        LdMatrixX4(pk[mi], s_pt + off);
        LdMatrixX4(sk[mi], s_dst + off);
      }
    }
#pragma unroll
    for (int dn = 0; dn < D / 32; ++dn) {
      uint32_t ob[4], qb[4];
      const uint32_t off = SwizzledChunk<D>(kk * 16 + (w.lane & 15), w.hw * (D / 16) + dn * 2 + (w.lane >> 4));
      LdMatrixX4Trans(ob, s_do + off);
      LdMatrixX4Trans(qb, s_q + off);
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        Mma<T>(dv[mi][2 * dn], pk[mi], ob[0], ob[1]);
        Mma<T>(dv[mi][2 * dn + 1], pk[mi], ob[2], ob[3]);
        Mma<T>(dk[mi][2 * dn], sk[mi], qb[0], qb[1]);
        Mma<T>(dk[mi][2 * dn + 1], sk[mi], qb[2], qb[3]);
      }
    }
  }
}

// 4. dQ[m0 + hw*32 .., kw*(D/4) ..] += scale dS K, k = BN keys, added into float32 dQ with red.global.add.v2.f32.
template <typename T, int D, int BN, int BM>
__device__ __forceinline__ void AddDq(const BwdArgs& a, int b, int h, int64_t m0, uint32_t s_dst, uint32_t s_k,
                                      const WarpPos& w) {
  float acc[2][D / 32][4];
#pragma unroll
  for (int m = 0; m < 2; ++m)
#pragma unroll
    for (int i = 0; i < D / 32; ++i) acc[m][i][0] = acc[m][i][1] = acc[m][i][2] = acc[m][i][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    uint32_t da[2][4];
    const int mx = w.lane >> 3;  // which 8x8 matrix this lane addresses
#pragma unroll
    for (int m = 0; m < 2; ++m)
      LdMatrixX4Trans(da[m], s_dst + SwizzledChunk<BM>(kk * 16 + (w.lane & 7) + ((mx >> 1) << 3),
                                                       (w.hw * 2 + m) * 2 + (mx & 1)));
#pragma unroll
    for (int dn = 0; dn < D / 64; ++dn) {
      uint32_t kb[4];
      LdMatrixX4Trans(kb, s_k + SwizzledChunk<D>(kk * 16 + (w.lane & 15), w.kw * (D / 32) + dn * 2 + (w.lane >> 4)));
#pragma unroll
      for (int m = 0; m < 2; ++m) {
        Mma<T>(acc[m][2 * dn], da[m], kb[0], kb[1]);
        Mma<T>(acc[m][2 * dn + 1], da[m], kb[2], kb[3]);
      }
    }
  }
  float* dq = a.dq + b * a.dqs.batch + h * a.dqs.head;
#pragma unroll
  for (int m = 0; m < 2; ++m)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t row = m0 + w.hw * 32 + m * 16 + w.g + 8 * r;
      if (row < a.q_tokens) {
#pragma unroll
        for (int i = 0; i < D / 32; ++i) {
          RedAddF32x2(dq + row * D + w.kw * (D / 4) + i * 8 + 2 * w.tq, acc[m][i][2 * r] * a.scale,
                      acc[m][i][2 * r + 1] * a.scale);
        }
      }
    }
}

template <typename T, int D, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 1) BackwardMmaKernel(const BwdArgs a) {
  constexpr int BN = Tiles::kBlockN, BM = Tiles::kBlockM, kThreads = Tiles::kThreads;
  static_assert(D == 64 || D == 128, "head_dim 64 or 128");
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t s_k = SmemAddr(smem);
  const uint32_t s_v = s_k + BN * D * 2;
  const uint32_t s_q0 = s_v + BN * D * 2;        // [2][BM][D]
  const uint32_t s_do0 = s_q0 + 2 * BM * D * 2;  // [2][BM][D]
  const uint32_t s_pt = s_do0 + 2 * BM * D * 2;  // P^T  [BN][BM]
  const uint32_t s_dst = s_pt + BN * BM * 2;     // dS^T [BN][BM]
  const uint32_t s_stats = s_dst + BN * BM * 2;  // lse[2][BM], delta[2][BM]
  const float* f_stats = reinterpret_cast<const float*>(smem + (s_stats - s_k));

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int kw = warp & 3;   // key group of 32 (phases 1-3); D quarter (phase 4)
  const int hw = warp >> 2;  // query half (phases 1, 2, 4); D half (phase 3)
  const WarpPos w{lane, g, tq, kw, hw};
  const KeyBlock blk = CtaKeyBlock<BN>(a);
  const int b = blk.b, hk = blk.hk;
  const int64_t n0 = blk.n0;
  LoadKeyBlockAsync<BN, D, kThreads, SwizzledLayout>(a, blk, s_k, s_v, tid);
  const QueryTilePipeline<BM, D, kThreads, SwizzledLayout> pipe(a, blk, s_q0, s_do0, s_stats, f_stats, tid);

  // dK, dV accumulators: keys kw*32 + mi*16 + (g, g+8), columns hw*(D/2) + i*8 + 2tq (+1).
  float dk[2][D / 16][4], dv[2][D / 16][4];
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int i = 0; i < D / 16; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) dk[mi][i][e] = dv[mi][i][e] = 0.f;

  pipe.Start();
  for (int64_t it = 0; it < pipe.walk.total; ++it) {
    // Tile `it` has landed; every warp is past iteration it - 1: its Q/dO stage and P^T/dS^T are free.
    const QueryTile tile = pipe.Begin(it);
    const int h = tile.h;
    const int64_t m0 = tile.m0;
    const uint32_t s_q = tile.s_q, s_do = tile.s_do;
    const float* s_lse = tile.s_lse;
    const float* s_delta = tile.s_delta;

    float st[2][4][4], dpt[2][4][4];
    ScoresT<T, D>(st, dpt, s_k, s_v, s_q, s_do, w);                               // 1. S^T, dP^T
    // 2. P^T = exp(S^T scale - lse) and dS^T = P^T (dP^T - delta), masked to 0. Tile-local masks: key r is out iff
    // r >= kv_lim; query c iff c >= q_lim; (causal) pair iff r > c + diag; (TokenMask) pair iff key n0 + r lies
    // outside query m0 + c's key interval [key_lo, key_hi). (Written out in the kernel: the same lines in a helper
    // function changed its register allocation: spills at D = 128.)
    const bool need_mask = kMasked || (n0 + BN > a.kv_tokens) || (m0 + BM > a.q_tokens) ||
                           (a.causal && n0 + BN - 1 > m0 + a.offset);
    const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, BN);
    const int q_lim = ClampToInt(a.q_tokens - m0, 0, BM);
    const int diag = a.causal ? ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20) : (1 << 21);
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = hw * 32 + ni * 8 + 2 * tq + (e & 1);
        const float lse2 = RowLse2(s_lse[c]);
        const float dlt = s_delta[c];
        int64_t key_lo = 0, key_hi = 0;
        if constexpr (kMasked) MaskRowKeys(a.tm, min(m0 + c, a.q_tokens - 1), &key_lo, &key_hi);
#pragma unroll
        for (int mi = 0; mi < 2; ++mi) {
          float p = exp2f(fmaf(st[mi][ni][e], a.scale_log2, -lse2));
          if (need_mask) {
            const int r = kw * 32 + mi * 16 + g + ((e >> 1) << 3);
            if (r >= kv_lim || c >= q_lim || (!kMasked && r > c + diag)) p = 0.f;
            if (kMasked && (n0 + r < key_lo || n0 + r >= key_hi)) p = 0.f;
          }
          st[mi][ni][e] = p;
          dpt[mi][ni][e] = p * (dpt[mi][ni][e] - dlt);
        }
      }
    uint32_t pa[2][2][4], sa[2][2][4];
    PackAndStoreT<T, BM>(pa, sa, st, dpt, s_pt, s_dst, w);                         //    as A fragments + to smem
    __syncthreads();  // P^T and dS^T complete
    AccumulateDkDv<T, D, BM>(dk, dv, pa, sa, s_pt, s_dst, s_q, s_do, w);           // 3. dV += P^T dO, dK += dS^T Q
    AddDq<T, D, BN, BM>(a, b, h, m0, s_dst, s_k, w);                               // 4. dQ += scale dS K
    // No barrier here: this stage's Q, dO, lse, delta and P^T/dS^T are rewritten only after the next iteration's
    // first barrier.
  }
  CpAsyncWait<0>();

  float* dkp = a.dk + b * a.dks.batch + hk * a.dks.head;
  float* dvp = a.dv + b * a.dvs.batch + hk * a.dvs.head;
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t n = n0 + kw * 32 + mi * 16 + g + 8 * r;
      if (n >= a.kv_tokens) continue;
#pragma unroll
      for (int i = 0; i < D / 16; ++i) {
        StoreDkDvPair(a, dkp, dvp, n, hw * (D / 2) + i * 8 + 2 * tq, D, dk[mi][i][2 * r], dk[mi][i][2 * r + 1],
                      dv[mi][i][2 * r], dv[mi][i][2 * r + 1]);
      }
    }
}

}  // namespace

Status LaunchBackwardMma(const BackwardParams& p, void* stream) {
  return LaunchBackwardKernel<Tiles>(p, stream, /*sm90_only=*/nullptr,
                                     [&p](auto t, auto d) {
                                       constexpr int kD = decltype(d)::value;
                                       return p.shape.mask.enabled ? &BackwardMmaKernel<decltype(t), kD, true>
                                                                   : &BackwardMmaKernel<decltype(t), kD, false>;
                                     });
}

}  // namespace ringlab::cuda
