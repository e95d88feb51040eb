// Hopper (sm_90a) helpers for warp-specialized kernels: shared-memory mbarriers (init, arrive, expect-tx, parity
// wait), tensor-memory-accelerator (TMA) tile loads that complete on an mbarrier and tile reduce-adds into global
// memory, named barriers between warpgroups, and the setmaxnreg register re-split. Only included by sm_90a .cu files.
//
// Pipeline convention (as in the PTX ISA's mbarrier phases): a barrier starts in phase 0; try_wait.parity(P) succeeds
// once the phase of parity P has completed. A consumer of stage s in round r waits for parity r & 1 on the "full"
// barrier; the producer waits for parity (r & 1) ^ 1 on the "empty" barrier, which a fresh barrier satisfies at once
// (round 0 finds every stage free).
#pragma once

#include <cstdint>

namespace ringlab::cuda::detail {

// Initializes the mbarrier at shared address `bar` to expect `count` arrivals per phase. One thread; publish with
// FenceBarrierInit and a CTA barrier before any other thread uses it.
__device__ __forceinline__ void MbarrierInit(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// Makes mbarrier initializations visible to the async proxy (TMA completes transactions on them).
__device__ __forceinline__ void FenceBarrierInit() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// One arrival that also announces `bytes` of transactions (TMA writes) the current phase must wait for.
__device__ __forceinline__ void MbarrierArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// One plain arrival (release semantics: this thread's earlier accesses happen before the phase completes).
__device__ __forceinline__ void MbarrierArrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// Spins until the phase of parity `parity` of the mbarrier at `bar` has completed (acquire semantics).
__device__ __forceinline__ void MbarrierWait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (done == 0);
}

// Loads the box at coordinates (c0 innermost .. c3) of the 4-D tensor map `tmap` (a __grid_constant__ kernel
// parameter) into shared memory at `dst`; the bytes count as transactions on the mbarrier `bar`. Coordinates past
// the tensor's extent read as zeros.
__device__ __forceinline__ void TmaLoad4d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2,
                                          int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}

// Adds (float32, in L2) the box at `src` in shared memory into the box at coordinates (c0 innermost .. c3) of the
// 4-D tensor map `tmap`; coordinates past the tensor's extent are skipped. Completes in this thread's bulk group:
// publish the shared-memory writes with fence.proxy.async first; BulkCommitGroup, then BulkWaitGroupRead before the
// source is written again.
__device__ __forceinline__ void TmaReduceAdd4d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3) {
  asm volatile(
      "cp.reduce.async.bulk.tensor.4d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(
          reinterpret_cast<uint64_t>(tmap)),
      "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
__device__ __forceinline__ void BulkCommitGroup() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's bulk groups still read their shared-memory source.
template <int N>
__device__ __forceinline__ void BulkWaitGroupRead() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
// Waits until at most N of this thread's bulk groups are incomplete (their global writes done).
template <int N>
__device__ __forceinline__ void BulkWaitGroup() {
  asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory");
}

// Pulls a tensor map's descriptor into the TMA unit's cache ahead of the first load.
__device__ __forceinline__ void TmaPrefetchDescriptor(const void* tmap) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
}

// Named barriers (ids 1..15; 0 is __syncthreads): `threads` counts every thread that syncs or arrives on it.
__device__ __forceinline__ void NamedBarrierSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void NamedBarrierArrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Moves this warpgroup's per-thread register allotment down to / up to kRegs (a multiple of 8 in 24..256). Every
// thread of the warpgroup must execute it; ptxas honours it only under a register cap at entry
// (__launch_bounds__(threads, 1)) and warns (C7508) when it cannot.
template <int kRegs>
__device__ __forceinline__ void SetMaxRegistersDecrease() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void SetMaxRegistersIncrease() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

}  // namespace ringlab::cuda::detail
