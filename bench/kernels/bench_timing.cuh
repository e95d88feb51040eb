// What the single-GPU kernel benchmarks (attention_bench.cu, mask_bench.cu) share: random operands on the device
// and the median time of a launch sequence by CUDA events.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::bench {

// Deterministic pseudo-random fill, values roughly uniform in [-1, 1) (never zeros: see METHOD.md).
__global__ void FillRandom(uint16_t* p, int64_t n, uint32_t seed, bool fp16) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 0x9E3779B1u ^ seed ^ static_cast<uint32_t>(i >> 32) * 0x85EBCA77u;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    const float f = (x >> 8) * (2.0f / 16777216.0f) - 1.0f;
    // Uniform in [-1, 1): bf16 bits by truncation, or the nearest fp16.
    p[i] = fp16 ? __half_as_ushort(__float2half_rn(f)) : static_cast<uint16_t>(__float_as_uint(f) >> 16);
  }
}

inline double Median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The median over `iters` runs of fn() (launches on the default stream), in milliseconds, after 3 warm-up runs.
template <typename F>
double TimeMs(F&& fn, int iters) {
  for (int i = 0; i < 3; ++i) fn();
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  RINGLAB_CUDA_CHECK(cudaEventCreate(&a));
  RINGLAB_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<float> ts;
  for (int i = 0; i < iters; ++i) {
    RINGLAB_CUDA_CHECK(cudaEventRecord(a));
    fn();
    RINGLAB_CUDA_CHECK(cudaEventRecord(b));
    RINGLAB_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    RINGLAB_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    ts.push_back(ms);
  }
  RINGLAB_CUDA_CHECK(cudaEventDestroy(a));
  RINGLAB_CUDA_CHECK(cudaEventDestroy(b));
  return Median(ts);
}

}  // namespace ringlab::bench
