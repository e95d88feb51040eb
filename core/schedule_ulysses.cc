// Ulysses and 2-D hybrid schedules: sequence→head all-to-alls of the inputs inside the rank's Ulysses group, the
// ring part (schedule_builder.cc) over the rank's ring group on head-sharded buffers, and head→sequence all-to-alls
// of the results. Pure Ulysses is the ring degree 1 case (one causal block, no ring traffic).
//
// Order on the comm stream: K/V first (the larger transfer when Hkv/U heads, and the one the ring forwards first),
// then Q; backward also dOut and lse, and delta last, because delta is prepared on the compute stream from the
// sequence-sharded dOut and out while the other all-to-alls run.
#include "core/schedule_builder.h"

namespace ringlab {
namespace {

class UlyssesBuilder {
 public:
  UlyssesBuilder(const ScheduleConfig& cfg, int rank)
      : cfg_(cfg),
        p_(cfg.problem),
        layout_(cfg),
        local_(layout_.LocalProblem()),
        piece_(layout_.PieceTokens()),
        ring_(cfg, RingView{.problem = local_, .size = layout_.Ring(), .index = layout_.RingIndex(rank),
                            .group = layout_.RingGroup(rank), .operands = AttentionOperands::HeadSharded(),
                            .head_sharded = true}) {}

  RankSchedule Build() {
    DeclarePieceBuffers();
    ring_.DeclareRingBuffers();
    if (cfg_.pass == Pass::kForward)
      Forward();
    else
      Backward();
    return ring_.Take();
  }

 private:
  // Bytes of one rank's piece, for the heads one rank of the group holds after the exchange.
  int64_t F32Rows(const Problem& p) const { return int64_t(p.batch) * p.heads * piece_ * 4; }
  int64_t F32Kv(const Problem& p) const { return 2 * int64_t(p.batch) * p.kv_heads * piece_ * p.head_dim * 4; }

  void DeclarePieceBuffers() {
    const bool fwd = cfg_.pass == Pass::kForward;
    const BufferInit out_init = fwd ? BufferInit::kNone : BufferInit::kInput;
    ring_.AddBuffer(BufferKind::kQ, 0, p_.QBytes(piece_), BufferInit::kInput);
    ring_.AddBuffer(BufferKind::kKV, 0, p_.KvBytes(piece_), BufferInit::kInput);
    ring_.AddBuffer(BufferKind::kOut, 0, F32Rows(p_) * p_.head_dim, out_init);
    ring_.AddBuffer(BufferKind::kLse, 0, F32Rows(p_), out_init);
    if (fwd) return;
    ring_.AddBuffer(BufferKind::kDOut, 0, p_.QBytes(piece_), BufferInit::kInput);
    ring_.AddBuffer(BufferKind::kDelta, 0, F32Rows(p_), BufferInit::kNone);
    ring_.AddBuffer(BufferKind::kDQ, 0, F32Rows(p_) * p_.head_dim, BufferInit::kNone);
    ring_.AddBuffer(BufferKind::kDKV, 0, F32Kv(p_), BufferInit::kNone);
  }

  // `per_member`: bytes of the part this rank sends to each other member.
  void AllToAll(BufferKind from, BufferKind to, int64_t per_member) {
    Op op{.kind = OpKind::kAllToAll, .stream = StreamKind::kComm, .step = 0, .tag = next_tag_++};
    op.reads.push_back(BufferRef{from, 0});
    op.writes.push_back(BufferRef{to, 0});
    op.bytes = per_member * (layout_.Ulysses() - 1);
    ring_.Append(op);
  }

  void Forward() {
    AllToAll(BufferKind::kKV, BufferKind::kKVHeads, local_.KvBytes(piece_));
    AllToAll(BufferKind::kQ, BufferKind::kQHeads, local_.QBytes(piece_));
    ring_.RingPass();
    AllToAll(BufferKind::kOutHeads, BufferKind::kOut, F32Rows(local_) * p_.head_dim);
    AllToAll(BufferKind::kLseHeads, BufferKind::kLse, F32Rows(local_));
  }

  void Backward() {
    ring_.AppendPrepare(BufferRef{BufferKind::kDOut, 0}, BufferRef{BufferKind::kOut, 0},
                        BufferRef{BufferKind::kDelta, 0}, p_, piece_);
    AllToAll(BufferKind::kKV, BufferKind::kKVHeads, local_.KvBytes(piece_));
    AllToAll(BufferKind::kQ, BufferKind::kQHeads, local_.QBytes(piece_));
    AllToAll(BufferKind::kDOut, BufferKind::kDOutHeads, local_.QBytes(piece_));
    AllToAll(BufferKind::kLse, BufferKind::kLseHeads, F32Rows(local_));
    AllToAll(BufferKind::kDelta, BufferKind::kDeltaHeads, F32Rows(local_));
    ring_.RingPass();
    AllToAll(BufferKind::kDQHeads, BufferKind::kDQ, F32Rows(local_) * p_.head_dim);
    AllToAll(BufferKind::kDKVHeads, BufferKind::kDKV, F32Kv(local_));
  }

  const ScheduleConfig& cfg_;
  const Problem& p_;
  UlyssesLayout layout_;
  Problem local_;
  int64_t piece_;
  RankBuilder ring_;
  int next_tag_ = 0;
};

}  // namespace

RankSchedule BuildUlyssesRank(const ScheduleConfig& cfg, int rank) { return UlyssesBuilder(cfg, rank).Build(); }

}  // namespace ringlab
