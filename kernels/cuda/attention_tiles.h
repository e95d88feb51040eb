// Tile sizes, thread counts and shared-memory footprints of the attention kernels, in one place: the kernels, their
// launchers and anything that models their launch geometry read them from here.
//
// Plain C++ (no CUDA types), so host code compiled by g++ can include it. Shared-memory sizes are in bytes for 16-bit
// elements (bf16 / fp16) and head dim D.
#pragma once

namespace ringlab::cuda::tiles {

// Forward, mma.sync (attention_forward_mma.cu): 4 warps own 128 query rows (two m16 tiles per warp) and walk the
// keys in tiles of 64; Q resident, K and V double-buffered.
struct ForwardMma {
  static constexpr int kBlockM = 128;  // query rows per CTA
  static constexpr int kBlockN = 64;   // keys per iteration
  static constexpr int kWarps = 4;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kMTiles = kBlockM / (16 * kWarps);  // m16 tiles per warp
  template <int D>
  static constexpr int SmemBytes() {
    return (kBlockM + 4 * kBlockN) * D * 2;
  }
};

// Forward, wgmma (attention_forward_wgmma.cu): two warpgroups own 64 query rows each (the wgmma M) and walk the keys
// in tiles of 128; Q resident, K and V two stages each.
struct ForwardWgmma {
  static constexpr int kBlockM = 128;  // two warpgroups x 64 rows
  static constexpr int kBlockN = 128;
  static constexpr int kThreads = 256;
  template <int D>
  static constexpr int SmemBytes() {
    return (kBlockM + 4 * kBlockN) * D * 2 + 1024;  // + 1024: room to align the tiles to 1024 bytes
  }
};

// Forward, warp-specialized (attention_forward_ws.cu): a producer warpgroup (one thread issues TMA loads) and two
// consumer warpgroups of 64 query rows each; Q resident, K and V in kStages-deep rings with one mbarrier pair per
// slot. Key tiles shrink at D = 256 so that O (128 registers per thread) and S still fit the consumers' 240.
struct ForwardWs {
  static constexpr int kBlockM = 128;  // two consumer warpgroups x 64 rows
  static constexpr int kThreads = 384;  // warpgroup 0 produces, 1 and 2 consume
  static constexpr int kConsumerThreads = 256;
  static constexpr int kProducerRegisters = 24;  // setmaxnreg: 128 x 24 + 256 x 240 = 64512 <= 65536
  static constexpr int kConsumerRegisters = 240;
  template <int D>
  static constexpr int BlockN() {
    return D == 256 ? 64 : 128;
  }
  template <int D>
  static constexpr int Stages() {
    return D == 64 ? 4 : 2;
  }
  template <int D>
  static constexpr int SmemBytes() {
    // Q [BM][D]; K, V [stages][BN][D]; + 1024 to align the tiles; + the mbarriers (Q full/empty, and full/empty per
    // K/V slot) and the persistent kernels' two tile index slots.
    return (kBlockM + 2 * Stages<D>() * BlockN<D>()) * D * 2 + 1024 + (2 + 4 * Stages<D>()) * 8 + 2 * 8;
  }
};

// Backward, mma.sync (attention_backward_mma.cu): 8 warps own 128 keys (K and V resident) and walk 64-row query
// tiles (Q, dO, lse and delta double-buffered); P^T and dS^T are staged in shared memory.
struct BackwardMma {
  static constexpr int kBlockN = 128;  // keys per CTA
  static constexpr int kBlockM = 64;   // query rows per iteration
  static constexpr int kWarps = 8;
  static constexpr int kThreads = kWarps * 32;
  template <int D>
  static constexpr int SmemBytes() {
    // K, V [BN][D]; Q, dO [2][BM][D]; P^T, dS^T [BN][BM]; lse, delta [2][BM] float.
    return (2 * kBlockN * D + 4 * kBlockM * D + 2 * kBlockN * kBlockM) * 2 + 4 * kBlockM * 4;
  }
};

// Backward, wgmma (attention_backward_wgmma.cu): two warpgroups own 64 keys each of the CTA's 128 and walk 64-row
// query tiles; only dS^T is staged in shared memory.
struct BackwardWgmma {
  static constexpr int kBlockN = 128;  // keys per CTA, 64 per warpgroup
  static constexpr int kBlockM = 64;   // query rows per iteration
  static constexpr int kThreads = 256;
  template <int D>
  static constexpr int SmemBytes() {
    // K, V [BN][D]; Q, dO [2][BM][D]; dS^T [BN][BM]; lse, delta [2][BM] float; + 1024 to align the tiles.
    return (2 * kBlockN * D + 4 * kBlockM * D + kBlockN * kBlockM) * 2 + 4 * kBlockM * 4 + 1024;
  }
};

// Backward, warp-specialized (attention_backward_ws.cu): a producer warpgroup (one thread issues TMA loads of Q and
// dO, one warp copies lse and delta) and two consumer warpgroups walking 64-row query tiles through kStages-deep rings
// over the CTA's key block (K, V resident); dS^T double-buffered in shared memory for dQ. D 64/128: 128 keys, 64 per
// consumer. D = 256: 64 keys, both consumers on all of them, each owning half of dK/dV's columns (64 x 128 x 2 float
// = 128 registers a thread), with one ring stage so that the tiles fit 227 KB.
struct BackwardWs {
  static constexpr int kBlockM = 64;    // query rows per iteration
  static constexpr int kThreads = 384;  // warpgroup 0 produces, 1 and 2 consume
  static constexpr int kConsumerThreads = 256;
  static constexpr int kProducerRegisters = 24;  // setmaxnreg: 128 x 24 + 256 x 240 = 64512 <= 65536
  static constexpr int kConsumerRegisters = 240;
  template <int D>
  static constexpr int BlockN() {  // keys per CTA
    return D == 256 ? 64 : 128;
  }
  template <int D>
  static constexpr int Stages() {
    return D == 64 ? 3 : D == 128 ? 2 : 1;
  }
  template <int D>
  static constexpr int SmemBytes() {
    // K, V [BN][D]; Q, dO [stages][BM][D]; dS^T [2][BN][BM]; lse2, delta [stages][2][BM] float; + 1024 to align the
    // tiles; + the mbarriers (K/V, and Q full, dO full, empty per slot).
    return (2 * BlockN<D>() * D + 2 * Stages<D>() * kBlockM * D + 2 * BlockN<D>() * kBlockM) * 2 +
           Stages<D>() * 2 * kBlockM * 4 + 1024 + (1 + 3 * Stages<D>()) * 8;
  }
};

// The ws backward with dQ added by TMA reduce-add from shared memory (attention_backward_ws.cu, kTmaDq): one more
// float32 tile of kBlockM x DqCols per consumer warpgroup (the dQ columns it computes: 64, or 128 at D = 256).
struct BackwardWsTmaDq : BackwardWs {
  template <int D>
  static constexpr int DqCols() {
    return D == 256 ? 128 : 64;
  }
  template <int D>
  static constexpr int DqTileBytes() {
    return kBlockM * DqCols<D>() * 4;
  }
  template <int D>
  static constexpr int SmemBytes() {
    return BackwardWs::SmemBytes<D>() + 2 * DqTileBytes<D>();
  }
};

// The backward kernels' grid runs over (key block, batch, kv head): one CTA owns a key block of a kv head and walks
// every query head of its GQA group. Where those CTAs are too few for the SMs (few kv heads, short blocks: B = 1,
// Hkv = 1, 4096 keys is 32 CTAs on 132 SMs, each walking the whole group), each key block's group is split over
// `splits` CTAs that walk group / splits heads each and add their dK/dV with atomics:
//   - unequal CTAs (causal, or a window/document mask: the first key blocks see the most queries): the smallest
//     split that gives the block scheduler 4 CTAs per SM to balance, else the whole group; none from 4 per SM up;
//   - equal CTAs (full mask), only where they leave SMs idle: the split with the fewest head walks,
//     ceil(CTAs · splits / SMs) rounds of group / splits heads, a larger one only where it cuts them by more than an
//     eighth (each split adds CTAs' fixed costs and atomics).
// Chosen on the simulator's cost model of our backward (calibrate/scripts/cta_model.py over the splits). `cap` (>= 1)
// bounds it (RINGLAB_BWD_GROUP_SPLITS). The simulator reads the same rule (sim/wave_model.h, "split_group"; its
// Python twin: calibrate/scripts/cta_model.py group_splits).
constexpr int BackwardGroupSplits(long long key_block_ctas, int group, int sms, bool unequal, int cap = 1 << 30) {
  if (group <= 1 || key_block_ctas <= 0 || cap <= 1) return 1;
  if (unequal) {
    const long long target = 4LL * sms;
    if (key_block_ctas >= target) return 1;
    int chosen = 1;
    for (int s = 2; s <= group && s <= cap; ++s) {
      if (group % s != 0) continue;
      chosen = s;
      if (key_block_ctas * s >= target) break;
    }
    return chosen;
  }
  if (key_block_ctas >= sms) return 1;
  int chosen = 1;
  double chosen_walks = group;  // one round of the whole group
  for (int s = 2; s <= group && s <= cap; ++s) {
    if (group % s != 0) continue;
    const long long rounds = (key_block_ctas * s + sms - 1) / sms;
    const double walks = static_cast<double>(rounds) * (group / s);
    if (walks < chosen_walks * 7 / 8) chosen = s, chosen_walks = walks;
  }
  return chosen;
}
static_assert(BackwardGroupSplits(32, 8, 132, false) == 4 && BackwardGroupSplits(32, 8, 132, false, 2) == 2);
static_assert(BackwardGroupSplits(64, 8, 132, false) == 2 && BackwardGroupSplits(40, 6, 132, false) == 3);
static_assert(BackwardGroupSplits(100, 8, 132, false) == 1 && BackwardGroupSplits(256, 8, 132, false) == 1);
static_assert(BackwardGroupSplits(32, 8, 132, true) == 8 && BackwardGroupSplits(256, 4, 132, true) == 4);
static_assert(BackwardGroupSplits(512, 4, 132, true) == 2 && BackwardGroupSplits(528, 8, 132, true) == 1);
static_assert(BackwardGroupSplits(10, 7, 132, true) == 7 && BackwardGroupSplits(32, 1, 132, true) == 1);

// Backward preprocess (attention_backward_prepare.cu): one warp per query row.
struct BackwardPrepare {
  static constexpr int kWarps = 8;
  static constexpr int kThreads = kWarps * 32;
};

}  // namespace ringlab::cuda::tiles
