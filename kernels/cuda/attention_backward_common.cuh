// What the backward kernels (mma.sync in attention_backward_mma.cu, wgmma in attention_backward_wgmma.cu) share: the
// device-side argument block and its construction from BackwardParams, the prologue (which key block a CTA owns, K and
// V loaded once) and the double-buffered walk over the query tiles that see those keys, the dK/dV epilogue, and the
// launcher's checks and dispatch. Only included by .cu files.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include <string>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"
#include "kernels/cuda/launch_common.h"

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
  int group_splits;  // CTAs per key block (grid z), each walking heads_per_cta query heads (BackwardGroupSplits)
  int heads_per_cta;  // group / group_splits
  int64_t q_tokens, kv_tokens, offset;
  float scale, scale_log2;
  bool causal, accumulate_dkv;
  TokenMask tm;  // kernels instantiated with kMasked read it (attention_kernels.h)
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
  a.group_splits = 1;  // SplitGroupAcrossCtas raises it
  a.heads_per_cta = a.group;
  a.q_tokens = s.q_tokens;
  a.kv_tokens = s.kv_tokens;
  a.offset = s.diagonal_offset;
  a.scale = s.scale > 0.f ? s.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
  a.scale_log2 = a.scale * kLog2e;
  a.causal = s.causal;
  a.accumulate_dkv = p.accumulate_dkv;
  a.tm = s.mask;
  return a;
}

// The query tiles a backward CTA with keys [n0, n0 + BN) of kv head hk walks: its share `split` of the GQA group's
// query heads (all of them unless the launch split the group: BackwardGroupSplits), and in each every BM-row tile
// that can see those keys (causal: from the first row whose diagonal reaches n0; a TokenMask: the rows that see any
// of those keys, MaskKeyBlockQueries).
// Iteration `it` is tile Row0(it) of head Head(it).
template <int BM>
struct QueryTileWalk {
  int64_t first_tile = 0, per_head = 0, total = 0;
  int head0 = 0;
  __device__ QueryTileWalk(const BwdArgs& a, int hk, int split, int64_t n0, int64_t n_keys) {
    int64_t m_begin = 0, m_end = a.q_tokens;
    if (a.tm.enabled) {
      MaskKeyBlockQueries(a.tm, a.q_tokens, a.kv_tokens, n0, n_keys, &m_begin, &m_end);
    } else if (a.causal) {
      m_begin = max(int64_t{0}, n0 - a.offset);
    }
    first_tile = m_begin / BM;
    const int64_t end_tile = (m_end + BM - 1) / BM;
    per_head = m_begin < m_end ? end_tile - first_tile : 0;
    total = per_head * a.heads_per_cta;
    head0 = hk * a.group + split * a.heads_per_cta;
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
// and dv_pair are the accumulators (dK not yet scaled). dK/dV rows belong to one CTA, or with the group split over
// several (group_splits > 1) to that many: then each adds its share with atomics into rows zeroed before the launch
// unless accumulate_dkv.
__device__ __forceinline__ void StoreDkDvPair(const BwdArgs& a, float* dk_head, float* dv_head, int64_t n, int col,
                                              int head_dim, float dk0, float dk1, float dv0, float dv1) {
  float2* pk = reinterpret_cast<float2*>(dk_head + n * head_dim + col);
  float2* pv = reinterpret_cast<float2*>(dv_head + n * head_dim + col);
  float2 nk = make_float2(dk0 * a.scale, dk1 * a.scale);
  float2 nv = make_float2(dv0, dv1);
  if (a.group_splits > 1) {
    // One vector reduction per pair (float2 atomicAdd: compute capability 9.0, which both kernel libraries target;
    // the builtin rather than RedAddF32x2's asm, whose memory clobber reschedules the kernels).
    atomicAdd(pk, nk);
    atomicAdd(pv, nv);
    return;
  }
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

// The key block a CTA owns: batch b, kv head hk, keys [n0, n0 + BN). Head-major grid: the CTAs resident at once
// share one head's Q, dO and dQ in L2 (dQ atomics stay in L2); causal: the heaviest key tiles come first.
struct KeyBlock {
  int b, hk, split;  // split: which share of the GQA group's query heads (0 .. group_splits - 1)
  int64_t n0, n_keys;  // keys [n0, n0 + n_keys)
};

template <int BN>
__device__ __forceinline__ KeyBlock CtaKeyBlock(const BwdArgs& a) {
  KeyBlock blk;
  blk.b = blockIdx.y / a.kv_heads;
  blk.hk = blockIdx.y % a.kv_heads;
  blk.split = blockIdx.z;
  blk.n0 = static_cast<int64_t>(blockIdx.x) * BN;
  blk.n_keys = BN;
  return blk;
}

// Starts the loads of the key block's K and V tiles (BN x D each, Layout's tile layout) into s_k and s_v.
template <int BN, int D, int kThreads, typename Layout>
__device__ __forceinline__ void LoadKeyBlockAsync(const BwdArgs& a, const KeyBlock& blk, uint32_t s_k, uint32_t s_v,
                                                  int tid) {
  const uint16_t* k = a.k + blk.b * a.ks.batch + blk.hk * a.ks.head + blk.n0 * D;
  const uint16_t* v = a.v + blk.b * a.vs.batch + blk.hk * a.vs.head + blk.n0 * D;
  Layout::template Load<BN, D, kThreads>(s_k, k, a.kv_tokens - blk.n0, tid);
  Layout::template Load<BN, D, kThreads>(s_v, v, a.kv_tokens - blk.n0, tid);
}

// One query tile of the walk, ready in shared memory: head h, rows [m0, m0 + BM), its Q and dO tiles and its rows'
// lse and delta.
struct QueryTile {
  int h;
  int64_t m0;
  uint32_t s_q, s_do;
  const float* s_lse;
  const float* s_delta;
};

// The query tiles of a key block (QueryTileWalk) with Q, dO ([2][BM][D] at s_q0 and s_do0, Layout's tile layout) and
// lse, delta (s_stats: lse[2][BM], delta[2][BM] float; f_stats is the same bytes as a generic pointer)
// double-buffered by cp.async: Start() issues tile 0, Begin(it) waits for tile `it` and issues tile it + 1.
template <int BM, int D, int kThreads, typename Layout>
struct QueryTilePipeline {
  const BwdArgs& a;
  const int b, tid;
  const uint32_t s_q0, s_do0, s_stats;
  const float* const f_stats;
  const QueryTileWalk<BM> walk;

  __device__ __forceinline__ QueryTilePipeline(const BwdArgs& args, const KeyBlock& blk, uint32_t q0, uint32_t do0,
                                               uint32_t stats, const float* stats_f, int thread)
      : a(args), b(blk.b), tid(thread), s_q0(q0), s_do0(do0), s_stats(stats), f_stats(stats_f),
        walk(args, blk.hk, blk.split, blk.n0, blk.n_keys) {}

  // Issues the loads of iteration `it` into `stage`.
  __device__ __forceinline__ void Issue(int64_t it, int stage) const {
    const int h = walk.Head(it);
    const int64_t m0 = walk.Row0(it);
    const uint16_t* q = a.q + b * a.qs.batch + h * a.qs.head + m0 * D;
    const uint16_t* dout = a.dout + b * a.dos.batch + h * a.dos.head + m0 * D;
    Layout::template Load<BM, D, kThreads>(s_q0 + stage * BM * D * 2, q, a.q_tokens - m0, tid);
    Layout::template Load<BM, D, kThreads>(s_do0 + stage * BM * D * 2, dout, a.q_tokens - m0, tid);
    LoadRowStatsAsync<BM>(a, b, h, m0, s_stats, stage, tid);
  }

  __device__ __forceinline__ void Start() const {
    if (walk.total > 0) Issue(0, 0);
    CpAsyncCommit();
  }

  // Waits for tile `it`, then issues tile it + 1 into the other stage. The barrier also means every thread is past
  // iteration it - 1: the other stage, and whatever the kernel staged in shared memory during it, are free.
  __device__ __forceinline__ QueryTile Begin(int64_t it) const {
    const int stage = static_cast<int>(it & 1);
    CpAsyncWait<0>();
    Layout::AfterCpAsyncWait();
    __syncthreads();
    if (it + 1 < walk.total) {
      Issue(it + 1, stage ^ 1);
      CpAsyncCommit();
    }
    QueryTile t;
    t.h = walk.Head(it);
    t.m0 = walk.Row0(it);
    t.s_q = s_q0 + stage * BM * D * 2;
    t.s_do = s_do0 + stage * BM * D * 2;
    t.s_lse = f_stats + stage * BM;
    t.s_delta = f_stats + (2 + stage) * BM;
    return t;
  }
};

// A row's lse in base 2, for p = exp2(s * scale_log2 - lse2); a row that attends nothing (lse = -inf) gets p = 0.
__device__ __forceinline__ float RowLse2(float lse) { return lse == -INFINITY ? INFINITY : lse * kLog2e; }

// RINGLAB_BWD_GROUP_SPLITS=N (N >= 1): at most N CTAs per key block share a GQA group (1: never split, the launch
// before the split existed), read once; unset or not a positive integer: no cap.
inline int GroupSplitCap() {
  static const int cap = [] {
    const char* e = std::getenv("RINGLAB_BWD_GROUP_SPLITS");
    char* end = nullptr;
    const long v = e != nullptr ? std::strtol(e, &end, 10) : 0;
    return e != nullptr && end != e && *end == '\0' && v >= 1 ? static_cast<int>(std::min(v, 1L << 30)) : 1 << 30;
  }();
  return cap;
}

// Zeroes a float32 [batch][kv_heads][kv_tokens][head_dim] operand (contiguous rows of one head; batch and head
// strides in elements), one 2-D memset per batch entry.
inline Status ZeroKvRows(float* base, const TensorStrides& st, const BlockShape& s, cudaStream_t stream) {
  const size_t width = static_cast<size_t>(s.kv_tokens) * s.head_dim * sizeof(float);
  const size_t pitch = std::max(width, static_cast<size_t>(st.head) * sizeof(float));
  for (int b = 0; b < s.batch; ++b)
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemset2DAsync(base + b * st.batch, pitch, 0, width, s.kv_heads, stream));
  return Status::Ok();
}

// The grid of a backward launch: key blocks of `block_n` keys (x), batch x kv head (y), the GQA group's split (z)
// over BackwardGroupSplits CTAs on this GPU's SMs (sets a->group_splits); with a split and !accumulate_dkv the dK/dV
// rows are zeroed first, since the CTAs then add into them.
inline Status SplitGroupAcrossCtas(const BackwardParams& p, int block_n, cudaStream_t stream, BwdArgs* a, dim3* grid) {
  const BlockShape& s = p.shape;
  const int64_t key_blocks = (s.kv_tokens + block_n - 1) / block_n;
  int device = 0, sms = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const bool unequal = s.causal || s.mask.enabled;  // key blocks see different numbers of queries
  a->group_splits =
      tiles::BackwardGroupSplits(key_blocks * s.batch * s.kv_heads, a->group, sms, unequal, GroupSplitCap());
  a->heads_per_cta = a->group / a->group_splits;
  *grid = TileGrid(s.kv_tokens, block_n, s.batch * s.kv_heads);
  grid->z = static_cast<unsigned>(a->group_splits);
  if (a->group_splits > 1 && !p.accumulate_dkv) {
    RINGLAB_RETURN_IF_ERROR(ZeroKvRows(p.dk, p.dk_strides, s, stream));
    RINGLAB_RETURN_IF_ERROR(ZeroKvRows(p.dv, p.dv_strides, s, stream));
  }
  return Status::Ok();
}

// The backward launchers' common path: check the parameters, nothing to launch for an empty key block, refuse a
// kernel built for compute capability 9.0 alone elsewhere (sm90_only: the launcher's name, else null), then launch
// kernel_for(T{}, integral_constant<D>{}) over the key tiles of Tiles::kBlockN.
template <typename Tiles, typename KernelFor>
Status LaunchBackwardKernel(const BackwardParams& p, void* stream, const char* sm90_only, KernelFor kernel_for) {
  RINGLAB_RETURN_IF_ERROR(CheckBackwardParams(p));
  const BlockShape& s = p.shape;
  if (s.kv_tokens == 0) return Status::Ok();
  if (sm90_only != nullptr && !DeviceIsSm90())
    return Status::Unavailable(std::string(sm90_only) +
                               ": needs a compute capability 9.0 GPU (H100/H200); use LaunchBackward");
  const auto st = static_cast<cudaStream_t>(stream);
  BwdArgs args = MakeBwdArgs(p);
  dim3 grid;
  RINGLAB_RETURN_IF_ERROR(SplitGroupAcrossCtas(p, Tiles::kBlockN, st, &args, &grid));
  return DispatchElementAndHeadDim(s.element, s.head_dim, [&](auto t, auto d) {
    return LaunchTiled<Tiles, decltype(t), decltype(d)::value>(kernel_for(t, d), grid, st, args);
  });
}

}  // namespace ringlab::cuda::detail
