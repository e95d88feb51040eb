// Forward attention on Hopper warpgroup MMA (wgmma.mma_async, compiled for sm_90a only).
//
// One CTA of two warpgroups owns 128 query rows (64 per warpgroup, the wgmma M) and walks the key/value block in
// tiles of 128 keys. S = Q K^T reads Q and K straight from shared memory (no ldmatrix); O += P V takes P from
// registers (the S accumulators converted in place) and V from shared memory as an MN-major operand.
//
// The P V product is issued one tile late so it overlaps the softmax (FlashAttention-3's intra-warpgroup
// pipelining): in iteration j a warpgroup issues S_j = Q K_j^T and O += P_{j-1} V_{j-1} back to back, waits only for
// S_j, runs the softmax of S_j while the tensor cores finish P_{j-1} V_{j-1}, then waits for that and rescales O.
// Loads are cp.async into 128-byte-swizzled tiles (wgmma_common.cuh); iteration j prefetches K_{j+1} and V_j, so
// K and V each need two stages: 32 + 4 * 32 KiB of shared memory at D = 128, one CTA per SM.
//
// Masking, the online softmax (base 2, scale folded in) and the epilogue (overwrite or log-sum-exp merge into the
// float32 accumulators) are the mma.sync kernel's (attention_forward_mma.cu), on the same C-fragment layout.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_forward_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"
#include "kernels/cuda/wgmma_common.cuh"
#include "kernels/cuda/wgmma_ops.cuh"

namespace ringlab::cuda {
namespace {

using namespace detail;

using Tiles = tiles::ForwardWgmma;

// O (64 x D) += P (64 x 16, registers) * V (16 x D, MN-major shared tile of Tiles::kBlockN rows), k16 step kk.
template <typename T, int D>
__device__ __forceinline__ void AccumulatePv(float (&o)[D / 8][4], const uint32_t* p, uint32_t v_tile, int kk) {
  const uint64_t desc = MnMajorDescriptor<Tiles::kBlockN>(v_tile, kk);
  if constexpr (D == 128) {
    WgmmaRS64x128<T, 1>(&o[0][0], p, desc, 1);
  } else {
    WgmmaRS64x64<T, 1>(&o[0][0], p, desc, 1);
  }
}

// Masks keys past the block end and (causal) keys past row + offset in the S tile starting at key n0, for the lane
// whose first row is `row_in_cta` of the CTA starting at query m0. Cheap no-op away from the edges.
template <int BN>
__device__ __forceinline__ void MaskTile(float (&s)[BN / 8][4], const FwdArgs& a, int64_t m0, int64_t n0,
                                         int row_in_cta, int tq) {
  const bool need_mask = (n0 + BN > a.kv_tokens) || (a.causal && n0 + BN - 1 > m0 + a.offset);
  if (!need_mask) return;
  const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, BN);
  const int diag = ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20);
  const int diag_eff = a.causal ? diag : (1 << 21);
#pragma unroll
  for (int i = 0; i < BN / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = row_in_cta + ((e >> 1) << 3);
      const int c = i * 8 + 2 * tq + (e & 1);
      if (c >= kv_lim || c > r + diag_eff) s[i][e] = -INFINITY;
    }
}

// Online softmax of one S tile in base 2 (scale folded in): updates the running max and sum of the lane's two rows,
// turns s into unnormalized probabilities and returns the factor alpha by which O must be rescaled.
template <int BN>
__device__ __forceinline__ void SoftmaxTile(float (&s)[BN / 8][4], float (&m_run)[2], float (&l_run)[2],
                                            float (&alpha)[2], float scale_log2) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = -INFINITY;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) mx = fmaxf(mx, fmaxf(s[i][2 * r], s[i][2 * r + 1]));
    mx = QuadMax(mx) * scale_log2;
    const float m_new = fmaxf(m_run[r], mx);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    alpha[r] = exp2f(m_run[r] - m_use);
    m_run[r] = m_new;
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) {
      const float p0 = exp2f(fmaf(s[i][2 * r], scale_log2, -m_use));
      const float p1 = exp2f(fmaf(s[i][2 * r + 1], scale_log2, -m_use));
      s[i][2 * r] = p0;
      s[i][2 * r + 1] = p1;
      sum += p0 + p1;
    }
    l_run[r] = l_run[r] * alpha[r] + sum;
  }
}

template <typename T, int D, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 1) ForwardWgmmaKernel(const FwdArgs a) {
  constexpr int BM = Tiles::kBlockM, BN = Tiles::kBlockN, kThreads = Tiles::kThreads;
  constexpr int kTileBytes = BN * D * 2;
  extern __shared__ __align__(1024) uint8_t smem[];
  const uint32_t s_q = (SmemAddr(smem) + 1023u) & ~1023u;
  const uint32_t s_k0 = s_q + BM * D * 2;
  const uint32_t s_v0 = s_k0 + 2 * kTileBytes;

  const int tid = threadIdx.x, lane = tid & 31;
  const int wg = tid >> 7, warp_in_wg = (tid >> 5) & 3;
  const int g = lane >> 2, tq = lane & 3;
  const int row_in_cta = wg * 64 + warp_in_wg * 16 + g;  // this lane's first row; the second is 8 further
  // Head-major grid, heaviest (causal) tiles of a head first: see attention_forward_mma.cu.
  const int bh = blockIdx.y;
  const int b = bh / a.heads, h = bh % a.heads, hk = h / a.group;
  const int64_t m0 = (static_cast<int64_t>(gridDim.x) - 1 - blockIdx.x) * BM;

  const uint16_t* q = a.q + b * a.qs.batch + h * a.qs.head + m0 * D;
  const uint16_t* k = a.k + b * a.ks.batch + hk * a.ks.head;
  const uint16_t* v = a.v + b * a.vs.batch + hk * a.vs.head;

  const int64_t row_last = min(m0 + BM, a.q_tokens) - 1;
  int64_t n_start, n_end;
  ForwardKeyRange<kMasked>(a, m0, row_last, &n_start, &n_end);
  const int j_begin = static_cast<int>(n_start / BN);
  const int n_tiles = n_end > n_start ? static_cast<int>((n_end + BN - 1) / BN) : 0;  // one past the last tile
  int64_t row_begin[2] = {0, 0}, row_end[2] = {0, 0};  // masked: the lane's two rows see keys [begin, end)
  if constexpr (kMasked) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      MaskRowKeys(a.tm, min(m0 + row_in_cta + 8 * r, a.q_tokens - 1), &row_begin[r], &row_end[r]);
      row_end[r] = min(row_end[r], a.kv_tokens);
    }
  }

  float o[D / 8][4];
  float s[BN / 8][4];
  uint32_t p[BN / 16][4];
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;

  // Tile j's loads: K_{j+1} (the next S) and V_j (the next iteration's P V), after the barrier that retires the
  // stages they overwrite (K_{j-1}, V_{j-2}).
  auto wait_and_prefetch = [&](int j) {
    const int64_t n0 = static_cast<int64_t>(j) * BN;
    CpAsyncWait<0>();
    FenceProxyAsyncShared();
    __syncthreads();  // K_j (and V_{j-1}) landed; every warpgroup is done with K_{j-1} and V_{j-2}
    if (j + 1 < n_tiles) {
      LoadSw128TileAsync<BN, D, kThreads>(s_k0 + ((j + 1) & 1) * kTileBytes, k + (n0 + BN) * D,
                                            a.kv_tokens - n0 - BN, tid);
    }
    LoadSw128TileAsync<BN, D, kThreads>(s_v0 + (j & 1) * kTileBytes, v + n0 * D, a.kv_tokens - n0, tid);
    CpAsyncCommit();
  };
  auto issue_s = [&](int j) {
    const uint32_t k_tile = s_k0 + (j & 1) * kTileBytes;
    PinAccumulators(s);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
      WgmmaSS64x128<T, 0, 0>(&s[0][0], KMajorDescriptor<BM>(s_q, wg * 64, ks), KMajorDescriptor<BN>(k_tile, 0, ks),
                          ks > 0);
    }
    WgmmaCommit();
  };
  auto issue_pv = [&](int j) {  // O += P_j V_j
    const uint32_t v_tile = s_v0 + (j & 1) * kTileBytes;
    PinAccumulators(o);
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) AccumulatePv<T, D>(o, p[kk], v_tile, kk);
    WgmmaCommit();
  };
  float alpha[2];
  auto mask_tile = [&](int64_t n0) {  // window/document mask or block edge and causal diagonal
    if constexpr (kMasked) {
      MaskTileByRange<BN>(s, n0, row_begin, row_end, tq);
    } else {
      MaskTile<BN>(s, a, m0, n0, row_in_cta, tq);
    }
  };

  // The first tile is peeled off so that every wgmma wait below is unconditional: ptxas tracks in-flight
  // accumulators path-insensitively, and a wait under `if (j > 0)` made it serialize all wgmma.
  if (n_tiles > j_begin) {
    const int64_t nb = static_cast<int64_t>(j_begin) * BN;
    LoadSw128TileAsync<BM, D, kThreads>(s_q, q, a.q_tokens - m0, tid);
    LoadSw128TileAsync<BN, D, kThreads>(s_k0 + (j_begin & 1) * kTileBytes, k + nb * D, a.kv_tokens - nb, tid);
    CpAsyncCommit();
    wait_and_prefetch(j_begin);
    issue_s(j_begin);
    WgmmaWait<0>();
    PinAccumulators(s);
    mask_tile(nb);
    SoftmaxTile<BN>(s, m_run, l_run, alpha, a.scale_log2);
    PackProbabilities<T, BN>(s, p);
  }
  for (int j = j_begin + 1; j < n_tiles; ++j) {
    wait_and_prefetch(j);
    issue_s(j);
    issue_pv(j - 1);  // overlaps the softmax below
    WgmmaWait<1>();
    PinAccumulators(s);
    mask_tile(static_cast<int64_t>(j) * BN);
    SoftmaxTile<BN>(s, m_run, l_run, alpha, a.scale_log2);
    WgmmaWait<0>();  // O is final for tile j-1 before it is rescaled
    PinAccumulators(o);
    RescaleRows<D>(o, alpha);
    PackProbabilities<T, BN>(s, p);
  }
  if (n_tiles > j_begin) {  // the last tile's P V
    CpAsyncWait<0>();
    FenceProxyAsyncShared();
    __syncthreads();
    issue_pv(n_tiles - 1);
    WgmmaWait<0>();
    PinAccumulators(o);
  }

  float* out = a.out + b * a.os.batch + h * a.os.head;
  float* lse = a.lse + b * a.ls.batch + h * a.ls.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    WriteForwardRow<D>(a, out, lse, m0 + row_in_cta + 8 * r, o, r, m_run[r], l_run[r], tq);
  }
}

}  // namespace

Status LaunchForwardWgmma(const ForwardParams& p, void* stream) {
  return LaunchForwardKernel<Tiles>(p, stream, /*sm90_only=*/"LaunchForwardWgmma",
                                    [&p](auto t, auto d) {
                                      constexpr int kD = decltype(d)::value;
                                      return p.shape.mask.enabled ? &ForwardWgmmaKernel<decltype(t), kD, true>
                                                                  : &ForwardWgmmaKernel<decltype(t), kD, false>;
                                    });
}

}  // namespace ringlab::cuda
