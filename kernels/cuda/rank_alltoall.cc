// RankRunner::AllToAll: the Ulysses all-to-all (OpKind::kAllToAll; semantics in core/ulysses_layout.h) as grouped
// NCCL send/recv on the comm stream: pack each member's part into a contiguous staging slot (cudaMemcpy2DAsync),
// ncclGroupStart, U−1 sends and U−1 receives over the world communicator (global ranks), ncclGroupEnd, unpack the
// received parts into the destination layout. The rank's own part is copied directly. All of it runs on the comm
// stream, so the op's start/end events (rank_runner.cc) bracket it as they do every other transfer.
//
// Tensors are `halves` × [B][heads][tokens][inner] (halves = 2 for K/V and dK/dV, inner = D or 1 for lse/delta):
// sequence-sharded with every head over the rank's S/W-token piece, head-sharded with the rank's heads over the
// S/R-token ring shard. Head→sequence of replicated K/V heads (U > Hkv) sums the replicas' dK/dV.
#include <nccl.h>

#include <algorithm>
#include <string>

#include "core/ulysses_layout.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/rank_runner.h"

namespace ringlab::gpu::detail {
namespace {

struct Geometry {
  int halves = 1, all_heads = 0, inner = 1;
  int64_t es = 2;
  bool kv = false;
};

Geometry GeometryOf(BufferKind seq_kind, const Problem& p) {
  Geometry g;
  g.kv = seq_kind == BufferKind::kKV || seq_kind == BufferKind::kDKV;
  g.halves = g.kv ? 2 : 1;
  g.all_heads = g.kv ? p.kv_heads : p.heads;
  g.inner = seq_kind == BufferKind::kLse || seq_kind == BufferKind::kDelta ? 1 : p.head_dim;
  g.es = seq_kind == BufferKind::kQ || seq_kind == BufferKind::kKV || seq_kind == BufferKind::kDOut ? 2 : 4;
  return g;
}

}  // namespace

Status RankRunner::AllToAll(const Op& op) {
  const UlyssesLayout l(cfg_);
  const CommGroup group = l.UlyssesGroup(r_.rank);
  const int me = l.UlyssesIndex(r_.rank), u = group.size;
  const bool to_heads = IsHeadSharded(op.writes[0].kind);
  const BufferKind seq_kind = to_heads ? op.reads[0].kind : op.writes[0].kind;
  const Geometry g = GeometryOf(seq_kind, p_);
  const int n = g.kv ? l.KvHeads() : l.QueryHeads();
  const int64_t piece = l.PieceTokens(), shard = l.RingShardTokens(), b = p_.batch;
  const int64_t row = piece * g.inner * g.es;       // one head's tokens of one piece, bytes
  const int64_t part = g.halves * b * n * row;      // one member's part, bytes
  const int64_t half_seq = b * g.all_heads * row;   // one half of the sequence-sharded tensor
  const int64_t half_head = b * n * shard * g.inner * g.es;  // one half of the head-sharded tensor
  const Buffer* stage = Find(kAllToAllStaging);
  if (!stage || stage->bytes < 2 * part * u) return Error("all-to-all staging buffer missing or too small");
  char* send = static_cast<char*>(stage->ptr);
  char* recv = send + part * u;
  char* src = static_cast<char*>(Find(op.reads[0])->ptr);
  char* dst = static_cast<char*>(Find(op.writes[0])->ptr);
  const cudaStream_t st = r_.comm_stream;
  auto copy2d = [&](char* d, int64_t dpitch, const char* s, int64_t spitch, int64_t width, int64_t height) {
    return Cuda(cudaMemcpy2DAsync(d, size_t(dpitch), s, size_t(spitch), size_t(width), size_t(height),
                                  cudaMemcpyDeviceToDevice, st),
                "cudaMemcpy2DAsync (all-to-all)");
  };
  // Member v's part of my source, packed contiguously at slot v of `send`.
  for (int v = 0; v < u; ++v)
    for (int h = 0; h < g.halves; ++h) {
      char* slot = send + v * part + h * (part / g.halves);
      if (to_heads) {  // my piece, heads of v: B rows of n heads
        const int first = g.kv ? l.FirstKvHead(v) : l.FirstQueryHead(v);
        RINGLAB_RETURN_IF_ERROR(copy2d(slot, n * row, src + h * half_seq + first * row, g.all_heads * row, n * row, b));
      } else {  // my heads, v's piece: B·n rows of one piece
        RINGLAB_RETURN_IF_ERROR(copy2d(slot, row, src + h * half_head + v * row, shard * g.inner * g.es, row, b * n));
      }
    }
  RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupStart(), "ncclGroupStart (all-to-all)"));
  for (int v = 0; v < u; ++v) {
    if (v == me) continue;
    const int peer = group.Rank(v);
    RINGLAB_RETURN_IF_ERROR(Nccl(ncclSend(send + v * part, size_t(part), ncclInt8, peer, r_.comm, st), "ncclSend"));
    RINGLAB_RETURN_IF_ERROR(Nccl(ncclRecv(recv + v * part, size_t(part), ncclInt8, peer, r_.comm, st), "ncclRecv"));
  }
  RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupEnd(), "ncclGroupEnd (all-to-all)"));
  const bool sum = !to_heads && g.kv && l.KvReplication() > 1;
  if (sum) RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemsetAsync(dst, 0, size_t(2 * half_seq), st), "cudaMemsetAsync"));
  for (int v = 0; v < u; ++v) {
    const char* from = (v == me ? send : recv) + v * part;
    for (int h = 0; h < g.halves; ++h) {
      const char* slot = from + h * (part / g.halves);
      if (to_heads) {  // v's piece of my heads: tokens [v·piece, (v+1)·piece) of every head row
        RINGLAB_RETURN_IF_ERROR(copy2d(dst + h * half_head + v * row, shard * g.inner * g.es, slot, row, row, b * n));
        continue;
      }
      const int first = g.kv ? l.FirstKvHead(v) : l.FirstQueryHead(v);
      if (!sum) {  // v's heads of my piece
        RINGLAB_RETURN_IF_ERROR(copy2d(dst + h * half_seq + first * row, g.all_heads * row, slot, n * row, n * row, b));
        continue;
      }
      for (int64_t bi = 0; bi < b; ++bi)  // replicated K/V heads: add each replica's dK/dV
        RINGLAB_RETURN_IF_ERROR(Kernel(
            LaunchAdd(reinterpret_cast<float*>(dst + h * half_seq + (bi * g.all_heads + first) * row),
                      reinterpret_cast<const float*>(slot + bi * n * row), n * row / 4, st),
            "dK/dV replica add"));
    }
  }
  return Status::Ok();
}

int64_t AllToAllStagingBytes(const Schedule& s, int rank) {
  const ScheduleConfig& c = s.config;
  if (c.ulysses <= 1) return 0;
  int64_t most = 0;
  for (const Op& op : s.ranks[rank].ops)
    if (op.kind == OpKind::kAllToAll) most = std::max(most, op.bytes / (c.ulysses - 1) * c.ulysses);
  return 2 * most;  // send and receive slots for every member
}

}  // namespace ringlab::gpu::detail
