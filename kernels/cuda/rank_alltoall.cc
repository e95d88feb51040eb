// RankRunner::AllToAll: the Ulysses all-to-all (OpKind::kAllToAll; semantics in core/ulysses_layout.h) as grouped
// NCCL send/recv on the comm stream: a gather kernel packs every member's part into its slot of the staging buffer
// (ulysses_pack.h), the rank's own slot is copied to its receive slot, ncclGroupStart, U−1 sends and U−1 receives over
// the world communicator (global ranks), ncclGroupEnd, and a second gather unpacks the received slots into the
// destination layout (summing the replicas of K/V heads held by several members, U > Hkv). All of it runs on the
// comm stream, so the op's start/end events (rank_runner.cc) bracket it as they do every other transfer.
//
// Also the ring dimension's communicator: with ulysses > 1 the ring all-gather and reduce-scatter run among the R
// ranks of the rank's ring group, a communicator split from the world's once per Run.
#include <nccl.h>

#include <algorithm>
#include <string>

#include "core/ulysses_layout.h"
#include "kernels/cuda/rank_runner.h"
#include "kernels/cuda/ulysses_pack.h"

namespace ringlab::gpu::detail {
namespace {

// The all-to-all's view of one rank's tensor, from the sequence-sharded kind it moves.
AllToAllShape ShapeOf(BufferKind seq_kind, const UlyssesLayout& l, const Problem& p, int* elem_bytes) {
  const bool kv = seq_kind == BufferKind::kKV || seq_kind == BufferKind::kDKV;
  const bool rows = seq_kind == BufferKind::kLse || seq_kind == BufferKind::kDelta;
  *elem_bytes = seq_kind == BufferKind::kQ || seq_kind == BufferKind::kKV || seq_kind == BufferKind::kDOut ? 2 : 4;
  return AllToAllShape{.members = l.Ulysses(), .halves = kv ? 2 : 1, .batch = p.batch,
                       .all_heads = kv ? p.kv_heads : p.heads, .member_heads = kv ? l.KvHeads() : l.QueryHeads(),
                       .piece = l.PieceTokens(), .inner = rows ? 1 : p.head_dim};
}

}  // namespace

Status RankRunner::AllToAll(const Op& op) {
  const CommGroup group = layout_.UlyssesGroup(r_.rank);
  const int me = layout_.UlyssesIndex(r_.rank);
  const bool to_heads = IsHeadSharded(op.writes[0].kind);
  int es = 2;
  const AllToAllShape shape = ShapeOf(to_heads ? op.reads[0].kind : op.writes[0].kind, layout_, p_, &es);
  const int64_t slot = shape.SlotElems() * es;  // bytes between this rank and one member
  const Buffer* stage = Find(kAllToAllStaging);
  const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
  if (!stage || stage->bytes < 2 * slot * group.size) return Error("all-to-all staging buffer missing or too small");
  const int64_t src_elems = to_heads ? shape.SeqElems() : shape.HeadElems();
  const int64_t dst_elems = to_heads ? shape.HeadElems() : shape.SeqElems();
  if (!src || !dst || src->bytes < src_elems * es || dst->bytes < dst_elems * es)
    return Error("all-to-all op " + std::to_string(op.id) + ": a buffer is missing or smaller than its layout");
  char* send = static_cast<char*>(stage->ptr);
  char* recv = send + slot * group.size;
  const cudaStream_t st = r_.comm_stream;
  RINGLAB_RETURN_IF_ERROR(Kernel(LaunchAllToAllPack(shape, to_heads, src->ptr, send, es, st), "all-to-all pack"));
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemcpyAsync(recv + me * slot, send + me * slot, size_t(slot),
                                               cudaMemcpyDeviceToDevice, st),
                               "cudaMemcpyAsync (all-to-all own slot)"));
  RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupStart(), "ncclGroupStart (all-to-all)"));
  for (int v = 0; v < group.size; ++v) {
    if (v == me) continue;
    const int peer = group.Rank(v);
    RINGLAB_RETURN_IF_ERROR(Nccl(ncclSend(send + v * slot, size_t(slot), ncclInt8, peer, r_.comm, st), "ncclSend"));
    RINGLAB_RETURN_IF_ERROR(Nccl(ncclRecv(recv + v * slot, size_t(slot), ncclInt8, peer, r_.comm, st), "ncclRecv"));
  }
  RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupEnd(), "ncclGroupEnd (all-to-all)"));
  return Kernel(LaunchAllToAllUnpack(shape, to_heads, recv, dst->ptr, es, st), "all-to-all unpack");
}

Status RankRunner::SplitRingComm() {
  const bool collectives = cfg_.method == Method::kAllGather && layout_.Ring() > 1;
  if (cfg_.ulysses <= 1 || !collectives || layout_.Ring() == job_.world) return Status::Ok();
  Busy busy(r_, "splitting the ring communicator");
  // color: the ring group (its Ulysses index); key: the ring position, so the all-gather lands origin-major.
  return Nccl(ncclCommSplit(r_.comm, layout_.UlyssesIndex(r_.rank), layout_.RingIndex(r_.rank), &ring_comm_, nullptr),
              "ncclCommSplit (ring groups)");
}

void RankRunner::ReleaseRingComm(bool failed) {
  if (!ring_comm_) return;
  if (failed) ncclCommAbort(ring_comm_);
  else ncclCommDestroy(ring_comm_);
  ring_comm_ = nullptr;
}

int64_t AllToAllStagingBytes(const Schedule& s, int rank) {
  const ScheduleConfig& c = s.config;
  if (c.ulysses <= 1) return 0;
  int64_t most = 0;  // op.bytes: what the rank sends to the U−1 others, one slot each
  for (const Op& op : s.ranks[rank].ops)
    if (op.kind == OpKind::kAllToAll) most = std::max(most, op.bytes / (c.ulysses - 1));
  return 2 * most * c.ulysses;  // send and receive slots for every member
}

}  // namespace ringlab::gpu::detail
