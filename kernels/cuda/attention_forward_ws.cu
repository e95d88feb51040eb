// Forward attention on Hopper, warp-specialized on FlashAttention-3's recipe (compiled for sm_90a only).
//
// A CTA of three warpgroups owns 128 query rows:
//   - warpgroup 0 is the producer: after shrinking its registers to 24 (setmaxnreg) one thread loads Q once and the
//     K and V tiles into kStages-deep rings with TMA, each load completing on the slot's "full" mbarrier, and waits
//     on the slot's "empty" mbarrier before reusing it;
//   - warpgroups 1 and 2 are consumers of 64 rows each with 240 registers: S = Q K^T from shared memory, online
//     softmax in registers, O += P V with P from registers and V from shared memory (MN-major).
// Two overlaps hide the softmax behind the tensor cores:
//   - inside a warpgroup, P_{j-1} V_{j-1} is issued right after S_j = Q K_j^T, so the softmax of S_j runs while the
//     P V product is still on the tensor cores (as in attention_forward_wgmma.cu);
//   - between the warpgroups (ping-pong), two named barriers pass a token: a warpgroup issues its GEMMs only with
//     the token and hands it over right after, so one warpgroup's softmax runs under the other one's GEMMs.
// Causal CTAs stop at the last key tile their last row can see; partial tiles (the diagonal, the block's tail) are
// masked in registers. Window/document masks (TokenMask, the kMasked instantiations) walk only the key tiles between
// the first row's first key and the last row's last one (CtaKeyTiles): the producer never loads the others, and
// partial tiles are masked in registers per row (MaskTileByRange). TMA reads rows past the block's token count as
// zeros, which makes arbitrary q/kv lengths and blocks that are token ranges of larger buffers free. GQA: query head h
// reads kv head h / group through the K/V tensor maps, nothing is repeated. The epilogue (overwrite, or log-sum-exp
// merge into the float32 (out, lse) accumulators) is the other forward kernels' (attention_forward_common.cuh).
// Masked kernels are persistent (MaskedPersistentCtas): one CTA per SM walks query tiles (the dense launch order),
// with the K/V rings running on across tiles and Q reloaded once the consumers' last Q K^T of a tile is done, so the
// next tile's loads overlap this tile's last P V and epilogue. A short document or window gives a CTA only a few key
// tiles, and a CTA's fixed cost (first loads, pipeline fill, epilogue) was most of its time; dense CTAs walk enough
// tiles to hide it, so they keep one tile per CTA (the profiles were fitted on that). A persistent CTA takes its first
// tile by blockIdx.x and each next one from a launch-wide counter (atomicAdd) when its producer has issued the
// current tile's loads: a fixed stride (tiles blockIdx.x + k·gridDim.x) handed one SM the heavy tiles of a long
// document and another the light ones of short documents whenever the stride lined up with a head's tiles (B1 H16
// S16384 D256, one long document and short ones: 0.52 of dense), the counter hands a tile to whichever CTA frees
// first, as the block scheduler does for one tile per CTA. The producer warp hands each tile index to the consumers
// through shared-memory slots used in turn, each between two named barriers (TileIndexFull / TileIndexEmpty, as
// FlashAttention-3's dynamic scheduler does with one): the writer's arrival orders its store before the readers'
// loads, and theirs their loads before the slot's next store. Two slots (D <= 128) let the producer take tile i + 1
// while the consumers still work on tile i - 1 (with one it waited for them to read tile i's index), though no gain
// was measurable (bench/kernels/NOTES.md). compute-sanitizer's racecheck reports the slots (store vs load): it
// does not credit a barrier's arrive-only side, and reports the same for a minimal arrive/sync hand-over whose values
// all read correctly (bench/kernels/racecheck_probe, bench/results/mask_kernels_h100.md).
#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_forward_common.cuh"
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

using Tiles = tiles::ForwardWs;
constexpr int kConsumerWarps = Tiles::kConsumerThreads / 32;  // arrivals that free a K or V slot

// Kernel parameters: the three tensor maps (read by TMA from the parameter space: __grid_constant__) and the
// arguments the epilogue shares with the other forward kernels.
struct WsArgs {
  CUtensorMap q_map, k_map, v_map;
  FwdArgs a;
  int bh_rows;      // batch x heads: the query tiles are m_tiles x bh_rows
  bool persistent;  // CTAs take query tiles from tile_counter (masked kernels) instead of one tile each
  unsigned long long* tile_counter;  // persistent: zeroed before the launch, in stream order
};

// Shared-memory plan for head dim D: 1024-aligned tiles (the 128-byte swizzle's period), then the mbarriers.
template <int D>
struct WsSmem {
  static constexpr int BM = Tiles::kBlockM, BN = Tiles::BlockN<D>(), kStages = Tiles::Stages<D>();
  static constexpr uint32_t kQBytes = BM * D * 2, kKvBytes = BN * D * 2;
  uint32_t q, k0, v0, bars;

  static __device__ WsSmem At(uint32_t base) {
    WsSmem s;
    s.q = (base + 1023u) & ~1023u;
    s.k0 = s.q + kQBytes;
    s.v0 = s.k0 + kStages * kKvBytes;
    s.bars = s.v0 + kStages * kKvBytes;
    return s;
  }
  __device__ uint32_t K(int slot) const { return k0 + slot * kKvBytes; }
  __device__ uint32_t V(int slot) const { return v0 + slot * kKvBytes; }
  __device__ uint32_t QFull() const { return bars; }
  __device__ uint32_t QEmpty() const { return bars + 8; }  // the consumers' last Q K^T of a tile is done
  __device__ uint32_t KFull(int slot) const { return bars + 8 * (2 + slot); }
  __device__ uint32_t VFull(int slot) const { return bars + 8 * (2 + kStages + slot); }
  __device__ uint32_t KEmpty(int slot) const { return bars + 8 * (2 + 2 * kStages + slot); }
  __device__ uint32_t VEmpty(int slot) const { return bars + 8 * (2 + 3 * kStages + slot); }
  // Persistent kernels: the slots (up to two, used in turn: TileIndexSlots) through which the producer hands the
  // consumers their next query tile index.
  __device__ uint32_t TileIndex(int slot) const { return bars + 8 * (2 + 4 * kStages + slot); }
  // Ring position of key tile j (counted over all of the CTA's query tiles): its slot and the parity of its round.
  static __device__ int Slot(int j) { return j % kStages; }
  static __device__ uint32_t Round(int j) { return static_cast<uint32_t>(j / kStages) & 1u; }
};

// What a CTA works on: batch b, query head h (kv head hk), query rows [m0, m0 + BM), key tiles
// [n_first, n_first + n_tiles) (n_first = 0 unless masked).
struct CtaTile {
  int b, h, hk;
  int64_t m0;
  int n_first, n_tiles;
};

// The key tiles a CTA of query rows [m0, row_last] walks: up to the causal diagonal, or (kMasked) those holding the
// union of its rows' TokenMask intervals (ForwardKeyRange); both consumer warpgroups walk all of them.
template <int BN, bool kMasked>
__device__ __forceinline__ void CtaKeyTiles(const FwdArgs& a, int64_t m0, int64_t row_last, CtaTile* t) {
  if constexpr (kMasked) {
    int64_t n_start, n_end;
    ForwardKeyRange<true>(a, m0, row_last, &n_start, &n_end);
    t->n_first = static_cast<int>(n_start / BN);
    t->n_tiles = n_end > n_start ? static_cast<int>((n_end + BN - 1) / BN) - t->n_first : 0;
  } else {
    const int64_t n_end = a.causal ? min(a.kv_tokens, row_last + a.offset + 1) : a.kv_tokens;
    t->n_first = 0;
    t->n_tiles = n_end > 0 ? static_cast<int>((n_end + BN - 1) / BN) : 0;
  }
}

// Query tile `index` of the launch (0 .. m_tiles x batch x heads): head-major, heaviest (causal) tiles of a head first
// (see attention_forward_mma.cu).
template <int D, bool kMasked>
__device__ __forceinline__ CtaTile LocateTile(const FwdArgs& a, int64_t index, int64_t m_tiles) {
  constexpr int BM = Tiles::kBlockM, BN = Tiles::BlockN<D>();
  CtaTile t;
  const int64_t bh = index / m_tiles;
  t.b = static_cast<int>(bh / a.heads);
  t.h = static_cast<int>(bh % a.heads);
  t.hk = t.h / a.group;
  t.m0 = (m_tiles - 1 - index % m_tiles) * BM;
  const int64_t row_last = min(t.m0 + BM, a.q_tokens) - 1;
  CtaKeyTiles<BN, kMasked>(a, t.m0, row_last, &t);
  return t;
}

// The producer thread for one query tile: Q once the consumers are done with the previous tile's (the qi-th Q of the
// CTA), then K_0, and per key tile j >= 1 K_j before V_{j-1} (the order the consumers use them in), each into its ring
// slot once the consumers have freed it. j counts the query tile's key tiles from n_first; ring position it0 + j.
template <int D>
__device__ __forceinline__ void ProduceTiles(const WsArgs& args, const WsSmem<D>& sm, const CtaTile& t, int it0,
                                             int qi) {
  using Smem = WsSmem<D>;
  // One SW128 tile of `rows` rows = D / 64 boxes of 64 columns side by side.
  auto load = [&](const CUtensorMap* map, uint32_t dst, uint32_t bar, int rows, int64_t row0, int head) {
#pragma unroll
    for (int cb = 0; cb < D / 64; ++cb)
      TmaLoad4d(dst + cb * rows * 128, map, bar, cb * 64, static_cast<int>(row0), head, t.b);
  };
  auto load_k = [&](int j) {
    const int slot = Smem::Slot(it0 + j);
    MbarrierWait(sm.KEmpty(slot), Smem::Round(it0 + j) ^ 1u);
    MbarrierArriveExpectTx(sm.KFull(slot), Smem::kKvBytes);
    load(&args.k_map, sm.K(slot), sm.KFull(slot), Smem::BN, static_cast<int64_t>(t.n_first + j) * Smem::BN, t.hk);
  };
  auto load_v = [&](int j) {
    const int slot = Smem::Slot(it0 + j);
    MbarrierWait(sm.VEmpty(slot), Smem::Round(it0 + j) ^ 1u);
    MbarrierArriveExpectTx(sm.VFull(slot), Smem::kKvBytes);
    load(&args.v_map, sm.V(slot), sm.VFull(slot), Smem::BN, static_cast<int64_t>(t.n_first + j) * Smem::BN, t.hk);
  };
  MbarrierWait(sm.QEmpty(), (static_cast<uint32_t>(qi) & 1u) ^ 1u);
  MbarrierArriveExpectTx(sm.QFull(), Smem::kQBytes);
  load(&args.q_map, sm.q, sm.QFull(), Smem::BM, t.m0, t.h);
  load_k(0);
  for (int j = 1; j < t.n_tiles; ++j) {
    load_k(j);
    load_v(j - 1);
  }
  load_v(t.n_tiles - 1);
}

// Masks this lane's S entries at key columns >= limit (tile-relative), limit0 for its first row, limit1 for its
// second (8 rows further down).
template <int BN>
__device__ __forceinline__ void MaskColumnsFrom(float (&s)[BN / 8][4], int limit0, int limit1, int tq) {
#pragma unroll
  for (int i = 0; i < BN / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (i * 8 + 2 * tq + (e & 1) >= (e < 2 ? limit0 : limit1)) s[i][e] = -INFINITY;
}

// One tile's online softmax for this lane's two rows (base 2, scale folded in): new running max and sum, S turned
// into unnormalized probabilities in place, and the factor alpha that rescales O from the old max to the new one.
template <int BN>
__device__ __forceinline__ void OnlineSoftmax(float (&s)[BN / 8][4], float (&m_run)[2], float (&l_run)[2],
                                              float (&alpha)[2], float scale_log2) {
  float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int i = 0; i < BN / 8; ++i) {
    tile_max[0] = fmaxf(tile_max[0], fmaxf(s[i][0], s[i][1]));
    tile_max[1] = fmaxf(tile_max[1], fmaxf(s[i][2], s[i][3]));
  }
  float bias[2];  // the new max in scaled units, 0 while a row has seen only masked keys (keeps exp2 off inf - inf)
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float m_new = fmaxf(m_run[r], QuadMax(tile_max[r]) * scale_log2);
    bias[r] = m_new == -INFINITY ? 0.f : m_new;
    alpha[r] = exp2f(m_run[r] - bias[r]);
    m_run[r] = m_new;
    l_run[r] *= alpha[r];
  }
#pragma unroll
  for (int i = 0; i < BN / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[i][e] = exp2f(fmaf(s[i][e], scale_log2, -bias[e >> 1]));
      l_run[e >> 1] += s[i][e];
    }
}

// O (64 x D, accumulators) += P (64 x 16, registers) * rows [16 kk, 16 kk + 16) of the V tile (MN-major SW128 tile
// of BN rows). N is at most 128 per wgmma, so D = 256 takes two, the second on column blocks 2 and 3.
template <typename T, int D, int BN>
__device__ __forceinline__ void AccumulatePvStep(float (&o)[D / 8][4], const uint32_t* p, uint32_t v_tile, int kk) {
  if constexpr (D == 64) {
    WgmmaRS64x64<T, 1>(&o[0][0], p, MnMajorDescriptor<BN>(v_tile, kk), 1);
  } else {
#pragma unroll
    for (int half = 0; half < D / 128; ++half)
      WgmmaRS64x128<T, 1>(&o[16 * half][0], p, MnMajorDescriptor<BN>(v_tile + half * 2 * BN * 128, kk), 1);
  }
}

// S (64 x BN) = Q rows [q_row0, q_row0 + 64) K^T, k16 step ks.
template <typename T, int D, int BN>
__device__ __forceinline__ void QkStep(float (&s)[BN / 8][4], uint32_t q_tile, int q_row0, uint32_t k_tile, int ks) {
  const uint64_t desc_q = KMajorDescriptor<Tiles::kBlockM>(q_tile, q_row0, ks);
  const uint64_t desc_k = KMajorDescriptor<BN>(k_tile, 0, ks);
  if constexpr (BN == 128) {
    WgmmaSS64x128<T, 0, 0>(&s[0][0], desc_q, desc_k, ks > 0);
  } else {
    WgmmaSS64x64<T, 0, 0>(&s[0][0], desc_q, desc_k, ks > 0);
  }
}

// The keys [begin[r], end[r]) (block-local, end clamped to the block) that this lane's rows `row` and `row` + 8 see
// under the TokenMask; rows past the block take the last row's interval (they are never written).
__device__ __forceinline__ void MaskedRowRanges(const FwdArgs& a, int64_t row, int64_t (&begin)[2],
                                                int64_t (&end)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    MaskRowKeys(a.tm, min(row + 8 * r, a.q_tokens - 1), &begin[r], &end[r]);
    end[r] = min(end[r], a.kv_tokens);
  }
}

// A consumer warpgroup (cw = 0 or 1) on one query tile: its 64 rows against every key tile of the tile (ring positions
// it0 + j, the qi-th Q of the CTA), then the epilogue. The GEMM token alternates between the warpgroups from tile to
// tile (each takes n_tiles + 1 turns per tile); the kernel hands it out first and takes it back last.
template <typename T, int D, bool kMasked>
__device__ __forceinline__ void ConsumeTiles(const FwdArgs& a, const WsSmem<D>& sm, const CtaTile& t, int cw,
                                             int it0, int qi) {
  using Smem = WsSmem<D>;
  constexpr int BN = Smem::BN;
  const int tid = threadIdx.x & 127, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int q_row0 = cw * 64;                     // this warpgroup's first row in the CTA
  const int row_in_cta = q_row0 + warp * 16 + g;  // this lane's first row; the second is 8 further
  const int64_t row = t.m0 + row_in_cta;

  float o[D / 8][4];
  float s[BN / 8][4];
  uint32_t p[BN / 16][4];
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f}, alpha[2];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  int64_t row_begin[2] = {0, 0}, row_end[2] = {0, 0};  // kMasked: the lane's two rows see keys [begin, end)
  if constexpr (kMasked) MaskedRowRanges(a, row, row_begin, row_end);

  // Ping-pong token: barrier 1 + cw is this warpgroup's turn to issue GEMMs, 2 - cw the other one's.
  auto take_turn = [&] { NamedBarrierSync(1 + cw, Tiles::kConsumerThreads); };
  auto pass_turn = [&] { NamedBarrierArrive(2 - cw, Tiles::kConsumerThreads); };
  auto free_slot = [&](uint32_t empty_bar) {
    __syncwarp();  // the warp's reads of the slot are ordered before lane 0 releases it to the producer
    if (lane == 0) MbarrierArrive(empty_bar);
  };
  auto slot = [&](int j) { return Smem::Slot(it0 + j); };
  auto round = [&](int j) { return Smem::Round(it0 + j); };
  auto issue_s = [&](int j) {
    const uint32_t k_tile = sm.K(slot(j));
    PinAccumulators(s);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) QkStep<T, D, BN>(s, sm.q, q_row0, k_tile, ks);
    WgmmaCommit();
  };
  auto issue_pv = [&](int j) {
    const uint32_t v_tile = sm.V(slot(j));
    PinAccumulators(o);
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) AccumulatePvStep<T, D, BN>(o, p[kk], v_tile, kk);
    WgmmaCommit();
  };
  // Masks tile j where it holds keys past the block end or (causal) past some row's diagonal; kMasked: keys outside
  // each row's TokenMask interval.
  auto mask = [&](int j) {
    const int64_t n0 = static_cast<int64_t>(t.n_first + j) * BN;
    if constexpr (kMasked) {
      MaskTileByRange<BN>(s, n0, row_begin, row_end, tq);
      return;
    }
    const bool tail = n0 + BN > a.kv_tokens;
    const bool diagonal = a.causal && n0 + BN - 1 > t.m0 + q_row0 + a.offset;
    if (!tail && !diagonal) return;
    int limit[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      int64_t lim = a.kv_tokens - n0;
      if (a.causal) lim = min(lim, row + 8 * r + a.offset + 1 - n0);
      limit[r] = ClampToInt(lim, 0, BN);
    }
    MaskColumnsFrom<BN>(s, limit[0], limit[1], tq);
  };

  // Tile 0 is peeled off so that every wgmma wait below is unconditional (see attention_forward_wgmma.cu).
  if (t.n_tiles > 0) {
    MbarrierWait(sm.QFull(), static_cast<uint32_t>(qi) & 1u);
    MbarrierWait(sm.KFull(slot(0)), round(0));
    take_turn();
    issue_s(0);
    pass_turn();
    WgmmaWait<0>();
    PinAccumulators(s);
    free_slot(sm.KEmpty(slot(0)));
    if (t.n_tiles == 1) free_slot(sm.QEmpty());  // the tile's last Q K^T is done: the producer may load the next Q
    mask(0);
    OnlineSoftmax<BN>(s, m_run, l_run, alpha, a.scale_log2);
    PackProbabilities<T, BN>(s, p);
  }
  for (int j = 1; j < t.n_tiles; ++j) {
    MbarrierWait(sm.KFull(slot(j)), round(j));
    MbarrierWait(sm.VFull(slot(j - 1)), round(j - 1));
    take_turn();
    issue_s(j);
    issue_pv(j - 1);  // still running during the softmax below
    pass_turn();
    WgmmaWait<1>();  // S_j done
    PinAccumulators(s);
    free_slot(sm.KEmpty(slot(j)));
    if (j == t.n_tiles - 1) free_slot(sm.QEmpty());
    mask(j);
    OnlineSoftmax<BN>(s, m_run, l_run, alpha, a.scale_log2);
    WgmmaWait<0>();  // P_{j-1} V_{j-1} done: O may be rescaled, V_{j-1}'s slot is free
    PinAccumulators(o);
    free_slot(sm.VEmpty(slot(j - 1)));
    RescaleRows<D>(o, alpha);
    PackProbabilities<T, BN>(s, p);
  }
  if (t.n_tiles > 0) {  // the last tile's P V
    MbarrierWait(sm.VFull(slot(t.n_tiles - 1)), round(t.n_tiles - 1));
    take_turn();
    issue_pv(t.n_tiles - 1);
    pass_turn();
    WgmmaWait<0>();
    PinAccumulators(o);
    free_slot(sm.VEmpty(slot(t.n_tiles - 1)));  // the ring runs on into the CTA's next query tile
  }

  float* out = a.out + t.b * a.os.batch + t.h * a.os.head;
  float* lse = a.lse + t.b * a.ls.batch + t.h * a.ls.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) WriteForwardRow<D>(a, out, lse, row + 8 * r, o, r, m_run[r], l_run[r], tq);
}

__device__ __forceinline__ void StoreShared64(uint32_t addr, int64_t v) {
  asm volatile("st.shared.s64 [%0], %1;\n" ::"r"(addr), "l"(v) : "memory");
}
__device__ __forceinline__ int64_t LoadShared64(uint32_t addr) {
  int64_t v;
  asm volatile("ld.shared.s64 %0, [%1];\n" : "=l"(v) : "r"(addr) : "memory");
  return v;
}

// Persistent kernels: named barriers (ids 1 and 2 are the consumers' GEMM token) between the producer warp and the
// consumer warpgroups around each tile index slot: the producer writes hand-over h into slot h % slots after that
// slot's TileIndexEmpty (the consumers have read hand-over h - slots) and arrives on its TileIndexFull; the consumers
// read it after TileIndexFull and arrive on TileIndexEmpty. Two slots at D <= 128; one at D = 256, where in one A/B
// the second made windows 1.07-1.08x slower (a CTA takes its next tile a tile earlier, so the launch's last tiles can
// balance worse). At D = 128 two A/Bs gave the 1k window 0.95x and 1.05x: no gain measurable in that harness's noise
// (bench/results/mask_kernels_h100.md).
template <int D>
constexpr int TileIndexSlots() {
  return D == 256 ? 1 : 2;
}
__device__ __forceinline__ int TileIndexFull(int slot) { return 3 + slot; }
__device__ __forceinline__ int TileIndexEmpty(int slot) { return 5 + slot; }
constexpr int kTileIndexThreads = 32 + Tiles::kConsumerThreads;

template <typename T, int D, bool kMasked>
__global__ void __launch_bounds__(Tiles::kThreads, 1) ForwardWsKernel(const __grid_constant__ WsArgs args) {
  extern __shared__ __align__(1024) uint8_t smem[];
  const WsSmem<D> sm = WsSmem<D>::At(SmemAddr(smem));
  const int wg = threadIdx.x >> 7;
  // The CTA's query tiles: one (a grid of every tile) or every gridDim.x-th (persistent).
  const int64_t m_tiles = (args.a.q_tokens + Tiles::kBlockM - 1) / Tiles::kBlockM;
  const int64_t total = m_tiles * args.bh_rows;
  const int64_t first = static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x;

  if (threadIdx.x == 0) {
    MbarrierInit(sm.QFull(), 1);
    MbarrierInit(sm.QEmpty(), kConsumerWarps);
#pragma unroll
    for (int slot = 0; slot < WsSmem<D>::kStages; ++slot) {
      MbarrierInit(sm.KFull(slot), 1);  // the producer's arrive.expect_tx; the TMA bytes complete the phase
      MbarrierInit(sm.VFull(slot), 1);
      MbarrierInit(sm.KEmpty(slot), kConsumerWarps);  // one arrival per consumer warp
      MbarrierInit(sm.VEmpty(slot), kConsumerWarps);
    }
    FenceBarrierInit();
  }
  __syncthreads();  // the only CTA-wide barrier: after it, the roles never wait on each other except through mbarriers

  if (wg == 0) {
    SetMaxRegistersDecrease<Tiles::kProducerRegisters>();
    // Thread 0 issues every load; the rest of its warp stays for the persistent kernels' tile hand-over.
    if (threadIdx.x >= 32 || (!args.persistent && threadIdx.x != 0)) return;
    const bool issuer = threadIdx.x == 0;
    if (issuer) {
      TmaPrefetchDescriptor(&args.q_map);
      TmaPrefetchDescriptor(&args.k_map);
      TmaPrefetchDescriptor(&args.v_map);
    }
    int it = 0, qi = 0;  // ring position of the next key tile; Q loads so far
    int handover = 0;    // tile indices handed to the consumers so far
    for (int64_t index = first; index < total; ++handover) {
      const CtaTile t = LocateTile<D, kMasked>(args.a, index, m_tiles);
      if (t.n_tiles > 0) {  // none: no key visible, the consumers write empty rows without Q
        if (issuer) ProduceTiles<D>(args, sm, t, it, qi);
        ++qi;
        it += t.n_tiles;
      }
      if (!args.persistent) break;
      // This tile's loads are issued: take the next tile (past the end: stop) and hand it to the consumers.
      const int slot = handover % TileIndexSlots<D>();
      __syncwarp();
      NamedBarrierSync(TileIndexEmpty(slot), kTileIndexThreads);
      int64_t next = 0;
      if (issuer) {
        next = static_cast<int64_t>(gridDim.x) + static_cast<int64_t>(atomicAdd(args.tile_counter, 1ull));
        StoreShared64(sm.TileIndex(slot), next);
      }
      index = __shfl_sync(0xffffffffu, next, 0);
      NamedBarrierArrive(TileIndexFull(slot), kTileIndexThreads);
    }
    // Each slot has one consumer arrival not yet taken (the first, or the read of its last index): take them, so every
    // barrier is at rest when the CTA exits.
    if (args.persistent) {
      for (int slot = 0; slot < TileIndexSlots<D>(); ++slot) {
        NamedBarrierSync(TileIndexEmpty(slot), kTileIndexThreads);
      }
    }
  } else {
    SetMaxRegistersIncrease<Tiles::kConsumerRegisters>();
    const int cw = wg - 1;
    if (cw == 1) NamedBarrierArrive(1, Tiles::kConsumerThreads);  // consumer 0 takes the first GEMM turn
    if (args.persistent) {  // every slot starts free
      for (int slot = 0; slot < TileIndexSlots<D>(); ++slot) {
        NamedBarrierArrive(TileIndexEmpty(slot), kTileIndexThreads);
      }
    }
    int it = 0, qi = 0, handover = 0;
    for (int64_t index = first; index < total; ++handover) {
      const CtaTile t = LocateTile<D, kMasked>(args.a, index, m_tiles);
      ConsumeTiles<T, D, kMasked>(args.a, sm, t, cw, it, qi);
      if (t.n_tiles > 0) {
        it += t.n_tiles;
        ++qi;
      }
      if (!args.persistent) break;
      const int slot = handover % TileIndexSlots<D>();
      NamedBarrierSync(TileIndexFull(slot), kTileIndexThreads);
      index = LoadShared64(sm.TileIndex(slot));
      NamedBarrierArrive(TileIndexEmpty(slot), kTileIndexThreads);
    }
    // Consumer 1's last turn hand-over (or its first, with no tiles) arrived on consumer 0's barrier: consume it, so
    // that both named barriers are back at rest when the CTA exits.
    if (cw == 0) NamedBarrierSync(1, Tiles::kConsumerThreads);
  }
}

template <typename T, int D, bool kMasked>
Status LaunchWs(const ForwardParams& p, cudaStream_t stream) {
  const BlockShape& s = p.shape;
  WsArgs args;
  args.a = MakeFwdArgs(p);
  args.bh_rows = s.batch * s.heads;
  dim3 grid = TileGrid(s.q_tokens, Tiles::kBlockM, s.batch * s.heads);
  int ctas = 0;
  if constexpr (kMasked) RINGLAB_RETURN_IF_ERROR(MaskedPersistentCtas(int64_t{grid.x} * grid.y, &ctas));
  args.persistent = ctas > 0;
  args.tile_counter = nullptr;
  if (args.persistent) {
    grid = dim3(static_cast<unsigned>(ctas), 1);
    RINGLAB_RETURN_IF_ERROR(ZeroedTileCounter(stream, &args.tile_counter));
  }
  TileMapSpec q{p.q, s.batch, s.heads, s.q_tokens, D, p.q_strides, Tiles::kBlockM, s.element};
  TileMapSpec k{p.k, s.batch, s.kv_heads, s.kv_tokens, D, p.k_strides, Tiles::BlockN<D>(), s.element};
  TileMapSpec v = k;
  v.base = p.v;
  v.strides = p.v_strides;
  RINGLAB_RETURN_IF_ERROR(EncodeTileMap(q, &args.q_map));
  RINGLAB_RETURN_IF_ERROR(EncodeTileMap(k, &args.k_map));
  RINGLAB_RETURN_IF_ERROR(EncodeTileMap(v, &args.v_map));
  return LaunchTiled<Tiles, T, D>(&ForwardWsKernel<T, D, kMasked>, grid, stream, args);
}

// The instantiation for the element type and head dim (64, 128 or 256: CheckForwardParams allowed nothing else).
template <bool kMasked>
Status LaunchWsForHeadDim(const ForwardParams& p, cudaStream_t st) {
  const bool bf16 = p.shape.element == ElementType::kBFloat16;
  switch (p.shape.head_dim) {
    case 64:
      return bf16 ? LaunchWs<__nv_bfloat16, 64, kMasked>(p, st) : LaunchWs<__half, 64, kMasked>(p, st);
    case 128:
      return bf16 ? LaunchWs<__nv_bfloat16, 128, kMasked>(p, st) : LaunchWs<__half, 128, kMasked>(p, st);
    default:
      return bf16 ? LaunchWs<__nv_bfloat16, 256, kMasked>(p, st) : LaunchWs<__half, 256, kMasked>(p, st);
  }
}

}  // namespace

Status LaunchForwardWs(const ForwardParams& p, void* stream) {
  RINGLAB_RETURN_IF_ERROR(CheckForwardParams(p, /*max_head_dim=*/256));
  const BlockShape& s = p.shape;
  if (s.q_tokens == 0) return Status::Ok();
  if (!DeviceIsSm90())
    return Status::Unavailable("LaunchForwardWs: needs a compute capability 9.0 GPU (H100/H200); use LaunchForward");
  const auto st = static_cast<cudaStream_t>(stream);
  if (s.mask.enabled) return LaunchWsForHeadDim<true>(p, st);
  return LaunchWsForHeadDim<false>(p, st);
}

}  // namespace ringlab::cuda
