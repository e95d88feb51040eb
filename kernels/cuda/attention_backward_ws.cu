// Backward attention on Hopper, warp-specialized on FlashAttention-3's recipe (compiled for sm_90a only).
//
// The grid runs over key tiles: a CTA of three warpgroups owns 128 keys of one kv head (K and V resident in shared
// memory) and walks every query head of its GQA group (or its share, where the launch splits the group over CTAs
// because its grid is short: tiles::BackwardGroupSplits, dK/dV then added with atomics) and every 64-row query tile
// that can see those keys.
//   - Warpgroup 0 is the producer, shrunk to 24 registers (setmaxnreg). Thread 0 loads K and V once and the Q and dO
//     tiles into kStages-deep rings with TMA, each load completing on its slot's "Q full" / "dO full" mbarrier; warp
//     1 copies the tile's lse (as base-2 lse2 = lse log2(e), +inf past the block's rows or where the row attends
//     nothing) and delta into the slot and arrives on "Q full". Both wait on the slot's "empty" mbarrier first.
//   - Warpgroups 1 and 2 are consumers with 240 registers; consumer w owns keys 64w .. 64w + 63 and keeps its dK and
//     dV rows in registers over the whole walk. Per query tile:
//       1. S^T = K_w Q^T is issued as soon as Q lands, dP^T = V_w dO^T once dO lands;
//       2. P^T = exp2(S^T scale log2(e) - lse2) is computed while dP^T is still on the tensor cores, then
//          dS^T = P^T (dP^T - delta); both become A fragments in registers and dS^T also goes to shared memory
//          (double-buffered, so one barrier per tile suffices);
//       3. dV_w += P^T dO and dK_w += dS^T Q (A from registers, dO and Q MN-major from the ring);
//       4. after a named barrier (D = 128: both consumers' dS^T; D = 64: this warpgroup's), dQ += scale dS K on
//          wgmma from shared memory: at D = 128 consumer w takes columns 64w .. 64w + 63 over all 128 keys, at D = 64
//          all columns over its own keys. The warpgroup frees the slot, then hands its float32 dQ tile on: into its
//          shared tile, which warp 2 of the producer adds into dQ by TMA reduce-add (LaunchBackwardWs), or with
//          red.global.add.v2.f32 from registers (LaunchBackwardWsAtomicDq, the kernel before).
//     The consumers meet only at that named barrier, so one's element-wise stage runs under the other's GEMMs.
// Rows past the block's tokens read as zeros (TMA bounds) and get lse2 = +inf, so P = 0 there without a mask; keys
// past the block end and the causal diagonal are masked in registers (MaskScores, the per-tile mask hook).
// Window/document masks (TokenMask, the kMasked instantiations): QueryTileWalk walks only the query tiles that can see
// the key block, and each lane zeroes its two keys' P^T entries outside the queries that see them (MaskTileByRange).
// dK and dV rows belong to exactly one CTA: written (or, with accumulate_dkv, added) at the end without atomics.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_backward_common.cuh"
#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"
#include "kernels/cuda/launch_common.h"
#include "kernels/cuda/tma_common.cuh"
#include "kernels/cuda/tma_descriptor.h"
#include "kernels/cuda/wgmma_common.cuh"
#include "kernels/cuda/wgmma_ops.cuh"

namespace ringlab::cuda {
namespace {

using namespace detail;

using Tiles = tiles::BackwardWs;
constexpr int kBM = Tiles::kBlockM;
template <int D>
constexpr int kBlockNOf = Tiles::BlockN<D>();  // keys per CTA: 128, 64 at D = 256
constexpr int kConsumerWarps = Tiles::kConsumerThreads / 32;  // arrivals that free a ring slot
constexpr int kStatsLanes = 32;                               // warp 1 of the producer: lse and delta
constexpr int kDqWarp = 2;                                    // warp 2 of the producer: dQ reduce-adds (kTmaDq)
// Named barriers (0 is __syncthreads): both consumers' dS^T (D = 128), consumer w's own (D = 64); with kTmaDq,
// consumer w's dQ tile written ("full") and read by TMA ("empty"), each between its 128 threads and the dQ warp.
constexpr int kDsBothBarrier = 1, kDsOwnBarrier0 = 2, kDqFullBarrier0 = 4, kDqEmptyBarrier0 = 6;
constexpr int kDqBarrierThreads = 128 + 32;

// Kernel parameters: the four tensor maps (read by TMA from the parameter space: __grid_constant__) and the arguments
// the backward kernels share.
struct BwdWsArgs {
  CUtensorMap q_map, do_map, k_map, v_map, dq_map;  // dq_map: float32, read only with kTmaDq
  BwdArgs a;
};

// Shared-memory plan for head dim D: 1024-aligned tiles (the 128-byte swizzle's period; with kTmaDq one float32 dQ
// tile of kBM x kDqCols per consumer, SW128 boxes of 32 columns), the row statistics, then the mbarriers.
template <int D, bool kTmaDq>
struct BwdWsSmem {
  static constexpr int kBN = kBlockNOf<D>;
  static constexpr int kStages = Tiles::Stages<D>();
  static constexpr uint32_t kKvBytes = kBN * D * 2, kQBytes = kBM * D * 2, kDstBytes = kBN * kBM * 2;
  static constexpr uint32_t kDqBytes = kTmaDq ? tiles::BackwardWsTmaDq::DqTileBytes<D>() : 0;
  static constexpr uint32_t kStatsBytes = 2 * kBM * 4;
  uint32_t k, v, q0, do0, dst0, dq0, stats0, bars;

  static __device__ BwdWsSmem At(uint32_t base) {
    BwdWsSmem s;
    s.k = (base + 1023u) & ~1023u;
    s.v = s.k + kKvBytes;
    s.q0 = s.v + kKvBytes;
    s.do0 = s.q0 + kStages * kQBytes;
    s.dst0 = s.do0 + kStages * kQBytes;
    s.dq0 = s.dst0 + 2 * kDstBytes;
    s.stats0 = s.dq0 + 2 * kDqBytes;
    s.bars = s.stats0 + kStages * kStatsBytes;
    return s;
  }
  __device__ uint32_t Q(int slot) const { return q0 + slot * kQBytes; }
  __device__ uint32_t Do(int slot) const { return do0 + slot * kQBytes; }
  __device__ uint32_t DsT(int buffer) const { return dst0 + buffer * kDstBytes; }
  __device__ uint32_t Dq(int consumer) const { return dq0 + consumer * kDqBytes; }
  __device__ uint32_t Lse2(int slot) const { return stats0 + slot * kStatsBytes; }  // then delta, kBM floats each
  __device__ uint32_t KvFull() const { return bars; }
  __device__ uint32_t QFull(int slot) const { return bars + 8 * (1 + slot); }
  __device__ uint32_t DoFull(int slot) const { return bars + 8 * (1 + kStages + slot); }
  __device__ uint32_t Empty(int slot) const { return bars + 8 * (1 + 2 * kStages + slot); }
};

// Position in a ring of kStages slots: the slot and the parity of the round it is in.
template <int kStages>
struct RingPosition {
  int slot = 0;
  uint32_t phase = 0;
  __device__ void Advance() {
    if (++slot == kStages) {
      slot = 0;
      phase ^= 1u;
    }
  }
};

// The query tiles a CTA walks, in the order every role visits them (QueryTileWalk: the GQA group's heads, and in
// each the tiles that can see the key block), as a cursor without divisions (the producer runs on 24 registers).
// A per-tile skip (document or window masks) belongs in QueryTileWalk and here, so that all roles agree.
// Token counts are below 2^31 (EncodeTileMap refuses more), so rows and tile counts fit in int.
struct TileCursor {
  int h, m0, m_first, m_end;
  __device__ explicit TileCursor(const QueryTileWalk<kBM>& w)
      : h(w.head0),
        m0(static_cast<int>(w.first_tile * kBM)),
        m_first(m0),
        m_end(static_cast<int>((w.first_tile + w.per_head) * kBM)) {}
  __device__ void Advance() {
    m0 += kBM;
    if (m0 >= m_end) {
      m0 = m_first;
      ++h;
    }
  }
};

// One SW128 tile of `rows` rows of head `head` from `map` = D / 64 boxes of 64 columns side by side.
template <int D>
__device__ __forceinline__ void LoadTile(const CUtensorMap* map, uint32_t dst, uint32_t bar, int rows, int64_t row0,
                                         int head, int b) {
#pragma unroll
  for (int cb = 0; cb < D / 64; ++cb) TmaLoad4d(dst + cb * rows * 128, map, bar, cb * 64, static_cast<int>(row0), head, b);
}

// The producer's TMA thread: K and V once, then per query tile Q and dO into the ring once the consumers freed it.
template <int D, typename Smem>
__device__ __forceinline__ void ProduceTiles(const BwdWsArgs& args, const Smem& sm, const KeyBlock& blk,
                                             const QueryTileWalk<kBM>& walk) {
  constexpr int kBN = kBlockNOf<D>;
  MbarrierArriveExpectTx(sm.KvFull(), 2 * Smem::kKvBytes);
  LoadTile<D>(&args.k_map, sm.k, sm.KvFull(), kBN, blk.n0, blk.hk, blk.b);
  LoadTile<D>(&args.v_map, sm.v, sm.KvFull(), kBN, blk.n0, blk.hk, blk.b);
  TileCursor tile(walk);
  RingPosition<Smem::kStages> ring;
  for (int it = 0; it < static_cast<int>(walk.total); ++it, tile.Advance(), ring.Advance()) {
    MbarrierWait(sm.Empty(ring.slot), ring.phase ^ 1u);
    MbarrierArriveExpectTx(sm.QFull(ring.slot), Smem::kQBytes);
    LoadTile<D>(&args.q_map, sm.Q(ring.slot), sm.QFull(ring.slot), kBM, tile.m0, tile.h, blk.b);
    MbarrierArriveExpectTx(sm.DoFull(ring.slot), Smem::kQBytes);
    LoadTile<D>(&args.do_map, sm.Do(ring.slot), sm.DoFull(ring.slot), kBM, tile.m0, tile.h, blk.b);
  }
}

__device__ __forceinline__ void StSharedF32(uint32_t addr, float v) {
  asm volatile("st.shared.f32 [%0], %1;\n" ::"r"(addr), "f"(v) : "memory");
}
__device__ __forceinline__ void StSharedF32x2(uint32_t addr, float x, float y) {
  asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(addr), "f"(x), "f"(y) : "memory");
}
__device__ __forceinline__ float2 LdSharedF32x2(uint32_t addr) {
  float2 v;
  asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(addr) : "memory");
  return v;
}

// The producer's statistics warp: per query tile, lse2 (base-2 lse; +inf for rows past the block or attending
// nothing, which makes their P zero) and delta (0 past the block) into the slot, then one arrival per lane on
// "Q full" (release: the stores are visible to whoever waits on the phase).
template <typename Smem>
__device__ __forceinline__ void ProduceRowStats(const BwdArgs& a, const Smem& sm, const KeyBlock& blk,
                                                const QueryTileWalk<kBM>& walk, int lane) {
  TileCursor tile(walk);
  RingPosition<Smem::kStages> ring;
  for (int it = 0; it < static_cast<int>(walk.total); ++it, tile.Advance(), ring.Advance()) {
    const float* lse = a.lse + blk.b * a.ls.batch + tile.h * a.ls.head;
    const float* delta = a.delta + blk.b * a.des.batch + tile.h * a.des.head;
    MbarrierWait(sm.Empty(ring.slot), ring.phase ^ 1u);
#pragma unroll
    for (int i = 0; i < kBM / kStatsLanes; ++i) {
      const int r = lane + i * kStatsLanes;
      const int row = tile.m0 + r;
      const bool ok = row < a.q_tokens;
      StSharedF32(sm.Lse2(ring.slot) + r * 4, ok ? RowLse2(lse[row]) : INFINITY);
      StSharedF32(sm.Lse2(ring.slot) + (kBM + r) * 4, ok ? delta[row] : 0.f);
    }
    MbarrierArrive(sm.QFull(ring.slot));
  }
}

// The dQ columns consumer cw accumulates, kDqCols<D> from DqCol0: D = 128 and 256 split the columns between the
// consumers (each over all the CTA's keys), D = 64 gives each all columns over its own 64 keys.
template <int D>
constexpr int kDqCols = tiles::BackwardWsTmaDq::DqCols<D>();
template <int D>
__device__ __forceinline__ int DqCol0(int cw) {
  return D == 64 ? 0 : kDqCols<D> * cw;
}

// The producer's dQ warp (kTmaDq): per query tile and consumer, once the consumer's float32 dQ tile is in shared
// memory ("full"), lane 0 adds it into dq by TMA reduce-add (two boxes of 32 columns; rows past the block are
// skipped by TMA), waits until TMA has read it and hands it back ("empty"). The adds of different CTAs and of both
// consumers at D = 64 meet in L2, as the atomics did.
template <int D, typename Smem>
__device__ __forceinline__ void ReduceDqTiles(const BwdWsArgs& args, const Smem& sm, const KeyBlock& blk,
                                              const QueryTileWalk<kBM>& walk, int lane) {
  if (lane == 0) TmaPrefetchDescriptor(&args.dq_map);
  NamedBarrierArrive(kDqEmptyBarrier0, kDqBarrierThreads);  // both tiles start free
  NamedBarrierArrive(kDqEmptyBarrier0 + 1, kDqBarrierThreads);
  TileCursor tile(walk);
  const int total = static_cast<int>(walk.total);
  for (int it = 0; it < total; ++it, tile.Advance()) {
#pragma unroll
    for (int cw = 0; cw < 2; ++cw) {
      NamedBarrierSync(kDqFullBarrier0 + cw, kDqBarrierThreads);
      if (lane == 0) {
#pragma unroll
        for (int box = 0; box < kDqCols<D> / 32; ++box)
          TmaReduceAdd4d(&args.dq_map, sm.Dq(cw) + box * (kBM * 128), DqCol0<D>(cw) + 32 * box, tile.m0, tile.h, blk.b);
        BulkCommitGroup();
        BulkWaitGroupRead<0>();
      }
      __syncwarp();
      if (it + 1 < total) NamedBarrierArrive(kDqEmptyBarrier0 + cw, kDqBarrierThreads);  // none waits after the last
    }
  }
  if (lane == 0) BulkWaitGroup<0>();
}

// Adds consumer cw's dQ tile (64 queries from m0 x kDqCols columns from DqCol0, in registers, not yet scaled) into dq.
// Atomics: red.global.add.v2.f32 per lane. kTmaDq: scaled into the consumer's shared float32 tile (SW128 boxes of 32
// columns: a warp's float2 stores hit every bank twice, no more) once the dQ warp freed it, then handed to the dQ warp.
template <int D, bool kTmaDq, typename Smem>
__device__ __forceinline__ void EmitDq(const BwdArgs& a, const Smem& sm, int cw, const float (&dq)[kDqCols<D> / 8][4],
                                       int b, int h, int m0, int tid) {
  const int lane = tid & 31, warp = tid >> 5, g = lane >> 2, tq = lane & 3;
  if constexpr (kTmaDq) {
    NamedBarrierSync(kDqEmptyBarrier0 + cw, kDqBarrierThreads);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = warp * 16 + g + 8 * r;  // row & 7 == g
#pragma unroll
      for (int i = 0; i < kDqCols<D> / 8; ++i) {
        const int chunk = 2 * (i & 3) + (tq >> 1);  // 16-byte chunk of the 32-column box i / 4
        StSharedF32x2(sm.Dq(cw) + (i >> 2) * (kBM * 128) + row * 128 + ((chunk ^ g) << 4) + (tq & 1) * 8,
                      dq[i][2 * r] * a.scale, dq[i][2 * r + 1] * a.scale);
      }
    }
    FenceProxyAsyncShared();  // this thread's stores, visible to the TMA read
    NamedBarrierArrive(kDqFullBarrier0 + cw, kDqBarrierThreads);
  } else {
    float* dqp = a.dq + b * a.dqs.batch + h * a.dqs.head;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = m0 + warp * 16 + g + 8 * r;
      if (row < a.q_tokens) {
#pragma unroll
        for (int i = 0; i < kDqCols<D> / 8; ++i)
          RedAddF32x2(dqp + row * D + DqCol0<D>(cw) + i * 8 + 2 * tq, dq[i][2 * r] * a.scale,
                      dq[i][2 * r + 1] * a.scale);
      }
    }
  }
}

// The per-tile mask hook: zeroes this lane's P^T entries (rows = keys key_row, key_row + 8 of the CTA, columns =
// the tile's queries) for keys past the block end and, causal, keys past a query's diagonal. A document or window
// mask adds its conditions here (and its fully masked tiles to QueryTileWalk / TileCursor).
template <int BM, int kBN>
__device__ __forceinline__ void MaskScores(float (&p)[BM / 8][4], const BwdArgs& a, int64_t n0, int64_t m0,
                                           int key_row, int tq) {
  const bool need_mask = (n0 + kBN > a.kv_tokens) || (a.causal && n0 + kBN - 1 > m0 + a.offset);
  if (!need_mask) return;
  const int kv_lim = ClampToInt(a.kv_tokens - n0, 0, kBN);
  const int diag = a.causal ? ClampToInt(m0 + a.offset - n0, -(1 << 20), 1 << 20) : (1 << 21);
#pragma unroll
  for (int ni = 0; ni < BM / 8; ++ni)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int c = ni * 8 + 2 * tq + (e & 1);
      const int r = key_row + ((e >> 1) << 3);
      if (r >= kv_lim || r > c + diag) p[ni][e] = 0.f;
    }
}

// The queries [begin[r], end[r]) (block-local) that see this lane's keys key_row + 8 r of the CTA under the
// TokenMask; keys past the block see none.
__device__ __forceinline__ void MaskedKeyRanges(const BwdArgs& a, const KeyBlock& blk, int key_row,
                                                int64_t (&begin)[2], int64_t (&end)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = blk.n0 + key_row + 8 * r;
    begin[r] = end[r] = 0;
    if (n < a.kv_tokens) MaskKeyQueries(a.tm, n, &begin[r], &end[r]);
  }
}

// The mma A fragment (rows = keys, k = queries 16j .. 16j + 15) of k16 step j from accumulator columns 16j .. 16j + 15.
template <typename T, int BM>
__device__ __forceinline__ void PackAFragment(const float (&x)[BM / 8][4], int j, uint32_t (&frag)[4]) {
  frag[0] = PackPair<T>(x[2 * j][0], x[2 * j][1]);
  frag[1] = PackPair<T>(x[2 * j][2], x[2 * j][3]);
  frag[2] = PackPair<T>(x[2 * j + 1][0], x[2 * j + 1][1]);
  frag[3] = PackPair<T>(x[2 * j + 1][2], x[2 * j + 1][3]);
}

// acc (64 x N) += A (64 x 16 from registers) * rows [16 kk, 16 kk + 16) of an MN-major SW128 tile of kBM rows,
// N columns from its 64-column block `tile` (N = 128 spans two blocks).
template <typename T, int N>
__device__ __forceinline__ void AccumulateFromRing(float (&acc)[N / 8][4], const uint32_t* frag, uint32_t tile,
                                                   int kk) {
  const uint64_t desc = MnMajorDescriptor<kBM>(tile, kk);
  if constexpr (N == 128) {
    WgmmaRS64x128<T, 1>(&acc[0][0], frag, desc, 1);
  } else {
    WgmmaRS64x64<T, 1>(&acc[0][0], frag, desc, 1);
  }
}

// A consumer warpgroup (cw = 0 or 1): its keys against every query tile of the walk, dK and dV in registers. D 64
// and 128: keys 64 cw .. 64 cw + 63 of the CTA's 128, all columns. D = 256: all 64 keys (S^T and dP^T computed by
// both consumers), dK/dV columns 128 cw .. 128 cw + 127; each consumer stores half of dS^T's queries.
template <typename T, int D, bool kTmaDq, bool kMasked>
__device__ __forceinline__ void ConsumeTiles(const BwdArgs& a, const BwdWsSmem<D, kTmaDq>& sm, const KeyBlock& blk,
                                             const QueryTileWalk<kBM>& walk, int cw) {
  using Smem = BwdWsSmem<D, kTmaDq>;
  constexpr int kBN = kBlockNOf<D>;
  constexpr bool kSplitCols = D == 256;
  constexpr int kCols = kSplitCols ? D / 2 : D;  // dK/dV columns of this consumer, from col0
  const int tid = threadIdx.x & 127, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int key0 = kSplitCols ? 0 : cw * 64;  // this consumer's first key in the CTA
  const int col0 = kSplitCols ? cw * kCols : 0;
  const int key_row = key0 + warp * 16 + g;  // this lane's first key in the CTA; the second is 8 further
  // dQ split: D = 128 and 256, columns DqCol0 .. over all keys (both consumers' dS^T: the barrier spans both); D = 64,
  // all columns over this consumer's keys (its own dS^T: a warpgroup barrier).
  constexpr int kQCols = kDqCols<D>;
  constexpr int kKeySteps = D == 64 ? kBN / 32 : kBN / 16;
  const int key_step0 = D == 64 ? cw * (kBN / 32) : 0;
  const int ds_barrier = D == 64 ? kDsOwnBarrier0 + cw : kDsBothBarrier;
  const int ds_threads = D == 64 ? 128 : Tiles::kConsumerThreads;

  float dk[kCols / 8][4], dv[kCols / 8][4];
#pragma unroll
  for (int i = 0; i < kCols / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;

  int64_t q_begin[2] = {0, 0}, q_end[2] = {0, 0};  // kMasked: the queries that see this lane's two keys
  if constexpr (kMasked) MaskedKeyRanges(a, blk, key_row, q_begin, q_end);

  if (walk.total > 0) MbarrierWait(sm.KvFull(), 0);
  TileCursor tile(walk);
  RingPosition<Smem::kStages> ring;
  for (int it = 0; it < static_cast<int>(walk.total); ++it, tile.Advance(), ring.Advance()) {
    const uint32_t s_q = sm.Q(ring.slot), s_do = sm.Do(ring.slot), s_dst = sm.DsT(static_cast<int>(it & 1));
    const uint32_t s_lse2 = sm.Lse2(ring.slot), s_delta = s_lse2 + kBM * 4;  // float [kBM] each

    // ---- 1. S^T = K_w Q^T once Q (and the row statistics) landed; dP^T = V_w dO^T once dO landed.
    float st[kBM / 8][4], dpt[kBM / 8][4];
    MbarrierWait(sm.QFull(ring.slot), ring.phase);
    PinAccumulators(st);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks)
      WgmmaSS64x64<T, 0, 0>(&st[0][0], KMajorDescriptor<kBN>(sm.k, key0, ks), KMajorDescriptor<kBM>(s_q, 0, ks),
                            ks > 0);
    WgmmaCommit();
    MbarrierWait(sm.DoFull(ring.slot), ring.phase);
    PinAccumulators(dpt);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks)
      WgmmaSS64x64<T, 0, 0>(&dpt[0][0], KMajorDescriptor<kBN>(sm.v, key0, ks), KMajorDescriptor<kBM>(s_do, 0, ks),
                            ks > 0);
    WgmmaCommit();

    // ---- 2. P^T while dP^T runs, then dS^T; both packed as A fragments, dS^T also to shared memory.
    WgmmaWait<1>();
    PinAccumulators(st);
#pragma unroll
    for (int ni = 0; ni < kBM / 8; ++ni) {
      const float2 lse2 = LdSharedF32x2(s_lse2 + (ni * 8 + 2 * tq) * 4);  // this lane's two query columns
#pragma unroll
      for (int e = 0; e < 4; ++e) st[ni][e] = exp2f(fmaf(st[ni][e], a.scale_log2, -(e & 1 ? lse2.y : lse2.x)));
    }
    if constexpr (kMasked) {
      MaskTileByRange<kBM>(st, tile.m0, q_begin, q_end, tq, 0.f);  // P^T: keys x queries, zero where unseen
    } else {
      MaskScores<kBM, kBN>(st, a, blk.n0, tile.m0, key_row, tq);
    }
    WgmmaWait<0>();
    PinAccumulators(dpt);
#pragma unroll
    for (int ni = 0; ni < kBM / 8; ++ni) {
      const float2 delta = LdSharedF32x2(s_delta + (ni * 8 + 2 * tq) * 4);
#pragma unroll
      for (int e = 0; e < 4; ++e) dpt[ni][e] = st[ni][e] * (dpt[ni][e] - (e & 1 ? delta.y : delta.x));
    }
    uint32_t pa[kBM / 16][4], sa[kBM / 16][4];
#pragma unroll
    for (int j = 0; j < kBM / 16; ++j) {
      PackAFragment<T, kBM>(st, j, pa[j]);
      PackAFragment<T, kBM>(dpt, j, sa[j]);
      if (kSplitCols && (j >> 1) != cw) continue;  // D = 256: the other consumer stores these (same) queries
      // Row = key, 16-byte chunk 2j holds queries 16j .. 16j + 7, chunk 2j + 1 the next eight.
      StShared32(s_dst + Sw128Chunk<kBN>(key_row, 2 * j) + tq * 4, sa[j][0]);
      StShared32(s_dst + Sw128Chunk<kBN>(key_row + 8, 2 * j) + tq * 4, sa[j][1]);
      StShared32(s_dst + Sw128Chunk<kBN>(key_row, 2 * j + 1) + tq * 4, sa[j][2]);
      StShared32(s_dst + Sw128Chunk<kBN>(key_row + 8, 2 * j + 1) + tq * 4, sa[j][3]);
    }

    // ---- 3. dV_w += P^T dO, dK_w += dS^T Q, left running through the barrier and dQ.
    PinAccumulators(dv);
    PinAccumulators(dk);
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < kBM / 16; ++kk) {
      AccumulateFromRing<T, kCols>(dv, pa[kk], s_do + (col0 / 64) * (kBM * 128), kk);
      AccumulateFromRing<T, kCols>(dk, sa[kk], s_q + (col0 / 64) * (kBM * 128), kk);
    }
    WgmmaCommit();
    FenceProxyAsyncShared();  // this thread's dS^T stores, visible to the dQ wgmma
    NamedBarrierSync(ds_barrier, ds_threads);

    // ---- 4. dQ += scale dS K: 64 queries x kQCols columns; then the slot is free.
    float dq[kQCols / 8][4];
    PinAccumulators(dq);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < kKeySteps; ++ks) {
      const uint64_t desc_ds = MnMajorDescriptor<kBN>(s_dst, key_step0 + ks);
      const uint64_t desc_k = MnMajorDescriptor<kBN>(sm.k + (DqCol0<D>(cw) / 64) * (kBN * 128), key_step0 + ks);
      if constexpr (kQCols == 128) {
        WgmmaSS64x128<T, 1, 1>(&dq[0][0], desc_ds, desc_k, ks > 0);
      } else {
        WgmmaSS64x64<T, 1, 1>(&dq[0][0], desc_ds, desc_k, ks > 0);
      }
    }
    WgmmaCommit();
    if constexpr (Smem::kStages == 1) {  // D = 256: one slot, so free it as soon as step 3 is done, under dQ
      WgmmaWait<1>();                    // step 3's dV/dK: Q and dO are no longer read
      PinAccumulators(dv);
      PinAccumulators(dk);
      MbarrierArrive(sm.Empty(ring.slot));
    }
    WgmmaWait<0>();  // dQ, and step 3's dV/dK: Q and dO are no longer read
    PinAccumulators(dq);
    PinAccumulators(dv);
    PinAccumulators(dk);
    // Every lane releases the slot itself: an arrival (release) orders only the arriving thread's own reads of the
    // slot's lse/delta before the producer's next writes (a __syncwarp + one lane's arrival left racecheck hazards).
    if constexpr (Smem::kStages > 1) MbarrierArrive(sm.Empty(ring.slot));
    EmitDq<D, kTmaDq>(a, sm, cw, dq, blk.b, tile.h, tile.m0, tid);
  }

  float* dkp = a.dk + blk.b * a.dks.batch + blk.hk * a.dks.head;
  float* dvp = a.dv + blk.b * a.dvs.batch + blk.hk * a.dvs.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = blk.n0 + key_row + 8 * r;
    if (n >= a.kv_tokens) continue;
#pragma unroll
    for (int i = 0; i < kCols / 8; ++i)
      StoreDkDvPair(a, dkp, dvp, n, col0 + i * 8 + 2 * tq, D, dk[i][2 * r], dk[i][2 * r + 1], dv[i][2 * r],
                    dv[i][2 * r + 1]);
  }
}

template <typename T, int D, bool kTmaDq, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 1) BackwardWsKernel(const __grid_constant__ BwdWsArgs args) {
  using Smem = BwdWsSmem<D, kTmaDq>;
  constexpr int kBN = kBlockNOf<D>;
  extern __shared__ __align__(1024) uint8_t smem[];
  const int wg = threadIdx.x >> 7;
  if (threadIdx.x == 0) {
    const Smem sm = Smem::At(SmemAddr(smem));
    MbarrierInit(sm.KvFull(), 1);
#pragma unroll
    for (int slot = 0; slot < Smem::kStages; ++slot) {
      MbarrierInit(sm.QFull(slot), 1 + kStatsLanes);  // TMA thread's expect_tx + the statistics warp's lanes
      MbarrierInit(sm.DoFull(slot), 1);
      MbarrierInit(sm.Empty(slot), kConsumerWarps * 32);  // one arrival per consumer thread
    }
    FenceBarrierInit();
  }
  __syncthreads();  // the only CTA-wide barrier: after it the roles meet only through mbarriers

  // Each role derives its key block, walk and shared-memory plan after its register re-split, so nothing stays live
  // across setmaxnreg (the producer's 24 registers would spill it).
  if (wg == 0) {
    SetMaxRegistersDecrease<Tiles::kProducerRegisters>();
    const KeyBlock blk = CtaKeyBlock<kBN>(args.a);
    const QueryTileWalk<kBM> walk(args.a, blk.hk, blk.split, blk.n0, kBN);
    if (walk.total == 0) return;  // nothing loaded: the consumers write (or keep) dK, dV and exit
    const Smem sm = Smem::At(SmemAddr(smem));
    if (threadIdx.x == 0) {
      TmaPrefetchDescriptor(&args.q_map);
      TmaPrefetchDescriptor(&args.do_map);
      TmaPrefetchDescriptor(&args.k_map);
      TmaPrefetchDescriptor(&args.v_map);
      ProduceTiles<D>(args, sm, blk, walk);
    } else if (threadIdx.x >= 32 && threadIdx.x < 32 + kStatsLanes) {
      ProduceRowStats(args.a, sm, blk, walk, threadIdx.x - 32);
    } else if (kTmaDq && (threadIdx.x >> 5) == kDqWarp) {
      ReduceDqTiles<D>(args, sm, blk, walk, threadIdx.x & 31);
    }
  } else {
    SetMaxRegistersIncrease<Tiles::kConsumerRegisters>();
    const KeyBlock blk = CtaKeyBlock<kBN>(args.a);
    const QueryTileWalk<kBM> walk(args.a, blk.hk, blk.split, blk.n0, kBN);
    ConsumeTiles<T, D, kTmaDq, kMasked>(args.a, Smem::At(SmemAddr(smem)), blk, walk, wg - 1);
  }
}

// The tensor map of a [batch][heads][tokens][D] operand read in tiles of `rows` tokens.
TileMapSpec MapSpec(const void* base, const BlockShape& s, int heads, int64_t tokens, const TensorStrides& strides,
                    int rows) {
  return TileMapSpec{base, s.batch, heads, tokens, s.head_dim, strides, rows, s.element};
}

// kTmaDq: dQ by TMA reduce-add through shared memory (falls back to the atomics where the float32 dQ map cannot be
// encoded; masked: Unavailable there, LaunchBackward then takes wgmma); otherwise red.global atomics from the
// consumers. kMasked (a TokenMask) is instantiated with kTmaDq only.
template <typename T, int D, bool kTmaDq, bool kMasked = false>
Status LaunchBwdWs(const BackwardParams& p, cudaStream_t stream) {
  constexpr int kBN = kBlockNOf<D>;
  const BlockShape& s = p.shape;
  BwdWsArgs args;
  args.a = MakeBwdArgs(p);
  const TileMapSpec k = MapSpec(p.k, s, s.kv_heads, s.kv_tokens, p.k_strides, kBN);
  RINGLAB_RETURN_IF_ERROR(EncodeTileMap(k, &args.k_map));
  RINGLAB_RETURN_IF_ERROR(EncodeTileMap(MapSpec(p.v, s, s.kv_heads, s.kv_tokens, p.v_strides, kBN), &args.v_map));
  if (s.q_tokens > 0) {
    RINGLAB_RETURN_IF_ERROR(EncodeTileMap(MapSpec(p.q, s, s.heads, s.q_tokens, p.q_strides, kBM), &args.q_map));
    RINGLAB_RETURN_IF_ERROR(EncodeTileMap(MapSpec(p.dout, s, s.heads, s.q_tokens, p.dout_strides, kBM), &args.do_map));
  } else {  // no query tile is ever loaded (q and dout may be null): any valid map will do
    args.q_map = args.do_map = args.k_map;
  }
  args.dq_map = args.k_map;  // read only by kTmaDq
  if constexpr (kTmaDq) {
    if (s.q_tokens > 0) {
      TileMapSpec dq = MapSpec(p.dq, s, s.heads, s.q_tokens, p.dq_strides, kBM);
      dq.float32 = true;
      const Status st = EncodeTileMap(dq, &args.dq_map);
      if constexpr (!kMasked) {
        if (st.IsUnavailable()) return LaunchBwdWs<T, D, false>(p, stream);
      }
      RINGLAB_RETURN_IF_ERROR(st);
    }
  }
  dim3 grid;  // last: with a split group it may zero dK/dV, which nothing may do before the launch is certain
  RINGLAB_RETURN_IF_ERROR(SplitGroupAcrossCtas(p, kBN, stream, &args.a, &grid));
  if constexpr (kTmaDq) {
    return LaunchTiled<tiles::BackwardWsTmaDq, T, D>(&BackwardWsKernel<T, D, true, kMasked>, grid, stream, args);
  }
  return LaunchTiled<Tiles, T, D>(&BackwardWsKernel<T, D, false, false>, grid, stream, args);
}

template <bool kTmaDq>
Status LaunchBackwardWsVariant(const BackwardParams& p, void* stream) {
  RINGLAB_RETURN_IF_ERROR(CheckBackwardParams(p, /*max_head_dim=*/256));
  const BlockShape& s = p.shape;
  // Window/document masks (TokenMask) in the TMA-reduce-add kernel only: the atomic-dQ variant leaves them to wgmma.
  if (s.mask.enabled && !kTmaDq)
    return Status::Unavailable("LaunchBackwardWsAtomicDq: window/document masks are LaunchBackwardWs's");
  if (s.kv_tokens == 0) return Status::Ok();
  if (!DeviceIsSm90())
    return Status::Unavailable("LaunchBackwardWs: needs a compute capability 9.0 GPU (H100/H200); use LaunchBackward");
  return DispatchElementAndHeadDim</*kMaxHeadDim=*/256>(s.element, s.head_dim, [&](auto t, auto d) {
    constexpr int kD = decltype(d)::value;
    const auto st = static_cast<cudaStream_t>(stream);
    if (s.mask.enabled) return LaunchBwdWs<decltype(t), kD, kTmaDq, kTmaDq>(p, st);
    return LaunchBwdWs<decltype(t), kD, kTmaDq>(p, st);
  });
}

}  // namespace

Status LaunchBackwardWs(const BackwardParams& p, void* stream) { return LaunchBackwardWsVariant<true>(p, stream); }

Status LaunchBackwardWsAtomicDq(const BackwardParams& p, void* stream) {
  return LaunchBackwardWsVariant<false>(p, stream);
}

}  // namespace ringlab::cuda
