// What the single-GPU kernel benchmarks (attention_bench.cu, mask_bench.cu) share: random operands on the device,
// the launch parameters of a whole-sequence forward and backward, and the median time of a launch sequence by CUDA
// events.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/attention_kernels.h"
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

// Device operands of one whole-sequence attention: bf16/fp16 inputs, float32 outputs and accumulators.
struct Operands {
  const uint16_t *q, *k, *v, *dout;
  float *out, *lse, *delta, *dq, *dk, *dv;
};

// Layouts of one shape: Q, dO, O and dQ rows per head `qs`; K, V, dK and dV per kv head `kvs`; lse and delta `rows`.
struct Layouts {
  ringlab::cuda::TensorStrides qs, kvs, rows;
};

// The forward in overwrite mode (out, lse written) over the whole sequence of `shape`.
inline ringlab::cuda::ForwardParams WholeForward(const ringlab::cuda::BlockShape& shape, const Operands& o,
                                                 const Layouts& l) {
  ringlab::cuda::ForwardParams fp;
  fp.shape = shape;
  fp.q = o.q;
  fp.k = o.k;
  fp.v = o.v;
  fp.q_strides = fp.out_strides = l.qs;
  fp.k_strides = fp.v_strides = l.kvs;
  fp.out_acc = o.out;
  fp.lse_acc = o.lse;
  fp.lse_strides = l.rows;
  fp.mode = ringlab::cuda::AccumulateMode::kOverwrite;
  return fp;
}

// The backward's preprocess (delta = rowsum(dO * O)) over the whole sequence of `shape`.
inline ringlab::cuda::BackwardPrepareParams WholePrepare(const ringlab::cuda::BlockShape& shape, const Operands& o,
                                                         const Layouts& l) {
  ringlab::cuda::BackwardPrepareParams pp;
  pp.batch = shape.batch;
  pp.heads = shape.heads;
  pp.tokens = shape.q_tokens;
  pp.head_dim = shape.head_dim;
  pp.dout = o.dout;
  pp.out = o.out;
  pp.dout_strides = pp.out_strides = l.qs;
  pp.delta = o.delta;
  pp.delta_strides = l.rows;
  return pp;
}

// The backward over the whole sequence of `shape`: dQ added into (zero it first), dK and dV (per kv head, summed
// over its query heads) overwritten.
inline ringlab::cuda::BackwardParams WholeBackward(const ringlab::cuda::BlockShape& shape, const Operands& o,
                                                   const Layouts& l) {
  ringlab::cuda::BackwardParams bp;
  bp.shape = shape;
  bp.q = o.q;
  bp.k = o.k;
  bp.v = o.v;
  bp.dout = o.dout;
  bp.lse = o.lse;
  bp.delta = o.delta;
  bp.q_strides = bp.dout_strides = bp.dq_strides = l.qs;
  bp.k_strides = bp.v_strides = bp.dk_strides = bp.dv_strides = l.kvs;
  bp.lse_strides = bp.delta_strides = l.rows;
  bp.dq = o.dq;
  bp.dk = o.dk;
  bp.dv = o.dv;
  bp.accumulate_dkv = false;
  return bp;
}

}  // namespace ringlab::bench
