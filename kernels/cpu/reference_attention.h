// Float64 reference attention on the CPU (Eigen): the numerics oracle every executor and kernel is checked against.
//
// Layout of every tensor: row-major [batch][heads][tokens][head_dim]; K and V carry kv_heads heads, and query head h
// reads kv head h / (heads / kv_heads) (grouped-query attention).
// Mask: with causal set, query row i may attend key column j iff j <= i + diagonal_offset (both counted from the start
// of their blocks), so offset 0 on equal-length blocks is ordinary causal attention.
// With `general` set (a window or document mask, core/mask.h) row i may attend column j iff
// general->Visible(q_global + i, kv_global + j) (the causal fields are then ignored).
// A query row that may attend no key gets out = 0 and lse = -infinity (the identity of the log-sum-exp merge).
//
// Example:
//   AttentionShape s{.batch = 1, .heads = 4, .kv_heads = 2, .q_tokens = 16, .kv_tokens = 16, .head_dim = 64};
//   ReferenceForward(s, MaskSpec{.causal = true}, q, k, v, out, lse);
#pragma once

#include <cstdint>
#include <vector>

#include "core/mask.h"

namespace ringlab::cpu {

struct AttentionShape {
  int batch = 1;
  int heads = 1;
  int kv_heads = 1;
  int64_t q_tokens = 0;
  int64_t kv_tokens = 0;
  int head_dim = 0;
  // Softmax scale; 0 means 1/sqrt(head_dim).
  double scale = 0.0;

  double EffectiveScale() const;
  int64_t QElements() const { return int64_t(batch) * heads * q_tokens * head_dim; }
  int64_t KvElements() const { return int64_t(batch) * kv_heads * kv_tokens * head_dim; }
  int64_t LseElements() const { return int64_t(batch) * heads * q_tokens; }
};

struct MaskSpec {
  bool causal = false;
  int64_t diagonal_offset = 0;  // key j allowed for query i iff j <= i + diagonal_offset
  const Mask* general = nullptr;  // not owned; outlives the call
  int64_t q_global = 0, kv_global = 0;
};

// out: QElements, lse: LseElements (natural log).
void ReferenceForward(const AttentionShape& shape, const MaskSpec& mask, const double* q, const double* k,
                      const double* v, double* out, double* lse);

// Gradients of sum(out * dout). dq: QElements; dk, dv: KvElements. Overwrites (does not accumulate).
void ReferenceBackward(const AttentionShape& shape, const MaskSpec& mask, const double* q, const double* k,
                       const double* v, const double* out, const double* lse, const double* dout, double* dq,
                       double* dk, double* dv);

}  // namespace ringlab::cpu
