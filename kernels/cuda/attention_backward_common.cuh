// The device-side argument block of the backward kernels and its construction from BackwardParams. Only included by
// .cu files.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda::detail {

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

inline BwdArgs MakeBwdArgs(const BackwardParams& p) {
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
  a.scale = s.scale > 0.f ? s.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
  a.scale_log2 = a.scale * kLog2e;
  a.causal = s.causal;
  a.accumulate_dkv = p.accumulate_dkv;
  return a;
}

}  // namespace ringlab::cuda::detail
