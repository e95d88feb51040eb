// Backward attention of a query block against a key/value block (FlashAttention-2 algorithm, mma.sync m16n8k16).
//
// One CTA of 8 warps owns 128 keys of one kv head (16 per warp) and keeps K and V in shared memory. It walks every
// query head of its GQA group and every 64-row query tile that can see its keys, with Q, dO, lse and delta
// double-buffered by cp.async. Per tile, each warp computes its slice of S^T = K Q^T and dP^T = V dO^T, forms
// P^T = exp(S^T - lse) and dS^T = P^T (dP^T - delta), and accumulates dV += P^T dO and dK += dS^T Q in registers.
// dS^T goes through shared memory for dQ = dS K, which is added into float32 dQ with vector atomics. At the end the
// CTA writes (or adds) its dK and dV rows; each is owned by exactly one CTA, so no atomics are needed there.
#include <atomic>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_backward_common.cuh"
#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch_common.h"

namespace ringlab::cuda {
namespace {

using namespace detail;

// How dQ is reduced into global memory: 0 atomicAdd(float2), 1 red.v2.f32, 2 red.v4.f32 after a lane-pair shuffle.
#ifndef RINGLAB_BWD_DQ_RED
#define RINGLAB_BWD_DQ_RED 1
#endif

constexpr int kBwdBlockN = 128;  // keys per CTA
constexpr int kBwdBlockM = 64;   // query rows per iteration
constexpr int kBwdWarps = 8;
constexpr int kBwdThreads = kBwdWarps * 32;

template <int D>
constexpr int BwdSmemBytes() {
  return (2 * kBwdBlockN * D + 4 * kBwdBlockM * D + kBwdBlockN * kBwdBlockM) * 2 + 4 * kBwdBlockM * 4;
}

template <typename T, int D>
__global__ void __launch_bounds__(kBwdThreads, 1) BackwardKernel(const BwdArgs a) {
  constexpr int BN = kBwdBlockN, BM = kBwdBlockM;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t s_k = SmemAddr(smem);
  const uint32_t s_v = s_k + BN * D * 2;
  const uint32_t s_q0 = s_v + BN * D * 2;           // [2][BM][D]
  const uint32_t s_do0 = s_q0 + 2 * BM * D * 2;     // [2][BM][D]
  const uint32_t s_ds = s_do0 + 2 * BM * D * 2;     // [BN][BM]
  const uint32_t s_stats = s_ds + BN * BM * 2;      // lse[2][BM], delta[2][BM]
  const float* f_stats = reinterpret_cast<const float*>(smem + (s_stats - s_k));

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  // Head-major grid: the CTAs resident at once share one head's Q, dO and dQ in L2 (dQ atomics stay in L2).
  const int b = blockIdx.y / a.kv_heads, hk = blockIdx.y % a.kv_heads;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;  // causal: the heaviest key tiles come first

  const uint16_t* k = a.k + b * a.ks.batch + hk * a.ks.head + n0 * D;
  const uint16_t* v = a.v + b * a.vs.batch + hk * a.vs.head + n0 * D;
  LoadTileAsync<BN, D, kBwdThreads>(s_k, k, a.kv_tokens - n0, tid);
  LoadTileAsync<BN, D, kBwdThreads>(s_v, v, a.kv_tokens - n0, tid);

  const QueryTileWalk<BM> walk(a, hk, n0);
  const int64_t total = walk.total;

  // Issues the loads of iteration `it` into `stage`.
  auto issue = [&](int64_t it, int stage) {
    const int h = walk.Head(it);
    const int64_t m0 = walk.Row0(it);
    const uint16_t* q = a.q + b * a.qs.batch + h * a.qs.head + m0 * D;
    const uint16_t* dout = a.dout + b * a.dos.batch + h * a.dos.head + m0 * D;
    LoadTileAsync<BM, D, kBwdThreads>(s_q0 + stage * BM * D * 2, q, a.q_tokens - m0, tid);
    LoadTileAsync<BM, D, kBwdThreads>(s_do0 + stage * BM * D * 2, dout, a.q_tokens - m0, tid);
    LoadRowStatsAsync<BM>(a, b, h, m0, s_stats, stage, tid);
  };

  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;

  if (total > 0) issue(0, 0);
  CpAsyncCommit();

  for (int64_t it = 0; it < total; ++it) {
    const int stage = static_cast<int>(it & 1);
    CpAsyncWait<0>();
    __syncthreads();  // tile `it` has landed; every warp is past iteration it - 1 (its stage and dS^T are free)
    if (it + 1 < total) {
      issue(it + 1, stage ^ 1);
      CpAsyncCommit();
    }
    const int h = walk.Head(it);
    const int64_t m0 = walk.Row0(it);
    const uint32_t s_q = s_q0 + stage * BM * D * 2;
    const uint32_t s_do = s_do0 + stage * BM * D * 2;
    const float* s_lse = f_stats + stage * BM;
    const float* s_delta = f_stats + (2 + stage) * BM;

    // S^T = K Q^T and dP^T = V dO^T for this warp's 16 keys.
    float st[BM / 8][4], dpt[BM / 8][4];
#pragma unroll
    for (int i = 0; i < BM / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[i][e] = dpt[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t ka[4], va[4];
      const uint32_t a_off = SwizzledChunk<D>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4));
      LdMatrixX4(ka, s_k + a_off);
      LdMatrixX4(va, s_v + a_off);
#pragma unroll
      for (int nn = 0; nn < BM / 16; ++nn) {
        uint32_t qb[4], ob[4];
        const uint32_t b_off = SwizzledChunk<D>(nn * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1));
        LdMatrixX4(qb, s_q + b_off);
        LdMatrixX4(ob, s_do + b_off);
        Mma<T>(st[2 * nn], ka, qb[0], qb[1]);
        Mma<T>(st[2 * nn + 1], ka, qb[2], qb[3]);
        Mma<T>(dpt[2 * nn], va, ob[0], ob[1]);
        Mma<T>(dpt[2 * nn + 1], va, ob[2], ob[3]);
      }
    }

    // P^T = exp(S^T scale - lse) (masked to 0) and dS^T = P^T (dP^T - delta); both overwrite st / dpt.
    const bool need_mask =
        (n0 + BN > a.kv_tokens) || (m0 + BM > a.q_tokens) || (a.causal && n0 + BN - 1 > m0 + a.offset);
    // Tile-local masks: key r is out iff r >= kv_lim; query c iff c >= q_lim; (causal) pair iff r > c + diag.
    const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, BN);
    const int q_lim = ClampToInt(a.q_tokens - m0, 0, BM);
    const int diag = a.causal ? ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20)
                              : (1 << 21);
#pragma unroll
    for (int i = 0; i < BM / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = i * 8 + 2 * tq + (e & 1);
        const float lse = s_lse[c];
        const float lse2 = lse == -INFINITY ? INFINITY : lse * kLog2e;
        float p = exp2f(fmaf(st[i][e], a.scale_log2, -lse2));
        if (need_mask) {
          const int r = warp * 16 + g + ((e >> 1) << 3);
          if (r >= kv_lim || c >= q_lim || r > c + diag) p = 0.f;
        }
        st[i][e] = p;
        dpt[i][e] = p * (dpt[i][e] - s_delta[c]);
      }

    // dV += P^T dO and dK += dS^T Q (the scale is applied to dK at the end).
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t pa[4], sa[4];
      pa[0] = PackPair<T>(st[2 * kk][0], st[2 * kk][1]);
      pa[1] = PackPair<T>(st[2 * kk][2], st[2 * kk][3]);
      pa[2] = PackPair<T>(st[2 * kk + 1][0], st[2 * kk + 1][1]);
      pa[3] = PackPair<T>(st[2 * kk + 1][2], st[2 * kk + 1][3]);
      sa[0] = PackPair<T>(dpt[2 * kk][0], dpt[2 * kk][1]);
      sa[1] = PackPair<T>(dpt[2 * kk][2], dpt[2 * kk][3]);
      sa[2] = PackPair<T>(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]);
      sa[3] = PackPair<T>(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3]);
      // dS^T to shared memory for dQ: row = key, column = query; these are exactly the A fragments' words.
      {
        const int r0 = warp * 16 + g;
        const int c_lo = 2 * kk, c_hi = 2 * kk + 1;  // 16-byte chunks holding query columns 16kk.. and 16kk+8..
        auto st32 = [&](int row, int chunk, uint32_t val) {
          const uint32_t addr = s_ds + SwizzledChunk<BM>(row, chunk) + tq * 4;
          asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(val));
        };
        st32(r0, c_lo, sa[0]);
        st32(r0 + 8, c_lo, sa[1]);
        st32(r0, c_hi, sa[2]);
        st32(r0 + 8, c_hi, sa[3]);
      }
#pragma unroll
      for (int dn = 0; dn < D / 16; ++dn) {
        uint32_t ob[4], qb[4];
        const uint32_t off = SwizzledChunk<D>(kk * 16 + (lane & 15), dn * 2 + (lane >> 4));
        LdMatrixX4Trans(ob, s_do + off);
        LdMatrixX4Trans(qb, s_q + off);
        Mma<T>(dv[2 * dn], pa, ob[0], ob[1]);
        Mma<T>(dv[2 * dn + 1], pa, ob[2], ob[3]);
        Mma<T>(dk[2 * dn], sa, qb[0], qb[1]);
        Mma<T>(dk[2 * dn + 1], sa, qb[2], qb[3]);
      }
    }
    __syncthreads();  // dS^T complete

    // dQ[m0 + 16 qg .., d half dh] += scale * dS K.
    {
      const int qg = warp & 3, dh = warp >> 2;
      float acc[D / 16][4];
#pragma unroll
      for (int i = 0; i < D / 16; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t da[4];
        const int mi = lane >> 3;
        LdMatrixX4Trans(da, s_ds + SwizzledChunk<BM>(kk * 16 + (lane & 7) + ((mi >> 1) << 3), qg * 2 + (mi & 1)));
#pragma unroll
        for (int dn = 0; dn < D / 32; ++dn) {
          uint32_t kb[4];
          LdMatrixX4Trans(kb, s_k + SwizzledChunk<D>(kk * 16 + (lane & 15), dh * (D / 16) + dn * 2 + (lane >> 4)));
          Mma<T>(acc[2 * dn], da, kb[0], kb[1]);
          Mma<T>(acc[2 * dn + 1], da, kb[2], kb[3]);
        }
      }
      float* dq = a.dq + b * a.dqs.batch + h * a.dqs.head;
#if RINGLAB_BWD_DQ_RED == 2
      // Pair lanes (tq, tq ^ 1) so that each issues one 16-byte reduction per n8 tile: the even lane takes row g,
      // columns 4 (tq / 2) .. +3, the odd lane row g + 8.
      const bool odd = tq & 1;
      const int64_t m = m0 + qg * 16 + g + (odd ? 8 : 0);
#pragma unroll
      for (int i = 0; i < D / 16; ++i) {
        // even lane gives away its row g+8 pair, odd lane its row g pair
        const float give0 = odd ? acc[i][0] : acc[i][2], give1 = odd ? acc[i][1] : acc[i][3];
        const float got0 = __shfl_xor_sync(0xffffffffu, give0, 1), got1 = __shfl_xor_sync(0xffffffffu, give1, 1);
        float4 val;
        if (!odd) val = make_float4(acc[i][0], acc[i][1], got0, got1);
        else val = make_float4(got0, got1, acc[i][2], acc[i][3]);
        if (m < a.q_tokens) {
          float* p = dq + m * D + dh * (D / 2) + i * 8 + 4 * (tq >> 1);
          asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(val.x * a.scale),
                       "f"(val.y * a.scale), "f"(val.z * a.scale), "f"(val.w * a.scale)
                       : "memory");
        }
      }
#else
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int64_t m = m0 + qg * 16 + g + 8 * r;
        if (m < a.q_tokens) {
#pragma unroll
          for (int i = 0; i < D / 16; ++i) {
            float* p = dq + m * D + dh * (D / 2) + i * 8 + 2 * tq;
#if RINGLAB_BWD_DQ_RED == 1
            asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(acc[i][2 * r] * a.scale),
                         "f"(acc[i][2 * r + 1] * a.scale)
                         : "memory");
#else
            atomicAdd(reinterpret_cast<float2*>(p), make_float2(acc[i][2 * r] * a.scale, acc[i][2 * r + 1] * a.scale));
#endif
          }
        }
      }
#endif
    }
    // No barrier here: this stage's Q, dO, lse and delta were last read before the barrier above, and dS^T is
    // rewritten only after the next iteration's first barrier.
  }
  CpAsyncWait<0>();

  float* dkp = a.dk + b * a.dks.batch + hk * a.dks.head;
  float* dvp = a.dv + b * a.dvs.batch + hk * a.dvs.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = n0 + warp * 16 + g + 8 * r;
    if (n >= a.kv_tokens) continue;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      StoreDkDvPair(a, dkp, dvp, n, i * 8 + 2 * tq, D, dk[i][2 * r], dk[i][2 * r + 1], dv[i][2 * r], dv[i][2 * r + 1]);
    }
  }
}

template <typename T, int D>
const char* LaunchTyped(const BackwardParams& p, cudaStream_t stream) {
  static std::atomic<uint64_t> configured_devices{0};
  constexpr int smem = BwdSmemBytes<D>();
  if (const char* err = RaiseSharedMemoryLimit(BackwardKernel<T, D>, smem, configured_devices); *err) return err;
  const BlockShape& s = p.shape;
  const BwdArgs a = MakeBwdArgs(p);
  const dim3 grid(static_cast<unsigned>((s.kv_tokens + kBwdBlockN - 1) / kBwdBlockN),
                  static_cast<unsigned>(s.batch * s.kv_heads));
  BackwardKernel<T, D><<<grid, kBwdThreads, smem, stream>>>(a);
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return "";
}

}  // namespace

const char* CheckBackwardParams(const BackwardParams& p) {
  if (const char* err = CheckBlockShape(p.shape); *err) return err;
  const BlockShape& s = p.shape;
  if (s.kv_tokens == 0) return "";
  if (!p.k || !p.v || !p.dk || !p.dv) return "BackwardParams: k, v, dk and dv must be set";
  if (s.q_tokens > 0 && (!p.q || !p.dout || !p.lse || !p.delta || !p.dq))
    return "BackwardParams: q, dout, lse, delta and dq must be set";
  if (!Aligned(p.q, 16) || !Aligned(p.k, 16) || !Aligned(p.v, 16) || !Aligned(p.dout, 16))
    return "BackwardParams: q, k, v and dout must be 16-byte aligned";
  if (!Aligned(p.dq, 16) || !Aligned(p.dk, 8) || !Aligned(p.dv, 8))
    return "BackwardParams: dq must be 16-byte and dk, dv 8-byte aligned";
  if (p.dq_strides.batch % 4 || p.dq_strides.head % 4) return "BackwardParams: dq strides must be multiples of 4";
  for (const TensorStrides* t : {&p.q_strides, &p.k_strides, &p.v_strides, &p.dout_strides})
    if (t->batch % 8 || t->head % 8) return "BackwardParams: q/k/v/dout batch and head strides must be multiples of 8";
  for (const TensorStrides* t : {&p.dq_strides, &p.dk_strides, &p.dv_strides})
    if (t->batch % 2 || t->head % 2) return "BackwardParams: dq/dk/dv batch and head strides must be even";
  if (int64_t{s.batch} * s.kv_heads > 65535) return "BlockShape: batch * kv_heads must be at most 65535";
  return "";
}

const char* LaunchBackwardV4(const BackwardParams& p, void* stream) {
  if (const char* err = CheckBackwardParams(p); *err) return err;
  const BlockShape& s = p.shape;
  if (s.kv_tokens == 0) return "";
  auto st = static_cast<cudaStream_t>(stream);
  return DispatchElementAndHeadDim(s.element, s.head_dim, [&](auto t, auto d) {
    return LaunchTyped<decltype(t), decltype(d)::value>(p, st);
  });
}

}  // namespace ringlab::cuda
