// RankRunner: one op of the schedule on the GPU: an attention block (forward or backward kernel), a merge, a copy, the
// backward preprocess, or an NCCL transfer.
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/rank_runner.h"

namespace ringlab::gpu::detail {

const char* RankRunner::KvOf(const Op& op) const {
  const char* kv = nullptr;
  for (const BufferRef& ref : op.reads) {
    if (ref.kind == operands_.kv.kind || ref.kind == BufferKind::kKVRing) kv = Ptr(ref);
    if (ref.kind == BufferKind::kKVGathered) kv = Ptr(ref) + 2 * KvHalf() * Es() * op.attend.kv_origin;
  }
  return kv;
}

Status RankRunner::AttendForward(const Op& op, cudaStream_t st) {
  const AttendBlock& b = op.attend;
  const int64_t d = ap_.head_dim;
  const char* kv = KvOf(op);
  if (!kv) return Error("attend op " + std::to_string(op.id) + " reads no K/V buffer");
  cuda::ForwardParams fp;
  fp.shape = cuda::BlockShape{.batch = ap_.batch, .heads = ap_.heads, .kv_heads = ap_.kv_heads, .q_tokens = b.QTokens(),
                              .kv_tokens = b.KvTokens(), .head_dim = ap_.head_dim, .scale = 0.f, .causal = b.causal,
                              .diagonal_offset = b.diagonal_offset, .element = elem_,
                              .mask = MaskOf(b)};
  fp.q = Ptr(operands_.q) + b.q_begin * d * Es();
  fp.k = kv + b.kv_begin * d * Es();
  fp.v = kv + (KvHalf() + b.kv_begin * d) * Es();
  fp.q_strides = {int64_t(ap_.heads) * s_ * d, s_ * d};
  fp.k_strides = fp.v_strides = {int64_t(ap_.kv_heads) * s_ * d, s_ * d};
  fp.out_acc = reinterpret_cast<float*>(Ptr(op.writes[0])) + b.q_begin * d;
  fp.lse_acc = reinterpret_cast<float*>(Ptr(op.writes[1])) + b.q_begin;
  fp.out_strides = {int64_t(ap_.heads) * s_ * d, s_ * d};
  fp.lse_strides = {int64_t(ap_.heads) * s_, s_};
  fp.mode = (b.merge && op.writes[0].kind == operands_.out.kind) ? cuda::AccumulateMode::kMerge
                                                               : cuda::AccumulateMode::kOverwrite;
  return Kernel(cuda::LaunchForward(fp, st), "LaunchForward");
}

Status RankRunner::AttendBackward(const Op& op, cudaStream_t st) {
  const AttendBlock& b = op.attend;
  const int64_t d = ap_.head_dim;
  const char* kv = KvOf(op);
  if (!kv || op.writes.size() < 2) return Error("backward attend op " + std::to_string(op.id) + " has no K/V or dK/dV");
  const BufferRef target = op.writes[1];
  float* dkv = reinterpret_cast<float*>(Ptr(target));
  if (target.kind == BufferKind::kDKVGathered) dkv += 2 * KvHalf() * b.kv_origin;
  if (!b.merge) {  // the origin's whole dK/dV shard is set: rows outside the block become zero
    const size_t pitch = size_t(s_) * d * 4, height = size_t(2) * ap_.batch * ap_.kv_heads;
    if (b.kv_begin > 0)
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemset2DAsync(dkv, pitch, 0, size_t(b.kv_begin) * d * 4, height, st), "cudaMemset2DAsync"));
    if (b.kv_end < s_)
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemset2DAsync(dkv + b.kv_end * d, pitch, 0, size_t(s_ - b.kv_end) * d * 4, height, st),
                                   "cudaMemset2DAsync"));
  }
  cuda::BackwardParams bp;
  bp.shape = cuda::BlockShape{.batch = ap_.batch, .heads = ap_.heads, .kv_heads = ap_.kv_heads, .q_tokens = b.QTokens(),
                              .kv_tokens = b.KvTokens(), .head_dim = ap_.head_dim, .scale = 0.f, .causal = b.causal,
                              .diagonal_offset = b.diagonal_offset, .element = elem_,
                              .mask = MaskOf(b)};
  const cuda::TensorStrides qs{int64_t(ap_.heads) * s_ * d, s_ * d}, kvs{int64_t(ap_.kv_heads) * s_ * d, s_ * d};
  const cuda::TensorStrides rows{int64_t(ap_.heads) * s_, s_};
  bp.q = Ptr(operands_.q) + b.q_begin * d * Es();
  bp.dout = Ptr(operands_.dout) + b.q_begin * d * Es();
  bp.k = kv + b.kv_begin * d * Es();
  bp.v = kv + (KvHalf() + b.kv_begin * d) * Es();
  bp.lse = reinterpret_cast<const float*>(Ptr(operands_.lse)) + b.q_begin;
  bp.delta = reinterpret_cast<const float*>(Ptr(operands_.delta)) + b.q_begin;
  bp.q_strides = bp.dout_strides = qs;
  bp.k_strides = bp.v_strides = kvs;
  bp.lse_strides = bp.delta_strides = rows;
  bp.dq = reinterpret_cast<float*>(Ptr(op.writes[0])) + b.q_begin * d;
  bp.dq_strides = qs;
  bp.dk = dkv + b.kv_begin * d;
  bp.dv = dkv + KvHalf() + b.kv_begin * d;
  bp.dk_strides = bp.dv_strides = kvs;
  bp.accumulate_dkv = b.merge;
  return Kernel(cuda::LaunchBackward(bp, st), "LaunchBackward");
}

Status RankRunner::NcclOp(const Op& op) {
  switch (op.kind) {
    case OpKind::kSend: {
      const Buffer* b = Find(op.reads[0]);
      if (op.bytes > b->bytes) return Error("send op " + std::to_string(op.id) + " is larger than its buffer");
      return Nccl(ncclSend(b->ptr, size_t(op.bytes), ncclInt8, op.peer, r_.comm, r_.comm_stream), "ncclSend");
    }
    case OpKind::kRecv: {
      const Buffer* b = Find(op.writes[0]);
      if (op.bytes > b->bytes) return Error("recv op " + std::to_string(op.id) + " is larger than its buffer");
      return Nccl(ncclRecv(b->ptr, size_t(op.bytes), ncclInt8, op.peer, r_.comm, r_.comm_stream), "ncclRecv");
    }
    case OpKind::kAllGather: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      if (dst->bytes < src->bytes * layout_.Ring()) return Error("all-gather destination is too small");
      return Nccl(ncclAllGather(src->ptr, dst->ptr, size_t(src->bytes), ncclInt8, RingComm(), r_.comm_stream),
                  "ncclAllGather");
    }
    case OpKind::kReduceScatter: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      if (src->bytes < dst->bytes * layout_.Ring()) return Error("reduce-scatter source is too small");
      return Nccl(ncclReduceScatter(src->ptr, dst->ptr, size_t(dst->bytes / 4), ncclFloat, ncclSum, RingComm(),
                                    r_.comm_stream),
                  "ncclReduceScatter");
    }
    case OpKind::kAllToAll: return AllToAll(op);
    default: return Error("not a communication op");
  }
}

Status RankRunner::Execute(const Op& op, cudaStream_t st) {
  const int64_t d = p_.head_dim;
  switch (op.kind) {
    case OpKind::kAttend: return Error("attend ops are issued by IssuePass");
    case OpKind::kMerge: {
      if (op.writes[0].kind == operands_.out.kind) {  // forward, unfused: log-sum-exp merge of the block's rows
        const AttendBlock& b = op.attend;
        float* out = reinterpret_cast<float*>(Ptr(operands_.out)) + b.q_begin * d;
        float* lse = reinterpret_cast<float*>(Ptr(operands_.lse)) + b.q_begin;
        const float* po = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kOutPart, 0})) + b.q_begin * d;
        const float* pl = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kLsePart, 0})) + b.q_begin;
        return Kernel(LaunchMergeRows(out, lse, po, pl, int64_t(ap_.batch) * ap_.heads, b.QTokens(), d, s_ * d,
                                      s_, st),
                      "merge");
      }
      const Buffer* acc = Find(op.writes[0]);  // backward: travelling dK/dV += this step's part
      return Kernel(LaunchAdd(static_cast<float*>(acc->ptr), reinterpret_cast<const float*>(Ptr(op.reads[0])),
                              acc->bytes / 4, st),
                    "dK/dV add");
    }
    case OpKind::kCopy: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      return Cuda(cudaMemcpyAsync(dst->ptr, src->ptr, size_t(std::min(src->bytes, dst->bytes)), cudaMemcpyDeviceToDevice,
                                  st),
                  "cudaMemcpyAsync (copy op)");
    }
    case OpKind::kPrepare: {
      cuda::BackwardPrepareParams pp;
      pp.batch = p_.batch;
      pp.heads = p_.heads;
      pp.tokens = piece_;  // the prepare runs on the sequence-sharded piece (before any all-to-all)
      pp.head_dim = p_.head_dim;
      pp.element = elem_;
      pp.dout = Ptr(BufferRef{BufferKind::kDOut, 0});
      pp.out = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kOut, 0}));
      pp.dout_strides = pp.out_strides = {int64_t(p_.heads) * piece_ * d, piece_ * d};
      pp.delta = reinterpret_cast<float*>(Ptr(BufferRef{BufferKind::kDelta, 0}));
      pp.delta_strides = {int64_t(p_.heads) * piece_, piece_};
      return Kernel(cuda::LaunchBackwardPrepare(pp, st), "LaunchBackwardPrepare");
    }
    default: return NcclOp(op);
  }
}

}  // namespace ringlab::gpu::detail
