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

// fn() between events a and b on the default stream, waited for: its time in milliseconds.
template <typename F>
float TimeOnceMs(F& fn, cudaEvent_t a, cudaEvent_t b) {
  RINGLAB_CUDA_CHECK(cudaEventRecord(a));
  fn();
  RINGLAB_CUDA_CHECK(cudaEventRecord(b));
  RINGLAB_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  RINGLAB_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

// The median over `iters` runs of fn() (launches on the default stream), in milliseconds.
// sustain_ms == 0: 3 warm-up runs, then each run timed alone (synchronised: short bursts, near boost clocks).
// sustain_ms > 0: fn() back to back for about sustain_ms of GPU time first (the clocks the card's power limit allows
// under this work, as in a training loop), then `iters` back-to-back runs with an event between consecutive ones
// (calibrate/microbench/timing.h times `ringlab calibrate --sustain-ms` the same way).
template <typename F>
double TimeMs(F&& fn, int iters, double sustain_ms = 0) {
  iters = std::max(iters, 1);
  for (int i = 0; i < 3; ++i) fn();
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<cudaEvent_t> ev(iters + 1);
  for (cudaEvent_t& e : ev) RINGLAB_CUDA_CHECK(cudaEventCreate(&e));
  std::vector<float> ts;
  if (sustain_ms > 0) {
    const float once = TimeOnceMs(fn, ev[0], ev[1]);
    const int n = int(std::clamp(sustain_ms / std::max(once, 1e-3f), 1.0, 100000.0));
    for (int i = 0; i < n; ++i) fn();
    for (int i = 0; i < iters; ++i) {
      RINGLAB_CUDA_CHECK(cudaEventRecord(ev[i]));
      fn();
    }
    RINGLAB_CUDA_CHECK(cudaEventRecord(ev[iters]));
    RINGLAB_CUDA_CHECK(cudaEventSynchronize(ev[iters]));
    for (int i = 0; i < iters; ++i) {
      float ms = 0;
      RINGLAB_CUDA_CHECK(cudaEventElapsedTime(&ms, ev[i], ev[i + 1]));
      ts.push_back(ms);
    }
  } else {
    for (int i = 0; i < iters; ++i) ts.push_back(TimeOnceMs(fn, ev[0], ev[1]));
  }
  for (cudaEvent_t e : ev) RINGLAB_CUDA_CHECK(cudaEventDestroy(e));
  return Median(ts);
}

}  // namespace ringlab::bench
