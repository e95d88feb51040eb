// Device helpers shared by the attention kernels: mma.sync m16n8k16 (bf16/fp16 -> f32), ldmatrix, cp.async and the
// swizzled shared-memory tile layout. Only included by .cu files.
//
// Tile layout in shared memory: a tile of R rows by C 16-bit columns (C a multiple of 64) is stored row-major with
// its 16-byte chunks XOR-swizzled by row: chunk c of row r lives at chunk (c ^ (r & 7)). ldmatrix reads 8 rows of
// one chunk column at a time, and the swizzle puts those 8 reads in 8 different bank groups.
//
// Fragment layouts of mma.m16n8k16 (g = lane / 4, t = lane % 4):
//   A (16x16): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
//   B (16x8):  b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g)
//   C (16x8):  c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1)
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/token_mask_ranges.h"

namespace ringlab::cuda::detail {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <typename T>
__device__ __forceinline__ uint32_t PackPair(float lo, float hi) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
}

template <typename T>
__device__ __forceinline__ float ToFloat(T x) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(x);
  } else {
    return __half2float(x);
  }
}

// c += a * b for one m16n8k16 tile.
template <typename T>
__device__ __forceinline__ void Mma(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ void LdMatrixX4(uint32_t* r, uint32_t smem_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr));
}

__device__ __forceinline__ void LdMatrixX4Trans(uint32_t* r, uint32_t smem_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr));
}

__device__ __forceinline__ void StShared32(uint32_t addr, uint32_t val) {
  asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(val));
}

// 16-byte async copy global -> shared; bytes beyond src_bytes (0 or 16) are zero-filled.
__device__ __forceinline__ void CpAsync16(uint32_t smem_addr, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr), "l"(gmem), "r"(src_bytes));
}

// 4-byte async copy global -> shared with zero fill.
__device__ __forceinline__ void CpAsync4(uint32_t smem_addr, const void* gmem, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr), "l"(gmem), "r"(src_bytes));
}

__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Byte offset of the 16-byte chunk `chunk` of row `row` in a swizzled tile with `kCols` 16-bit columns.
template <int kCols>
__device__ __forceinline__ uint32_t SwizzledChunk(int row, int chunk) {
  return static_cast<uint32_t>(row * kCols * 2 + ((chunk ^ (row & 7)) << 4));
}

// Asynchronously copies rows [0, kRows) of a [rows][kCols] 16-bit tile starting at `src` (row stride kCols
// elements) into shared memory at `smem`, 16-byte chunk (row, chunk) going to byte offset chunk_offset(row, chunk).
// Rows at or beyond `valid_rows` are zero-filled.
template <int kRows, int kCols, int kThreads, typename ChunkOffset>
__device__ __forceinline__ void LoadTileAsync(uint32_t smem, const uint16_t* src, int64_t valid_rows, int tid,
                                              ChunkOffset chunk_offset) {
  constexpr int kChunksPerRow = kCols / 8;
  constexpr int kChunks = kRows * kChunksPerRow;
  static_assert(kChunks % kThreads == 0, "tile must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < kChunks / kThreads; ++i) {
    const int idx = tid + i * kThreads;
    const int row = idx / kChunksPerRow;
    const int chunk = idx % kChunksPerRow;
    const bool ok = row < valid_rows;
    const uint16_t* g = ok ? src + static_cast<int64_t>(row) * kCols + chunk * 8 : src;
    CpAsync16(smem + chunk_offset(row, chunk), g, ok ? 16 : 0);
  }
}

// The same into the row-major swizzled tile layout described at the top of this file.
template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void LoadTileAsync(uint32_t smem, const uint16_t* src, int64_t valid_rows, int tid) {
  LoadTileAsync<kRows, kCols, kThreads>(smem, src, valid_rows, tid,
                                        [](int row, int chunk) { return SwizzledChunk<kCols>(row, chunk); });
}

// The swizzled tile layout as a policy, for device code shared with the wgmma kernels (whose Sw128Layout, in
// wgmma_common.cuh, has the same two members).
struct SwizzledLayout {
  template <int kRows, int kCols, int kThreads>
  static __device__ __forceinline__ void Load(uint32_t smem, const uint16_t* src, int64_t valid_rows, int tid) {
    LoadTileAsync<kRows, kCols, kThreads>(smem, src, valid_rows, tid);
  }
  // Between waiting for cp.async and the barrier: nothing, ldmatrix reads through the generic proxy like cp.async.
  static __device__ __forceinline__ void AfterCpAsyncWait() {}
};

// *p += (x, y) for two consecutive floats in global memory, without a return value (red, not atom).
__device__ __forceinline__ void RedAddF32x2(float* p, float x, float y) {
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(x), "f"(y) : "memory");
}

// x clamped to [lo, hi], as int.
__device__ __forceinline__ int ClampToInt(int64_t x, int lo, int hi) {
  return static_cast<int>(x < lo ? int64_t{lo} : (x > hi ? int64_t{hi} : x));
}

__device__ __forceinline__ float QuadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float QuadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// The key range of rows [m0, row_last] (both bounds are non-decreasing in the row): from the first row's begin to the
// last row's end, clamped to [0, kv_tokens).
__device__ __forceinline__ void MaskTileKeys(const TokenMask& m, int64_t m0, int64_t row_last, int64_t kv_tokens,
                                             int64_t* n_begin, int64_t* n_end) {
  int64_t b0, e0, b1, e1;
  MaskRowKeys(m, m0, &b0, &e0);
  MaskRowKeys(m, row_last, &b1, &e1);
  *n_begin = min(max(b0, int64_t{0}), kv_tokens);
  *n_end = max(min(e1, kv_tokens), *n_begin);
}

// Masks, in a C-fragment S tile of BN keys starting at key n0, the keys outside each of the lane's two rows' ranges
// ([begin[r], end[r]), block-local, end already clamped to kv_tokens): they become `fill`. Cheap no-op for tiles
// inside both ranges. The backward's transposed tiles (rows = keys, columns = queries from n0) use it with the
// queries that see each key and fill 0 (probabilities).
template <int BN>
__device__ __forceinline__ void MaskTileByRange(float (&s)[BN / 8][4], int64_t n0, const int64_t (&begin)[2],
                                                const int64_t (&end)[2], int tq, float fill = -INFINITY) {
  if (n0 >= max(begin[0], begin[1]) && n0 + BN <= min(end[0], end[1])) return;
  int lo[2], hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    lo[r] = ClampToInt(begin[r] - n0, 0, BN + 1);
    hi[r] = ClampToInt(end[r] - n0, 0, BN + 1);
  }
#pragma unroll
  for (int i = 0; i < BN / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = e >> 1, c = i * 8 + 2 * tq + (e & 1);
      if (c < lo[r] || c >= hi[r]) s[i][e] = fill;
    }
}

}  // namespace ringlab::cuda::detail
