// Schedule generation. Dependencies come from buffer hazards, tracked as ops are appended (like CUDA graph capture):
// an op depends on the last writer of every buffer it reads, and on the last writer and the readers since of every
// buffer it writes. Same-stream hazards are already ordered by the stream, and ops of one stream run in id order, so
// only the latest conflicting op on the other stream is kept: every op carries at most one dependency.
#include <algorithm>

#include "core/schedule.h"

namespace ringlab {
namespace {

struct BufferUse {
  BufferRef ref;
  int32_t last_writer = -1;
  std::array<int32_t, kStreamCount> last_reader{-1, -1};  // since the last write, per stream
};

class RankBuilder {
 public:
  RankBuilder(const ScheduleConfig& cfg, int rank)
      : cfg_(cfg), p_(cfg.problem), sharding_(cfg.sharding, cfg.world, cfg.problem.seq), rank_(rank), w_(cfg.world) {}

  RankSchedule Build();

 private:
  int Prev() const { return (rank_ - 1 + w_) % w_; }
  int Next() const { return (rank_ + 1) % w_; }
  int64_t Shard() const { return sharding_.ShardTokens(); }
  int64_t F32Rows(int64_t tokens) const { return int64_t(p_.batch) * p_.heads * tokens * 4; }
  int64_t OutBytes(int64_t tokens) const { return F32Rows(tokens) * p_.head_dim; }
  int64_t DkvBytes() const { return 2 * int64_t(p_.batch) * p_.kv_heads * Shard() * p_.head_dim * 4; }

  void AddBuffer(BufferKind kind, int slot, int64_t bytes, BufferInit init) {
    out_.buffers.push_back(BufferInfo{BufferRef{kind, uint8_t(slot)}, bytes, init});
  }
  void DeclareBuffers();
  BufferUse& Use(BufferRef ref);
  int32_t Append(Op op);

  std::vector<AttendBlock> BlocksFor(int origin) const;
  void Forward();
  void Backward();
  // Appends a copy into the pack buffer when the variant packs K/V; returns the buffer to send from.
  BufferRef MaybePack(BufferRef src, int slot, int step);
  void AppendExchange(BufferRef send_buf, BufferRef recv_buf, int64_t bytes, int tag, int step);
  void AppendCollective(OpKind kind, BufferRef read, BufferRef write, int64_t bytes, int tag);

  const ScheduleConfig& cfg_;
  const Problem& p_;
  Sharding sharding_;
  int rank_, w_;
  int next_group_ = 0;
  RankSchedule out_;
  std::array<BufferUse, 2 * (size_t(BufferKind::kDKVGathered) + 1)> uses_{};
};

std::vector<AttendBlock> RankBuilder::BlocksFor(int origin) const {
  const int64_t s = Shard(), c = sharding_.ChunkTokens();
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

BufferUse& RankBuilder::Use(BufferRef ref) {
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

void RankBuilder::DeclareBuffers() {
  const int64_t s = Shard();
  const bool multi = w_ > 1;
  const bool ring = cfg_.method == Method::kAllToAll;
  AddBuffer(BufferKind::kQ, 0, p_.QBytes(s), BufferInit::kInput);
  AddBuffer(BufferKind::kKV, 0, p_.KvBytes(s), BufferInit::kInput);
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
    AddBuffer(BufferKind::kOut, 0, OutBytes(s), BufferInit::kNone);
    AddBuffer(BufferKind::kLse, 0, F32Rows(s), BufferInit::kNone);
    if (multi && !cfg_.variants.fused_merge) {
      AddBuffer(BufferKind::kOutPart, 0, OutBytes(s), BufferInit::kNone);
      AddBuffer(BufferKind::kLsePart, 0, F32Rows(s), BufferInit::kNone);
    }
    return;
  }
  // Backward inputs: the forward's out and lse, and dOut.
  AddBuffer(BufferKind::kOut, 0, OutBytes(s), BufferInit::kInput);
  AddBuffer(BufferKind::kLse, 0, F32Rows(s), BufferInit::kInput);
  AddBuffer(BufferKind::kDOut, 0, p_.QBytes(s), BufferInit::kInput);
  AddBuffer(BufferKind::kDelta, 0, F32Rows(s), BufferInit::kNone);
  AddBuffer(BufferKind::kDQ, 0, OutBytes(s), BufferInit::kZero);
  AddBuffer(BufferKind::kDKV, 0, DkvBytes(), multi ? BufferInit::kNone : BufferInit::kZero);
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

void RankBuilder::AppendExchange(BufferRef send_buf, BufferRef recv_buf, int64_t bytes, int tag, int step) {
  const int group = next_group_++;
  Op send{.kind = OpKind::kSend, .stream = StreamKind::kComm, .step = step, .peer = Next(), .tag = tag, .group = group};
  send.reads.push_back(send_buf);
  send.bytes = bytes;
  Append(send);
  Op recv{.kind = OpKind::kRecv, .stream = StreamKind::kComm, .step = step, .peer = Prev(), .tag = tag, .group = group};
  recv.writes.push_back(recv_buf);
  recv.bytes = bytes;
  Append(recv);
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
    const BufferRef src = MaybePack(BufferRef{BufferKind::kKV, 0}, 0, 0);
    AppendCollective(OpKind::kAllGather, src, gathered, kv_bytes * (w_ - 1), 0);
  }
  bool first = true;
  for (int t = 0; t < w_; ++t) {
    const int origin = (rank_ - t + w_) % w_;
    BufferRef kv{BufferKind::kKV, 0};
    if (t > 0) kv = ring ? BufferRef{BufferKind::kKVRing, uint8_t(t % 2)} : gathered;
    if (ring && t + 1 < w_) {  // post the next step's transfer before this step's compute, so they overlap
      const BufferRef src = MaybePack(kv, t % 2, t);
      AppendExchange(src, BufferRef{BufferKind::kKVRing, uint8_t((t + 1) % 2)}, kv_bytes, t, t);
    }
    for (AttendBlock block : BlocksFor(origin)) {
      const bool fused = cfg_.variants.fused_merge || first;
      block.merge = !first && fused;
      Op attend{.kind = OpKind::kAttend, .stream = StreamKind::kCompute, .step = t, .attend = block};
      attend.reads.push_back(BufferRef{BufferKind::kQ, 0});
      attend.reads.push_back(kv);
      if (fused) {
        if (block.merge) {
          attend.reads.push_back(BufferRef{BufferKind::kOut, 0});
          attend.reads.push_back(BufferRef{BufferKind::kLse, 0});
        }
        attend.writes.push_back(BufferRef{BufferKind::kOut, 0});
        attend.writes.push_back(BufferRef{BufferKind::kLse, 0});
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
        merge.reads.push_back(BufferRef{BufferKind::kOut, 0});
        merge.reads.push_back(BufferRef{BufferKind::kLse, 0});
        merge.writes.push_back(BufferRef{BufferKind::kOut, 0});
        merge.writes.push_back(BufferRef{BufferKind::kLse, 0});
        merge.bytes = 3 * (OutBytes(block.QTokens()) + F32Rows(block.QTokens()));
        Append(merge);
      }
      first = false;
    }
  }
}

void RankBuilder::Backward() {
  const bool ring = cfg_.method == Method::kAllToAll;
  const int64_t kv_bytes = p_.KvBytes(Shard());
  const double flops_per_pair = 2.5 * 4.0 * p_.batch * p_.heads * p_.head_dim;
  const BufferRef gathered{BufferKind::kKVGathered, 0};
  const BufferRef dkv_gathered{BufferKind::kDKVGathered, 0};
  const BufferRef dkv_final{BufferKind::kDKV, 0};
  if (!ring && w_ > 1) {
    const BufferRef src = MaybePack(BufferRef{BufferKind::kKV, 0}, 0, 0);
    AppendCollective(OpKind::kAllGather, src, gathered, kv_bytes * (w_ - 1), 0);
  }
  Op prepare{.kind = OpKind::kPrepare, .stream = StreamKind::kCompute};
  prepare.reads.push_back(BufferRef{BufferKind::kDOut, 0});
  prepare.reads.push_back(BufferRef{BufferKind::kOut, 0});
  prepare.writes.push_back(BufferRef{BufferKind::kDelta, 0});
  prepare.bytes = p_.QBytes(Shard()) + OutBytes(Shard()) + F32Rows(Shard());
  Append(prepare);
  for (int t = 0; t < w_; ++t) {
    const int origin = (rank_ - t + w_) % w_;
    BufferRef kv{BufferKind::kKV, 0};
    if (t > 0) kv = ring ? BufferRef{BufferKind::kKVRing, uint8_t(t % 2)} : gathered;
    if (ring && t + 1 < w_) {
      const BufferRef src = MaybePack(kv, t % 2, t);
      AppendExchange(src, BufferRef{BufferKind::kKVRing, uint8_t((t + 1) % 2)}, kv_bytes, 2 * t, t);
    }
    // Where this step's dK/dV for `origin` goes: the final buffer (W = 1), the origin's slot of the gathered buffer
    // (allgather), or this step's part buffer (ring), summed into the travelling accumulator below.
    BufferRef dkv = w_ == 1 ? dkv_final : ring ? BufferRef{BufferKind::kDKVPart, uint8_t(t % 2)} : dkv_gathered;
    const std::vector<AttendBlock> blocks = BlocksFor(origin);
    for (AttendBlock block : blocks) {
      block.merge = false;  // dK/dV of this block overwrite; dQ always accumulates
      Op attend{.kind = OpKind::kAttend, .stream = StreamKind::kCompute, .step = t, .attend = block};
      for (BufferKind k : {BufferKind::kQ, BufferKind::kDOut, BufferKind::kLse, BufferKind::kDelta, BufferKind::kDQ})
        attend.reads.push_back(BufferRef{k, 0});
      attend.reads.push_back(kv);
      attend.writes.push_back(BufferRef{BufferKind::kDQ, 0});
      attend.writes.push_back(dkv);
      attend.flops = flops_per_pair * block.EffectivePairs();
      attend.bytes = 2 * p_.QBytes(block.QTokens()) + p_.KvBytes(block.KvTokens()) + 2 * OutBytes(block.QTokens()) +
                     2 * int64_t(p_.batch) * p_.kv_heads * block.KvTokens() * p_.head_dim * 4;
      Append(attend);
    }
    if (!ring || w_ == 1) continue;
    // Ring: the travelling dK/dV of `origin` = this step's part + what the previous rank accumulated.
    BufferRef travel = dkv;
    if (t > 0) {
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
    const BufferRef recv_into = t + 1 < w_ ? BufferRef{BufferKind::kDKVRing, uint8_t((t + 1) % 2)} : dkv_final;
    AppendExchange(travel, recv_into, DkvBytes(), 2 * t + 1, t);
  }
  if (!ring && w_ > 1) AppendCollective(OpKind::kReduceScatter, dkv_gathered, dkv_final, DkvBytes() * (w_ - 1), 1);
}

RankSchedule RankBuilder::Build() {
  DeclareBuffers();
  out_.ops.reserve(size_t(3) * w_ + 8);  // a forward ring step: a send, a receive and an attention
  if (cfg_.pass == Pass::kForward)
    Forward();
  else
    Backward();
  return std::move(out_);
}

}  // namespace

RankSchedule BuildRankSchedule(const ScheduleConfig& cfg, int rank) { return RankBuilder(cfg, rank).Build(); }

Status BuildSchedule(const ScheduleConfig& cfg, Schedule* out) {
  RINGLAB_RETURN_IF_ERROR(ValidateConfig(cfg));
  out->config = cfg;
  out->ranks.clear();
  out->ranks.reserve(cfg.world);
  for (int r = 0; r < cfg.world; ++r) out->ranks.push_back(BuildRankSchedule(cfg, r));
  return Status::Ok();
}

}  // namespace ringlab
