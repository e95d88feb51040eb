// Hopper (sm_90a) helpers around wgmma: shared-memory matrix descriptors, the 128-byte-swizzled tile layout they
// describe, and the fence / commit / wait instructions. Only included by sm_90a .cu files.
//
// Tile layout ("SW128 tile"): a tile of R rows by C 16-bit columns (C a multiple of 64) is stored as C / 64 column
// blocks, each R rows x 128 bytes; inside a block, 16-byte chunk c of row r lives at chunk c ^ (r & 7). This is the
// hardware's 128-byte swizzle (address bits [4,7) XOR bits [7,10)), so block bases must be 1024-byte aligned.
// Read as a wgmma operand the same bytes serve two ways:
//   K-major (rows = M or N, columns = the reduction dim K): 8-row groups are 1024 bytes apart (SBO); a k16 step
//     moves the start address by 32 bytes inside a block, and by a whole block (R * 128 bytes) every 4 steps.
//   MN-major (rows = K, columns = N): 64-column blocks are R * 128 bytes apart (LBO), 8-row groups 1024 bytes
//     (SBO); a k16 step moves the start address by 16 rows = 2048 bytes.
#pragma once

#include <cstdint>

#include "kernels/cuda/attention_common.cuh"

namespace ringlab::cuda::detail {

// Byte offset of 16-byte chunk `chunk` (0 .. kCols / 8 - 1) of row `row` in an SW128 tile of kRows rows.
template <int kRows>
__device__ __forceinline__ uint32_t Sw128Chunk(int row, int chunk) {
  return static_cast<uint32_t>((chunk >> 3) * (kRows * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// Asynchronously copies rows [0, kRows) of a [rows][kCols] 16-bit matrix at `src` (row stride kCols elements) into
// the SW128 tile at `smem`; rows at or beyond `valid_rows` are zero-filled.
template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void LoadSw128TileAsync(uint32_t smem, const uint16_t* src, int64_t valid_rows, int tid) {
  LoadTileAsync<kRows, kCols, kThreads>(smem, src, valid_rows, tid,
                                        [](int row, int chunk) { return Sw128Chunk<kRows>(row, chunk); });
}

// The SW128 tile layout as a policy for code shared with the mma.sync kernels (attention_common.cuh's SwizzledLayout).
struct Sw128Layout {
  template <int kRows, int kCols, int kThreads>
  static __device__ __forceinline__ void Load(uint32_t smem, const uint16_t* src, int64_t valid_rows, int tid) {
    LoadSw128TileAsync<kRows, kCols, kThreads>(smem, src, valid_rows, tid);
  }
  // Between waiting for cp.async and the barrier: cp.async writes through the generic proxy, wgmma reads through the
  // async proxy.
  static __device__ __forceinline__ void AfterCpAsyncWait();
};

// A wgmma shared-memory matrix descriptor with 128-byte swizzle (layout type 1 in bits 62-63).
__device__ __forceinline__ uint64_t Sw128Descriptor(uint32_t smem_addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  uint64_t desc = (smem_addr & 0x3FFFFu) >> 4;
  desc |= static_cast<uint64_t>((lbo_bytes >> 4) & 0x3FFFu) << 16;
  desc |= static_cast<uint64_t>((sbo_bytes >> 4) & 0x3FFFu) << 32;
  desc |= uint64_t{1} << 62;
  return desc;
}

// Descriptor of k16 step `k_step` of a K-major operand whose rows start at `tile + row0 * 128` in an SW128 tile of
// kRows rows (row0 a multiple of 8).
template <int kRows>
__device__ __forceinline__ uint64_t KMajorDescriptor(uint32_t tile, int row0, int k_step) {
  return Sw128Descriptor(tile + (k_step >> 2) * (kRows * 128) + row0 * 128 + (k_step & 3) * 32, 16, 1024);
}

// Descriptor of k16 step `k_step` of an MN-major operand stored as an SW128 tile of kRows rows (rows = K).
template <int kRows>
__device__ __forceinline__ uint64_t MnMajorDescriptor(uint32_t tile, int k_step) {
  return Sw128Descriptor(tile + k_step * 2048, kRows * 128, 1024);
}

// Orders this thread's register writes before the wgmma instructions that follow (required before the first wgmma
// of a batch whose accumulators or A registers were written by ordinary instructions).
__device__ __forceinline__ void WgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void WgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most N committed wgmma groups of this warpgroup are still running.
template <int N>
__device__ __forceinline__ void WgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Makes shared-memory writes of the generic proxy (cp.async, st.shared) visible to wgmma (the async proxy).
__device__ __forceinline__ void FenceProxyAsyncShared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

__device__ __forceinline__ void Sw128Layout::AfterCpAsyncWait() { FenceProxyAsyncShared(); }

// Keeps the compiler from moving accesses to `r` across this point (wgmma reads and writes registers
// asynchronously, so they must stay put between issue and wait).
__device__ __forceinline__ void PinRegister(float& r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void PinRegister(uint32_t& r) { asm volatile("" : "+r"(r)::"memory"); }

// Pins every register of an accumulator array (mma C-fragment layout) in place: around wgmma issue and wait, so
// that ptxas sees no ordinary instruction touching the accumulators while the warpgroup MMAs own them.
template <int N>
__device__ __forceinline__ void PinAccumulators(float (&acc)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) PinRegister(acc[i][e]);
}

}  // namespace ringlab::cuda::detail
