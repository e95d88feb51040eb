// The warp-specialized backward's (attention_backward_ws.cu) shared-memory plan and the cursors every role of a CTA
// walks its work with: the ring position of the Q/dO slots, the query tiles of one key block, and the key blocks of a
// (persistent) launch. Only included by that .cu file; device code.
#pragma once

#include <cstdint>

#include "kernels/cuda/attention_backward_common.cuh"
#include "kernels/cuda/attention_tiles.h"

namespace ringlab::cuda::bwd_ws {

using detail::BwdArgs;
using detail::KeyBlock;
using detail::QueryTileWalk;

using Tiles = tiles::BackwardWs;
constexpr int kBM = Tiles::kBlockM;
template <int D>
constexpr int kBlockNOf = Tiles::BlockN<D>();  // keys per CTA: 128, 64 at D = 256

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
  __device__ uint32_t KvEmpty() const { return bars + 8 * (1 + 3 * kStages); }  // the block's last GEMMs are done
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

// The key blocks a CTA walks, numbered as in a grid of every block (n_blocks x batch x kv heads): its own one, or
// (persistent) blockIdx.x, + gridDim.x, ... Counts fit in int: token counts are below 2^31 (EncodeTileMap) and
// blocks of 128 keys times batch x heads stay far below it.
template <int BN>
struct CtaBlocks {
  int n_blocks, total, first, stride;
  __device__ CtaBlocks(const BwdArgs& a, int bh_rows, bool persistent)
      : n_blocks(static_cast<int>((a.kv_tokens + BN - 1) / BN)),
        total(n_blocks * bh_rows),
        first(static_cast<int>(blockIdx.y * gridDim.x + blockIdx.x)),
        stride(persistent ? static_cast<int>(gridDim.x) : total) {}
  __device__ KeyBlock At(const BwdArgs& a, int index) const {
    const int bh = index / n_blocks;
    return KeyBlock{bh / a.kv_heads, bh % a.kv_heads, static_cast<int64_t>(index % n_blocks) * BN, BN};
  }
};

}  // namespace ringlab::cuda::bwd_ws
