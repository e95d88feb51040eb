// Does compute-sanitizer's racecheck credit a named barrier's arrive-only side? One CTA: warp 0 writes a value into
// shared memory, then bar.arrive(FULL); warps 1-8 bar.sync(FULL), read it, bar.arrive(EMPTY); warp 0 bar.sync(EMPTY)
// before the next write (the hand-over of kernels/cuda/attention_forward_ws.cu's persistent tile index). Mode 1 uses
// bar.sync on both sides of both barriers (every thread blocks), which racecheck credits. The values read are checked:
// a real race would show as a wrong sum.
//   nvcc -arch=sm_90a -o handover_probe handover_probe.cu
//   compute-sanitizer --tool racecheck ./handover_probe 0   (arrive/sync, as the kernel)
//   compute-sanitizer --tool racecheck ./handover_probe 1   (sync/sync)
#include <cstdio>
#include <cstdlib>

__device__ __forceinline__ void Sync(int id, int n) { asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void Arrive(int id, int n) { asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(n) : "memory"); }

__global__ void Handover(int rounds, bool sync_both, unsigned long long* sums) {
  __shared__ int slot;
  constexpr int kFull = 1, kEmpty = 2, kThreads = 32 * 9;
  const int warp = threadIdx.x / 32;
  if (warp == 0) {
    for (int r = 0; r < rounds; ++r) {
      if (r > 0) Sync(kEmpty, kThreads);  // the readers are done with the previous value
      if (threadIdx.x == 0) slot = r + 1;
      __syncwarp();
      if (sync_both) Sync(kFull, kThreads); else Arrive(kFull, kThreads);
    }
    Sync(kEmpty, kThreads);
  } else {
    unsigned long long sum = 0;
    for (int r = 0; r < rounds; ++r) {
      Sync(kFull, kThreads);
      sum += slot;
      if (sync_both) Sync(kEmpty, kThreads); else Arrive(kEmpty, kThreads);
    }
    if (threadIdx.x % 32 == 0) sums[warp - 1] = sum;
  }
}

int main(int argc, char** argv) {
  const bool sync_both = argc > 1 && std::atoi(argv[1]) == 1;
  const int rounds = 64;
  unsigned long long* d = nullptr;
  if (cudaMalloc(&d, 8 * sizeof(unsigned long long)) != cudaSuccess) return 3;
  Handover<<<1, 32 * 9>>>(rounds, sync_both, d);
  unsigned long long h[8];
  if (cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost) != cudaSuccess) { std::puts("cuda error"); return 3; }
  const unsigned long long want = 1ull * rounds * (rounds + 1) / 2;
  int wrong = 0;
  for (unsigned long long s : h) wrong += s != want;
  std::printf("mode %s: %d of 8 reader warps summed wrong (want %llu)\n", sync_both ? "sync/sync" : "arrive/sync", wrong,
              want);
  return wrong ? 1 : 0;
}
