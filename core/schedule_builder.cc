// Schedule generation. Dependencies come from buffer hazards, tracked as ops are appended (like CUDA graph capture):
// an op depends on the last writer of every buffer it reads, and on the last writer and the readers since of every
// buffer it writes. Same-stream hazards are already ordered by the stream, and ops of one stream run in id order, so
// only the latest conflicting op on the other stream is kept: every op carries at most one dependency.
#include "core/schedule_builder.h"

#include <algorithm>

#include "core/schedule_mask.h"

namespace ringlab {

AttentionOperands AttentionOperands::Inputs() {
  auto b = [](BufferKind k) { return BufferRef{k, 0}; };
  return AttentionOperands{b(BufferKind::kQ),    b(BufferKind::kKV),    b(BufferKind::kOut), b(BufferKind::kLse),
                           b(BufferKind::kDOut), b(BufferKind::kDelta), b(BufferKind::kDQ),  b(BufferKind::kDKV)};
}

AttentionOperands AttentionOperands::HeadSharded() {
  auto b = [](BufferKind k) { return BufferRef{k, 0}; };
  return AttentionOperands{b(BufferKind::kQHeads),    b(BufferKind::kKVHeads),    b(BufferKind::kOutHeads),
                           b(BufferKind::kLseHeads),  b(BufferKind::kDOutHeads),  b(BufferKind::kDeltaHeads),
                           b(BufferKind::kDQHeads),   b(BufferKind::kDKVHeads)};
}

RankBuilder::RankBuilder(const ScheduleConfig& cfg, const RingView& view)
    : cfg_(cfg),
      view_(view),
      p_(view_.problem),
      ops_(view_.operands),
      sharding_(cfg.sharding, view.size, view.problem),
      mask_(view_.problem.AttentionMask()),
      reach_(RingReach(mask_, sharding_)),
      rank_(view.index),
      w_(view.size) {}

std::vector<AttendBlock> RankBuilder::BlocksFor(int origin) const {
  const int64_t s = Shard(), c = sharding_.ChunkTokens();
  // Masks, and the balanced sharding's chunk lists, go chunk pair by chunk pair (core/schedule_mask.h).
  if (!mask_.IsPlain() || cfg_.sharding == ShardingKind::kBalanced) return MaskedBlocks(mask_, sharding_, rank_, origin);
  AttendBlock whole{.q_begin = 0, .q_end = s, .kv_origin = origin, .kv_begin = 0, .kv_end = s};
  if (!p_.causal) return {whole};
  if (origin == rank_) {  // own shard: local order is monotone in global order, so plain causal
    whole.causal = true;
    return {whole};
  }
  if (cfg_.sharding == ShardingKind::kContiguous) {
    if (origin < rank_) return {whole};  // earlier tokens: all visible
    return {};                           // later tokens: all masked
  }
  // head-tail: chunks (r, 2W−1−r) against (o, 2W−1−o).
  if (origin < rank_) return {AttendBlock{.q_begin = 0, .q_end = s, .kv_origin = origin, .kv_begin = 0, .kv_end = c}};
  return {AttendBlock{.q_begin = c, .q_end = s, .kv_origin = origin, .kv_begin = 0, .kv_end = s}};
}

RankBuilder::BufferUse& RankBuilder::Use(BufferRef ref) {
  // Slots are 0 or 1 (double buffers); everything else uses slot 0, so a flat table indexed by (kind, slot) suffices.
  return uses_[size_t(ref.kind) * 2 + size_t(ref.slot & 1)];
}

int32_t RankBuilder::Append(Op op) {
  op.id = int32_t(out_.ops.size());
  const int self = int(op.stream), other = 1 - self;
  int32_t dep = -1;
  auto consider = [&](int32_t id) {
    if (id >= 0 && int(out_.ops[id].stream) == other) dep = std::max(dep, id);
  };
  for (const BufferRef& r : op.reads) consider(Use(r).last_writer);
  for (const BufferRef& w : op.writes) {
    BufferUse& u = Use(w);
    consider(u.last_writer);
    consider(u.last_reader[other]);
  }
  if (dep >= 0) op.deps.push_back(dep);
  for (const BufferRef& r : op.reads) Use(r).last_reader[self] = op.id;
  for (const BufferRef& w : op.writes) {
    BufferUse& u = Use(w);
    u.last_writer = op.id;
    u.last_reader = {-1, -1};
  }
  out_.ops.push_back(op);
  return op.id;
}

void RankBuilder::DeclareRingBuffers() {
  const int64_t s = Shard();
  const bool multi = w_ > 1;
  const bool ring = cfg_.method == Method::kAllToAll;
  // Head-sharded operands are filled by all-to-alls, not initialised from the inputs.
  const BufferInit input = view_.head_sharded ? BufferInit::kNone : BufferInit::kInput;
  auto add = [&](BufferRef ref, int64_t bytes, BufferInit init) { AddBuffer(ref.kind, ref.slot, bytes, init); };
  add(ops_.q, p_.QBytes(s), input);
  add(ops_.kv, p_.KvBytes(s), input);
  if (multi && ring) {
    // Step t reads slot t % 2 and the first received block lands in slot 1, so W = 2 needs slot 1 alone.
    if (w_ > 2) AddBuffer(BufferKind::kKVRing, 0, p_.KvBytes(s), BufferInit::kNone);
    AddBuffer(BufferKind::kKVRing, 1, p_.KvBytes(s), BufferInit::kNone);
  }
  if (multi && !ring) AddBuffer(BufferKind::kKVGathered, 0, p_.KvBytes(s) * w_, BufferInit::kNone);
  if (multi && cfg_.variants.pack_kv) {
    AddBuffer(BufferKind::kKVPack, 0, p_.KvBytes(s), BufferInit::kNone);
    if (ring && w_ > 2) AddBuffer(BufferKind::kKVPack, 1, p_.KvBytes(s), BufferInit::kNone);
  }
  if (cfg_.pass == Pass::kForward) {
    add(ops_.out, OutBytes(s), BufferInit::kNone);
    add(ops_.lse, F32Rows(s), BufferInit::kNone);
    // A ring of one still attends several blocks under a mask or balanced chunks (BlocksFor), merged one by one.
    const bool several_blocks = multi || !mask_.IsPlain() || cfg_.sharding == ShardingKind::kBalanced;
    if (several_blocks && !cfg_.variants.fused_merge) {
      AddBuffer(BufferKind::kOutPart, 0, OutBytes(s), BufferInit::kNone);
      AddBuffer(BufferKind::kLsePart, 0, F32Rows(s), BufferInit::kNone);
    }
    return;
  }
  // Backward inputs: the forward's out (only to prepare delta, which head-sharded schedules do before the ring) and
  // lse, and dOut.
  if (!view_.head_sharded) add(ops_.out, OutBytes(s), input);
  add(ops_.lse, F32Rows(s), input);
  add(ops_.dout, p_.QBytes(s), input);
  add(ops_.delta, F32Rows(s), BufferInit::kNone);
  add(ops_.dq, OutBytes(s), BufferInit::kZero);
  add(ops_.dkv, DkvBytes(), multi ? BufferInit::kNone : BufferInit::kZero);
  if (multi && ring) {
    for (int slot = 0; slot < 2; ++slot) AddBuffer(BufferKind::kDKVPart, slot, DkvBytes(), BufferInit::kNone);
    if (w_ > 2) AddBuffer(BufferKind::kDKVRing, 0, DkvBytes(), BufferInit::kNone);
    AddBuffer(BufferKind::kDKVRing, 1, DkvBytes(), BufferInit::kNone);
  }
  if (multi && !ring) AddBuffer(BufferKind::kDKVGathered, 0, DkvBytes() * w_, BufferInit::kZero);
}

BufferRef RankBuilder::MaybePack(BufferRef src, int slot, int step) {
  if (!cfg_.variants.pack_kv) return src;
  const BufferRef pack{BufferKind::kKVPack, uint8_t(slot)};
  Op copy{.kind = OpKind::kCopy, .stream = StreamKind::kCompute, .step = step};
  copy.reads.push_back(src);
  copy.writes.push_back(pack);
  copy.bytes = 2 * p_.KvBytes(Shard());
  Append(copy);
  return pack;
}

void RankBuilder::AppendExchange(BufferRef send_buf, BufferRef recv_buf, int64_t bytes, int tag, int step, bool send,
                                 bool recv) {
  if (!send && !recv) return;
  const int group = next_group_++;
  if (send) {
    Op op{.kind = OpKind::kSend, .stream = StreamKind::kComm, .step = step, .peer = Next(), .tag = tag, .group = group};
    op.reads.push_back(send_buf);
    op.bytes = bytes;
    Append(op);
  }
  if (recv) {
    Op op{.kind = OpKind::kRecv, .stream = StreamKind::kComm, .step = step, .peer = Prev(), .tag = tag, .group = group};
    op.writes.push_back(recv_buf);
    op.bytes = bytes;
    Append(op);
  }
}

void RankBuilder::AppendDkvExchange(BufferRef travel, int t, bool have_travel) {
  const int origin = OriginAt(t), tag = 2 * t + 1;
  const int group = next_group_++;
  auto comm = [&](OpKind kind, int peer, BufferRef buf) {
    Op op{.kind = kind, .stream = StreamKind::kComm, .step = t, .peer = peer, .tag = tag, .group = group};
    if (kind == OpKind::kSend) op.reads.push_back(buf);
    else op.writes.push_back(buf);
    op.bytes = DkvBytes();
    Append(op);
  };
  // Send the travelling dK/dV on while the origin's K/V goes on; at its reach, home to the origin (the next rank when
  // the reach is the whole ring). At reach 0 the attention wrote the origin's final dK/dV itself.
  if (have_travel && t <= Reach(origin) && Reach(origin) > 0)
    comm(OpKind::kSend, t < Reach(origin) ? Next() : view_.group.Rank(origin), travel);
  // The previous rank's accumulator for the origin this rank serves next step.
  const int next_origin = OriginAt(t + 1);
  if (t + 1 < w_ && HopNeeded(next_origin, t)) comm(OpKind::kRecv, Prev(), BufferRef{BufferKind::kDKVRing, uint8_t((t + 1) % 2)});
  // This rank's own dK/dV coming home from the rank at its reach.
  if (t > 0 && Reach(rank_) == t) comm(OpKind::kRecv, view_.group.Rank((rank_ + t) % w_), ops_.dkv);
}

void RankBuilder::AppendCollective(OpKind kind, BufferRef read, BufferRef write, int64_t bytes, int tag) {
  Op op{.kind = kind, .stream = StreamKind::kComm, .step = 0, .tag = tag};
  op.reads.push_back(read);
  op.writes.push_back(write);
  op.bytes = bytes;
  Append(op);
}

void RankBuilder::Forward() {
  const bool ring = cfg_.method == Method::kAllToAll;
  const int64_t kv_bytes = p_.KvBytes(Shard());
  const double flops_per_pair = 4.0 * p_.batch * p_.heads * p_.head_dim;
  const BufferRef gathered{BufferKind::kKVGathered, 0};
  if (!ring && w_ > 1) {
    const BufferRef src = MaybePack(ops_.kv, 0, 0);
    AppendCollective(OpKind::kAllGather, src, gathered, kv_bytes * (w_ - 1), 0);
  }
  // The first block to reach a query chunk overwrites its rows of (out, lse), later ones merge (masked blocks cover
  // one chunk each; a plain schedule's first block covers the whole shard).
  std::vector<bool> written(size_t(sharding_.ChunksPerRank()), false);
  const int64_t chunk = sharding_.ChunkTokens();
  for (int t = 0; t < w_; ++t) {
    const int origin = OriginAt(t);
    // Under a mask the origin's K/V may never have come this far (core/schedule_mask.h).
    const bool have_kv = !ring || t == 0 || HopNeeded(origin, t - 1);
    BufferRef kv = ops_.kv;
    if (t > 0) kv = ring ? BufferRef{BufferKind::kKVRing, uint8_t(t % 2)} : gathered;
    if (ring && t + 1 < w_) {  // post the next step's transfer before this step's compute, so they overlap
      const bool send = HopNeeded(origin, t), recv = HopNeeded(OriginAt(t + 1), t);
      const BufferRef src = send ? MaybePack(kv, t % 2, t) : kv;
      AppendExchange(src, BufferRef{BufferKind::kKVRing, uint8_t((t + 1) % 2)}, kv_bytes, t, t, send, recv);
    }
    if (!have_kv) continue;
    for (AttendBlock block : BlocksFor(origin)) {
      const bool first = !written[size_t(block.q_begin / chunk) % written.size()];
      const bool fused = cfg_.variants.fused_merge || first;
      block.merge = !first && fused;
      Op attend{.kind = OpKind::kAttend, .stream = StreamKind::kCompute, .step = t, .attend = block};
      attend.reads.push_back(ops_.q);
      attend.reads.push_back(kv);
      if (fused) {
        if (block.merge) {
          attend.reads.push_back(ops_.out);
          attend.reads.push_back(ops_.lse);
        }
        attend.writes.push_back(ops_.out);
        attend.writes.push_back(ops_.lse);
      } else {
        attend.writes.push_back(BufferRef{BufferKind::kOutPart, 0});
        attend.writes.push_back(BufferRef{BufferKind::kLsePart, 0});
      }
      attend.flops = flops_per_pair * block.EffectivePairs();
      attend.bytes = p_.QBytes(block.QTokens()) + p_.KvBytes(block.KvTokens()) + OutBytes(block.QTokens());
      Append(attend);
      if (!fused) {
        Op merge{.kind = OpKind::kMerge, .stream = StreamKind::kCompute, .step = t, .attend = block};
        merge.reads.push_back(BufferRef{BufferKind::kOutPart, 0});
        merge.reads.push_back(BufferRef{BufferKind::kLsePart, 0});
        merge.reads.push_back(ops_.out);
        merge.reads.push_back(ops_.lse);
        merge.writes.push_back(ops_.out);
        merge.writes.push_back(ops_.lse);
        merge.bytes = 3 * (OutBytes(block.QTokens()) + F32Rows(block.QTokens()));
        Append(merge);
      }
      for (int64_t c = block.q_begin / chunk; c * chunk < block.q_end; ++c) written[size_t(c) % written.size()] = true;
    }
  }
}

void RankBuilder::Backward() {
  const bool ring = cfg_.method == Method::kAllToAll;
  const int64_t kv_bytes = p_.KvBytes(Shard());
  const double flops_per_pair = 2.5 * 4.0 * p_.batch * p_.heads * p_.head_dim;
  const BufferRef gathered{BufferKind::kKVGathered, 0};
  const BufferRef dkv_gathered{BufferKind::kDKVGathered, 0};
  const BufferRef dkv_final = ops_.dkv;
  if (!ring && w_ > 1) {
    const BufferRef src = MaybePack(ops_.kv, 0, 0);
    AppendCollective(OpKind::kAllGather, src, gathered, kv_bytes * (w_ - 1), 0);
  }
  if (!view_.head_sharded) AppendPrepare(ops_.dout, ops_.out, ops_.delta, p_, Shard());
  for (int t = 0; t < w_; ++t) {
    const int origin = OriginAt(t);
    const bool have_kv = !ring || t == 0 || HopNeeded(origin, t - 1);  // see Forward
    BufferRef kv = ops_.kv;
    if (t > 0) kv = ring ? BufferRef{BufferKind::kKVRing, uint8_t(t % 2)} : gathered;
    if (ring && t + 1 < w_) {
      const bool send = HopNeeded(origin, t), recv = HopNeeded(OriginAt(t + 1), t);
      const BufferRef src = send ? MaybePack(kv, t % 2, t) : kv;
      AppendExchange(src, BufferRef{BufferKind::kKVRing, uint8_t((t + 1) % 2)}, kv_bytes, 2 * t, t, send, recv);
    }
    // Where this step's dK/dV for `origin` goes: the final buffer (W = 1, or a mask keeps the origin's K/V at home),
    // the origin's slot of the gathered buffer (allgather), or this step's part buffer (ring), summed into the
    // travelling accumulator below.
    BufferRef dkv = w_ == 1 || (ring && Reach(origin) == 0) ? dkv_final
                    : ring ? BufferRef{BufferKind::kDKVPart, uint8_t(t % 2)}
                           : dkv_gathered;
    const std::vector<AttendBlock> blocks = have_kv ? BlocksFor(origin) : std::vector<AttendBlock>{};
    bool first_block = true;
    for (AttendBlock block : blocks) {
      block.merge = !first_block;  // the origin's first block sets its dK/dV, later ones add; dQ always accumulates
      first_block = false;
      Op attend{.kind = OpKind::kAttend, .stream = StreamKind::kCompute, .step = t, .attend = block};
      for (BufferRef b : {ops_.q, ops_.dout, ops_.lse, ops_.delta, ops_.dq}) attend.reads.push_back(b);
      attend.reads.push_back(kv);
      attend.writes.push_back(ops_.dq);
      attend.writes.push_back(dkv);
      attend.flops = flops_per_pair * block.EffectivePairs();
      attend.bytes = 2 * p_.QBytes(block.QTokens()) + p_.KvBytes(block.KvTokens()) + 2 * OutBytes(block.QTokens()) +
                     2 * int64_t(p_.batch) * p_.kv_heads * block.KvTokens() * p_.head_dim * 4;
      Append(attend);
    }
    if (!ring || w_ == 1) continue;
    // Ring: the travelling dK/dV of `origin` = this step's part + what the previous rank accumulated.
    const bool on_path = t <= Reach(origin);
    BufferRef travel = dkv;
    if (on_path && t > 0) {
      travel = BufferRef{BufferKind::kDKVRing, uint8_t(t % 2)};
      if (!blocks.empty()) {
        Op add{.kind = OpKind::kMerge, .stream = StreamKind::kCompute, .step = t};
        add.reads.push_back(dkv);
        add.reads.push_back(travel);
        add.writes.push_back(travel);
        add.bytes = 3 * DkvBytes();
        Append(add);
      }
    }
    AppendDkvExchange(travel, t, on_path);
  }
  if (!ring && w_ > 1) AppendCollective(OpKind::kReduceScatter, dkv_gathered, dkv_final, DkvBytes() * (w_ - 1), 1);
}

void RankBuilder::AppendPrepare(BufferRef dout, BufferRef out, BufferRef delta, const Problem& p, int64_t tokens) {
  Op prepare{.kind = OpKind::kPrepare, .stream = StreamKind::kCompute};
  prepare.reads.push_back(dout);
  prepare.reads.push_back(out);
  prepare.writes.push_back(delta);
  const int64_t f32_rows = int64_t(p.batch) * p.heads * tokens * 4;
  prepare.bytes = p.QBytes(tokens) + f32_rows * p.head_dim + f32_rows;
  Append(prepare);
}

void RankBuilder::RingPass() {
  out_.ops.reserve(out_.ops.size() + size_t(3) * w_ + 8);  // a forward ring step: a send, a receive and an attention
  if (cfg_.pass == Pass::kForward)
    Forward();
  else
    Backward();
}

RankSchedule BuildRankSchedule(const ScheduleConfig& cfg, int rank) {
  if (cfg.ulysses > 1) return BuildUlyssesRank(cfg, rank);
  const RingView view{.problem = cfg.problem, .size = cfg.world, .index = rank,
                      .group = CommGroup{.first = 0, .stride = 1, .size = cfg.world}};
  RankBuilder builder(cfg, view);
  builder.DeclareRingBuffers();
  builder.RingPass();
  return builder.Take();
}

Status BuildSchedule(const ScheduleConfig& cfg, Schedule* out) {
  RINGLAB_RETURN_IF_ERROR(ValidateConfig(cfg));
  out->config = cfg;
  out->ranks.clear();
  out->ranks.reserve(cfg.world);
  for (int r = 0; r < cfg.world; ++r) out->ranks.push_back(BuildRankSchedule(cfg, r));
  return Status::Ok();
}

}  // namespace ringlab
