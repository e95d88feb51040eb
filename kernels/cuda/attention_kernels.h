// CUDA attention kernels for one ring step: a block of queries against a block of keys/values.
//
// The point of these kernels is the fused merge: the forward kernel folds its partial (out, lse) into running float32
// accumulators in its epilogue, so a ring step needs no separate merge kernels; the backward kernel accumulates into
// float32 dQ and into the float32 dK/dV buffers that travel the ring.
//
// Layout: every tensor is [batch][heads][tokens][head_dim] with contiguous head_dim rows; the batch and head strides
// are given in elements so a block can be a token range inside a larger shard buffer. LSE tensors are
// [batch][heads][tokens] float32 with their own strides. Query head h reads kv head h / (heads / kv_heads).
// Mask: with causal set, query row i may attend key j iff j <= i + diagonal_offset (rows and keys counted from the
// start of their blocks). A row that attends nothing leaves the accumulators unchanged (merge) or writes out = 0,
// lse = -inf (overwrite).
//
// This header is plain C++ (no CUDA types) so host code compiled by g++ can include it.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace ringlab::cuda {

enum class ElementType { kBFloat16, kFloat16 };

struct TensorStrides {
  int64_t batch = 0;  // elements between consecutive batch entries
  int64_t head = 0;   // elements between consecutive heads
};

// A window or document mask (core/mask.h) over global tokens: query row i (global token q = q_global + i) may attend
// key j (global k = kv_global + j) iff max(doc_start[q], q + lo) <= k < min(doc_end[q], q + hi + 1). Both bounds are
// non-decreasing in q, so a tile of rows sees one key interval: kernels skip the key tiles outside it and mask the
// partial ones in registers. The causal fields are ignored when enabled. Kernels are instantiated with and without
// it, so the dense kernels pay nothing.
struct TokenMask {
  bool enabled = false;
  int64_t q_global = 0, kv_global = 0;
  int64_t lo = -(int64_t{1} << 60), hi = int64_t{1} << 60;  // key − query offsets allowed (window; causal: hi <= 0)
  const int32_t* doc_start = nullptr;  // device, per global token: its document's first token; null: one document
  const int32_t* doc_end = nullptr;    // device, per global token: one past its document's last token
};

struct BlockShape {
  int batch = 1;
  int heads = 1;
  int kv_heads = 1;
  int64_t q_tokens = 0;
  int64_t kv_tokens = 0;
  int head_dim = 128;  // 64 or 128; 256 in the warp-specialized kernels (LaunchForwardWs, LaunchBackwardWs) only
  float scale = 0.f;   // 0 means 1/sqrt(head_dim)
  bool causal = false;
  int64_t diagonal_offset = 0;
  ElementType element = ElementType::kBFloat16;
  TokenMask mask;
};

enum class AccumulateMode {
  kOverwrite,  // out_acc, lse_acc := this block's (out, lse)
  kMerge,      // (out_acc, lse_acc) := log-sum-exp merge of themselves with this block's (out, lse)
};

struct ForwardParams {
  BlockShape shape;
  const void* q = nullptr;  // element type per shape.element
  const void* k = nullptr;
  const void* v = nullptr;
  TensorStrides q_strides, k_strides, v_strides;
  float* out_acc = nullptr;  // float32, normalized output
  float* lse_acc = nullptr;  // float32, natural log
  TensorStrides out_strides, lse_strides;
  AccumulateMode mode = AccumulateMode::kMerge;
};

// delta[b,h,i] = sum_d dout[b,h,i,d] * out[b,h,i,d]: FlashAttention-2's backward preprocess.
struct BackwardPrepareParams {
  int batch = 1, heads = 1;
  int64_t tokens = 0;
  int head_dim = 128;
  ElementType element = ElementType::kBFloat16;
  const void* dout = nullptr;  // element type
  const float* out = nullptr;  // float32 (the forward accumulator)
  TensorStrides dout_strides, out_strides;
  float* delta = nullptr;
  TensorStrides delta_strides;
};

struct BackwardParams {
  BlockShape shape;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* dout = nullptr;
  const float* lse = nullptr;
  const float* delta = nullptr;
  TensorStrides q_strides, k_strides, v_strides, dout_strides, lse_strides, delta_strides;
  float* dq = nullptr;  // float32, accumulated (+=)
  float* dk = nullptr;  // float32, [batch][kv_heads][kv_tokens][head_dim]
  float* dv = nullptr;
  TensorStrides dq_strides, dk_strides, dv_strides;
  bool accumulate_dkv = true;  // false: dk/dv := this block's gradient; true: +=
};

// Each returns Status::InvalidArgument for parameters the kernels do not support (the message names the field and the
// allowed values) and Status::Internal for a failed CUDA call. `stream` is a cudaStream_t passed as void* to keep
// CUDA types out of this header.
Status LaunchForward(const ForwardParams& params, void* stream);
// The forward kernels behind LaunchForward, same semantics, tests call each:
//   ws    (attention_forward_ws.cu): TMA producer warp, two ping-pong consumer warpgroups (FlashAttention-3's recipe);
//         sm_90a only; head dims 64, 128 and 256; window/document masks (TokenMask) too. Returns Status::Unavailable
//         where TMA cannot describe the operands (LaunchForward then takes wgmma) or the GPU is not compute
//         capability 9.0.
//   wgmma (attention_forward_wgmma.cu): Hopper warpgroup MMA with cp.async loads, sm_90a only;
//   mma   (attention_forward_mma.cu): mma.sync, any sm_80+ GPU.
// On compute capability 9.0 LaunchForward takes ws, elsewhere mma; RINGLAB_FWD_KERNEL=ws|wgmma|mma overrides (read
// once per process; a Hopper kernel asked for on another GPU falls back to mma). The wgmma launchers return an error on
// other GPUs.
Status LaunchForwardWs(const ForwardParams& params, void* stream);
Status LaunchForwardWgmma(const ForwardParams& params, void* stream);
Status LaunchForwardMma(const ForwardParams& params, void* stream);
Status LaunchBackwardPrepare(const BackwardPrepareParams& params, void* stream);
Status LaunchBackward(const BackwardParams& params, void* stream);
// The backward kernels behind LaunchBackward, same semantics, tests and benchmarks call each:
//   ws    (attention_backward_ws.cu): TMA producer warpgroup, two consumer warpgroups with dK/dV in registers
//         (FlashAttention-3's recipe), dQ added by TMA reduce-add from shared memory; sm_90a only; head dims 64,
//         128 and 256, also with a window/document mask (the other backward kernels: 64 and 128). Returns
//         Status::Unavailable where TMA cannot describe the operands (LaunchBackward then takes wgmma) or the GPU is
//         not compute capability 9.0; window/document masks (TokenMask) too;
//   ws1   (LaunchBackwardWsAtomicDq, same file): the same kernel with dQ added by red.global atomics from the
//         consumers' registers (the ws kernel before TMA reduce-add); Unavailable for TokenMask blocks;
//   wgmma (attention_backward_wgmma.cu): Hopper warpgroup MMA with cp.async loads, sm_90a only;
//   mma   (attention_backward_mma.cu): mma.sync with FlashAttention-2's 2-D warp layout, any sm_80+ GPU.
// On compute capability 9.0 LaunchBackward takes the default of attention_dispatch.cc (kDefaultBackwardKernel),
// elsewhere mma; RINGLAB_BWD_KERNEL=ws|ws1|wgmma|mma overrides (read once per process; a Hopper kernel asked for on
// another GPU falls back to mma).
Status LaunchBackwardWs(const BackwardParams& params, void* stream);
Status LaunchBackwardWsAtomicDq(const BackwardParams& params, void* stream);
Status LaunchBackwardWgmma(const BackwardParams& params, void* stream);
Status LaunchBackwardMma(const BackwardParams& params, void* stream);

}  // namespace ringlab::cuda
