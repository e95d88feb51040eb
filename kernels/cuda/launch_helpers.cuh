// Host-side helpers shared by the attention launchers.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda::detail {

// Raises Kernel's dynamic shared-memory limit to `bytes` once per device. The attribute belongs to the device, so a
// process that drives several GPUs must set it on each (a once-per-process flag made later GPUs fail to launch).
// Kernel is a template argument so that each kernel instantiation keeps its own record.
template <auto Kernel>
cudaError_t EnsureDynamicSharedMemory(int bytes) {
  static std::atomic<uint64_t> configured_devices{0};
  int device = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) return e;
  const bool tracked = device < 64;
  if (tracked && ((configured_devices.load() >> device) & 1)) return cudaSuccess;
  const cudaError_t e = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess && tracked) configured_devices.fetch_or(uint64_t(1) << device);
  return e;
}

// Everything a backward kernel reads from BackwardParams, flattened for the kernel argument buffer.
struct BwdArgs {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  const uint16_t* dout;
  const float* lse;
  const float* delta;
  float* dq;
  float* dk;
  float* dv;
  TensorStrides qs, ks, vs, dos, ls, des, dqs, dks, dvs;
  int kv_heads, group;
  int64_t q_tokens, kv_tokens, offset;
  float scale, scale_log2;
  bool causal, accumulate_dkv;
};

inline BwdArgs MakeBwdArgs(const BackwardParams& p, int head_dim) {
  const BlockShape& s = p.shape;
  BwdArgs a;
  a.q = static_cast<const uint16_t*>(p.q);
  a.k = static_cast<const uint16_t*>(p.k);
  a.v = static_cast<const uint16_t*>(p.v);
  a.dout = static_cast<const uint16_t*>(p.dout);
  a.lse = p.lse;
  a.delta = p.delta;
  a.dq = p.dq;
  a.dk = p.dk;
  a.dv = p.dv;
  a.qs = p.q_strides;
  a.ks = p.k_strides;
  a.vs = p.v_strides;
  a.dos = p.dout_strides;
  a.ls = p.lse_strides;
  a.des = p.delta_strides;
  a.dqs = p.dq_strides;
  a.dks = p.dk_strides;
  a.dvs = p.dv_strides;
  a.kv_heads = s.kv_heads;
  a.group = s.heads / s.kv_heads;
  a.q_tokens = s.q_tokens;
  a.kv_tokens = s.kv_tokens;
  a.offset = s.diagonal_offset;
  a.scale = s.scale > 0.f ? s.scale : 1.f / std::sqrt(static_cast<float>(head_dim));
  a.scale_log2 = a.scale * kLog2e;
  a.causal = s.causal;
  a.accumulate_dkv = p.accumulate_dkv;
  return a;
}

}  // namespace ringlab::cuda::detail
