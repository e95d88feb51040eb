// Forward attention of a query block against a key/value block on mma.sync m16n8k16 (FlashAttention-2 style): the
// portable forward (any sm_80+ GPU; LaunchForwardMma, the default of LaunchForward off compute capability 9.0).
//
// One CTA of 4 warps owns 128 query rows (32 per warp, two m16 tiles) and walks the key/value block in tiles of 64
// keys: S = Q K^T on the tensor cores, online softmax in registers (base 2, scale folded in), O += P V. K and V tiles
// are double-buffered with cp.async; Q stays in shared memory. The epilogue normalizes O and either overwrites the
// float32 (out, lse) accumulators or merges into them by log-sum-exp.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_forward_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"

namespace ringlab::cuda {
namespace {

using namespace detail;

using Tiles = tiles::ForwardMma;

// S = Q K^T for the warp's MT m16 tiles of rows against one BN-key tile, k = D.
template <typename T, int D, int MT, int BN>
__device__ __forceinline__ void QkTile(float (&s)[MT][BN / 8][4], uint32_t s_q, uint32_t s_k, int warp, int lane) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t qa[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const int row = warp * (16 * MT) + mt * 16 + (lane & 15);
      LdMatrixX4(qa[mt], s_q + SwizzledChunk<D>(row, kk * 2 + (lane >> 4)));
    }
#pragma unroll
    for (int nn = 0; nn < BN / 16; ++nn) {
      uint32_t kb[4];
      const int row = nn * 16 + (lane & 7) + ((lane >> 4) << 3);
      LdMatrixX4(kb, s_k + SwizzledChunk<D>(row, kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        Mma<T>(s[mt][2 * nn], qa[mt], kb[0], kb[1]);
        Mma<T>(s[mt][2 * nn + 1], qa[mt], kb[2], kb[3]);
      }
    }
  }
}

// Unmasked kernels: keys past the block end, and (causal) keys past row + offset, set to -inf. In tile-local
// coordinates key c is masked iff c >= kv_lim, or (causal) c > r + diag. Needed only near the edges.
template <int MT, int BN>
__device__ __forceinline__ void MaskEdgeTile(float (&s)[MT][BN / 8][4], const FwdArgs& a, int64_t m0, int64_t n0,
                                             int warp, int g, int tq) {
  if (!((n0 + BN > a.kv_tokens) || (a.causal && n0 + BN - 1 > m0 + a.offset))) return;
  const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, BN);
  const int diag = ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20);
  const int diag_eff = a.causal ? diag : (1 << 21);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < BN / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = warp * (16 * MT) + mt * 16 + g + ((e >> 1) << 3);
        const int c = i * 8 + 2 * tq + (e & 1);
        if (c >= kv_lim || c > r + diag_eff) s[mt][i][e] = -INFINITY;
      }
}

// Online softmax, base 2: S becomes P (relative to the new running max), the running max and sum move, and O is
// rescaled where a row's max moved.
template <int D, int MT, int BN>
__device__ __forceinline__ void OnlineSoftmax(float (&s)[MT][BN / 8][4], float (&o)[MT][D / 8][4],
                                              float (&m_run)[MT][2], float (&l_run)[MT][2], float scale_log2) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) mx = fmaxf(mx, fmaxf(s[mt][i][2 * r], s[mt][i][2 * r + 1]));
      mx = QuadMax(mx) * scale_log2;
      const float m_new = fmaxf(m_run[mt][r], mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      alpha[r] = exp2f(m_run[mt][r] - m_use);
      m_run[mt][r] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        const float p0 = exp2f(fmaf(s[mt][i][2 * r], scale_log2, -m_use));
        const float p1 = exp2f(fmaf(s[mt][i][2 * r + 1], scale_log2, -m_use));
        s[mt][i][2 * r] = p0;
        s[mt][i][2 * r + 1] = p1;
        sum += p0 + p1;
      }
      l_run[mt][r] = l_run[mt][r] * alpha[r] + sum;
    }
    // Rescale O only when some row's running max moved (rare after the first tiles of a long block).
    if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        o[mt][i][0] *= alpha[0];
        o[mt][i][1] *= alpha[0];
        o[mt][i][2] *= alpha[1];
        o[mt][i][3] *= alpha[1];
      }
    }
  }
}

// O += P V: P from the softmax's registers (packed to T as A fragments), V from shared memory, k = BN keys.
template <typename T, int D, int MT, int BN>
__device__ __forceinline__ void PvTile(float (&o)[MT][D / 8][4], const float (&s)[MT][BN / 8][4], uint32_t s_v,
                                       int lane) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    uint32_t pa[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      pa[mt][0] = PackPair<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      pa[mt][1] = PackPair<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      pa[mt][2] = PackPair<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      pa[mt][3] = PackPair<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int dn = 0; dn < D / 16; ++dn) {
      uint32_t vb[4];
      LdMatrixX4Trans(vb, s_v + SwizzledChunk<D>(kk * 16 + (lane & 15), dn * 2 + (lane >> 4)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        Mma<T>(o[mt][2 * dn], pa[mt], vb[0], vb[1]);
        Mma<T>(o[mt][2 * dn + 1], pa[mt], vb[2], vb[3]);
      }
    }
  }
}

template <typename T, int D, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 2) ForwardMmaKernel(const FwdArgs a) {
  constexpr int BM = Tiles::kBlockM, BN = Tiles::kBlockN, MT = Tiles::kMTiles, kThreads = Tiles::kThreads;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t s_q = SmemAddr(smem);
  const uint32_t s_k0 = s_q + BM * D * 2;
  const uint32_t s_v0 = s_k0 + 2 * BN * D * 2;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  // Head-major grid: the CTAs resident at once share one head's K and V (and its rows of out) in L2.
  const int bh = blockIdx.y;
  const int b = bh / a.heads, h = bh % a.heads, hk = h / a.group;
  const int64_t m_tiles = gridDim.x;
  const int64_t m0 = (m_tiles - 1 - blockIdx.x) * BM;  // heaviest (causal) tiles of a head first

  const uint16_t* q = a.q + b * a.qs.batch + h * a.qs.head + m0 * D;
  const uint16_t* k = a.k + b * a.ks.batch + hk * a.ks.head;
  const uint16_t* v = a.v + b * a.vs.batch + hk * a.vs.head;

  const int64_t row_last = min(m0 + BM, a.q_tokens) - 1;
  int64_t n_start, n_end;
  ForwardKeyRange<kMasked>(a, m0, row_last, &n_start, &n_end);
  const int j_begin = static_cast<int>(n_start / BN);
  const int n_tiles = n_end > n_start ? static_cast<int>((n_end + BN - 1) / BN) : 0;  // one past the last tile
  // Masked: each of the lane's rows (per m tile) sees keys [row_begin, row_end).
  int64_t row_begin[MT][2], row_end[MT][2];
  if constexpr (kMasked) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int64_t row = min(m0 + warp * (16 * MT) + mt * 16 + g + 8 * r, a.q_tokens - 1);
        MaskRowKeys(a.tm, row, &row_begin[mt][r], &row_end[mt][r]);
        row_end[mt][r] = min(row_end[mt][r], a.kv_tokens);
      }
  }

  float o[MT][D / 8][4];
  float m_run[MT][2], l_run[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
    m_run[mt][0] = m_run[mt][1] = -INFINITY;
    l_run[mt][0] = l_run[mt][1] = 0.f;
  }

  if (n_tiles > j_begin) {
    const int64_t nb = static_cast<int64_t>(j_begin) * BN;
    const uint32_t off = (j_begin & 1) * BN * D * 2;
    LoadTileAsync<BM, D, kThreads>(s_q, q, a.q_tokens - m0, tid);
    LoadTileAsync<BN, D, kThreads>(s_k0 + off, k + nb * D, a.kv_tokens - nb, tid);
    LoadTileAsync<BN, D, kThreads>(s_v0 + off, v + nb * D, a.kv_tokens - nb, tid);
    CpAsyncCommit();
  }

  for (int j = j_begin; j < n_tiles; ++j) {
    const int64_t n0 = static_cast<int64_t>(j) * BN;
    const int stage = j & 1;
    CpAsyncWait<0>();
    __syncthreads();  // tile j has landed, and every warp is done with tile j - 1, whose stage is refilled now
    if (j + 1 < n_tiles) {
      const int64_t n1 = n0 + BN;
      const uint32_t off = (stage ^ 1) * BN * D * 2;
      LoadTileAsync<BN, D, kThreads>(s_k0 + off, k + n1 * D, a.kv_tokens - n1, tid);
      LoadTileAsync<BN, D, kThreads>(s_v0 + off, v + n1 * D, a.kv_tokens - n1, tid);
      CpAsyncCommit();
    }
    const uint32_t s_k = s_k0 + stage * BN * D * 2;
    const uint32_t s_v = s_v0 + stage * BN * D * 2;

    float s[MT][BN / 8][4];
    QkTile<T, D, MT, BN>(s, s_q, s_k, warp, lane);                    // S = Q K^T
    if constexpr (kMasked) {                                           // document / window masks, per row
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) MaskTileByRange<BN>(s[mt], n0, row_begin[mt], row_end[mt], tq);
    } else {
      MaskEdgeTile<MT, BN>(s, a, m0, n0, warp, g, tq);                 // block end and causal diagonal
    }
    OnlineSoftmax<D, MT, BN>(s, o, m_run, l_run, a.scale_log2);        // S -> P, running max and sum, O rescaled
    PvTile<T, D, MT, BN>(o, s, s_v, lane);                             // O += P V
  }

  // Epilogue.
  float* out = a.out + b * a.os.batch + h * a.os.head;
  float* lse = a.lse + b * a.ls.batch + h * a.ls.head;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t row = m0 + warp * (16 * MT) + mt * 16 + g + 8 * r;
      WriteForwardRow<D>(a, out, lse, row, o[mt], r, m_run[mt][r], l_run[mt][r], tq);
    }
}

}  // namespace

Status LaunchForwardMma(const ForwardParams& p, void* stream) {
  return LaunchForwardKernel<Tiles>(p, stream, /*sm90_only=*/nullptr,
                                    [&p](auto t, auto d) {
                                      constexpr int kD = decltype(d)::value;
                                      return p.shape.mask.enabled ? &ForwardMmaKernel<decltype(t), kD, true>
                                                                  : &ForwardMmaKernel<decltype(t), kD, false>;
                                    });
}

}  // namespace ringlab::cuda
