// Schedule generation internals shared by the ring part (schedule_builder.cc) and the Ulysses all-to-alls around it
// (schedule_ulysses.cc). Not a public header: consumers use BuildSchedule / BuildRankSchedule from schedule.h.
//
// The ring part runs over a RingView: the ring degree and position, the ring's global ranks, the heads attended and
// the buffers attention reads and writes. Plain context parallelism is the view of every rank with all heads and the
// input buffers; a hybrid schedule is the view of the rank's ring group with its head-sharded buffers.
#pragma once

#include <array>
#include <vector>

#include "core/mask.h"
#include "core/schedule.h"
#include "core/ulysses_layout.h"

namespace ringlab {

// Buffers the attention of the ring part reads and writes.
struct AttentionOperands {
  BufferRef q, kv, out, lse, dout, delta, dq, dkv;
  static AttentionOperands Inputs();        // the rank's own inputs and outputs (ulysses = 1)
  static AttentionOperands HeadSharded();   // their head-sharded copies (ulysses > 1)
};

struct RingView {
  Problem problem;   // batch, heads and KV heads one rank attends with; the global sequence
  int size = 1;      // ring degree
  int index = 0;     // this rank's ring position
  CommGroup group;   // global rank of each ring position
  AttentionOperands operands = AttentionOperands::Inputs();
  bool head_sharded = false;  // operands are filled by all-to-alls (not inputs) and delta is prepared before them
};

class RankBuilder {
 public:
  RankBuilder(const ScheduleConfig& cfg, const RingView& view);

  // The ring part: its buffers, then the forward or backward ops.
  void DeclareRingBuffers();
  void RingPass();

  void AddBuffer(BufferKind kind, int slot, int64_t bytes, BufferInit init) {
    out_.buffers.push_back(BufferInfo{BufferRef{kind, uint8_t(slot)}, bytes, init});
  }
  // Appends `op` with its dependency from the buffer hazards (see schedule_builder.cc); returns its id.
  int32_t Append(Op op);
  // delta = rowsum(dout ∘ out) over `tokens` tokens of `p`'s heads (backward preprocess).
  void AppendPrepare(BufferRef dout, BufferRef out, BufferRef delta, const Problem& p, int64_t tokens);
  int NextGroup() { return next_group_++; }
  RankSchedule Take() { return std::move(out_); }

 private:
  struct BufferUse {
    int32_t last_writer = -1;
    std::array<int32_t, kStreamCount> last_reader{-1, -1};  // since the last write, per stream
  };

  int Prev() const { return view_.group.Rank((rank_ - 1 + w_) % w_); }
  int Next() const { return view_.group.Rank((rank_ + 1) % w_); }
  int64_t Shard() const { return sharding_.ShardTokens(); }
  int64_t F32Rows(int64_t tokens) const { return int64_t(p_.batch) * p_.heads * tokens * 4; }
  int64_t OutBytes(int64_t tokens) const { return F32Rows(tokens) * p_.head_dim; }
  int64_t DkvBytes() const { return 2 * int64_t(p_.batch) * p_.kv_heads * Shard() * p_.head_dim * 4; }
  BufferUse& Use(BufferRef ref);

  std::vector<AttendBlock> BlocksFor(int origin) const;
  // Ring hops under a mask (core/schedule_mask.h): origin o's K/V is used at steps 0..Reach(o).
  int OriginAt(int t) const { return (rank_ - t + w_) % w_; }
  int Reach(int origin) const { return (*reach_)[origin]; }
  bool HopNeeded(int origin, int step) const { return Reach(origin) >= step + 1; }
  void Forward();
  void Backward();
  // Appends a copy into the pack buffer when the variant packs K/V; returns the buffer to send from.
  BufferRef MaybePack(BufferRef src, int slot, int step);
  // A ring permute: send to the next rank and receive from the previous one (either may be skipped under a mask).
  void AppendExchange(BufferRef send_buf, BufferRef recv_buf, int64_t bytes, int tag, int step, bool send = true,
                      bool recv = true);
  // Backward under a mask: the step's dK/dV sends (to the next rank, or home to the origin at its reach) and
  // receives (the next travelling accumulator, and this rank's own dK/dV coming home), as one group.
  void AppendDkvExchange(BufferRef travel, int t, bool have_travel);
  void AppendCollective(OpKind kind, BufferRef read, BufferRef write, int64_t bytes, int tag);

  const ScheduleConfig& cfg_;
  RingView view_;
  const Problem& p_;
  const AttentionOperands& ops_;
  Sharding sharding_;
  Mask mask_;
  std::shared_ptr<const std::vector<int>> reach_;
  int rank_, w_;  // ring position and ring degree
  int next_group_ = 0;
  RankSchedule out_;
  std::array<BufferUse, 2 * kBufferKindCount> uses_{};
};

// Builds one rank of a schedule with ulysses > 1 (schedule_ulysses.cc).
RankSchedule BuildUlyssesRank(const ScheduleConfig& cfg, int rank);

}  // namespace ringlab
