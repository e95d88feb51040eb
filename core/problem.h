// Problem: the attention shapes a context-parallel run computes, and the FLOP and byte conventions every tool uses.
//
// FLOP convention (FlashAttention's): forward = 4·B·H·S²·D, halved when causal; backward = 2.5 × forward. With a
// window or documents, 4·B·H·D per visible (query, key) pair (core/mask.h).
// Bytes of one K+V block of s tokens = 2·B·Hkv·s·D·sizeof(dtype).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/mask.h"
#include "core/status.h"

namespace ringlab {

enum class DType { kBFloat16, kFloat16, kFloat32, kFloat64 };

std::string_view DTypeName(DType d);
std::optional<DType> ParseDType(std::string_view name);
int DTypeBytes(DType d);

struct Problem {
  int batch = 1;
  int heads = 32;
  int kv_heads = 8;
  int64_t seq = 131072;  // global sequence length
  int head_dim = 128;
  DType dtype = DType::kBFloat16;
  bool causal = true;
  MaskShape mask;  // window and documents narrowing the causal/full mask (core/mask.h); default: none

  Mask AttentionMask() const { return Mask(causal, mask); }

  // Forward FLOPs of the whole (unsharded) problem: 4·B·H·D per visible pair (diagonal counted half when causal).
  double ForwardFlops() const;
  double BackwardFlops() const { return 2.5 * ForwardFlops(); }
  // Bytes of K and V for `tokens` tokens in the problem's dtype.
  int64_t KvBytes(int64_t tokens) const;
  // Bytes of Q (or out) for `tokens` tokens in the problem's dtype.
  int64_t QBytes(int64_t tokens) const;
};

// The embedded default problem: Llama-3-8B attention (32 heads, 8 kv heads, head dim 128), causal, 131072 tokens.
Problem DefaultProblem();

// The largest seq whose square (token pairs) fits int64, and the most batch x heads x seq x dim elements.
inline constexpr int64_t kMaxSeq = 3037000499;
inline constexpr int64_t kMaxElements = int64_t(1) << 56;

// seq <= kMaxSeq, else InvalidArgument "seq must be at most ... (got seq)" (ValidateProblem's check; the mask parser
// runs it before drawing documents, whose count grows with seq).
Status CheckSeqBound(int64_t seq);

// Checks every field; the message names the field and the allowed values.
Status ValidateProblem(const Problem& p);

// "B=1 H=32 Hkv=8 S=131072 D=128 bf16 causal" (window and documents appended: core/mask.h DescribeMask)
std::string Describe(const Problem& p);

}  // namespace ringlab
