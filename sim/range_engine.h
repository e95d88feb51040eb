// The rank-range engine: the general engine's rules (engine.h) for ring pass-KV programs (compute ops and point-to-point
// sends to the next rank / receives from the previous one), run over *ranges* of rank blocks instead of every rank.
//
// Ranks are grouped in blocks of P (the topology's route period: block u is ranks u·P .. u·P + P − 1, and every block
// sees the same routes). A range is a run of consecutive blocks in one dynamic state; it is simulated as P
// representative ranks whose events count once per block. Inside a range every transfer is matched as if its peer
// block were in the same state ("family" elements, counted once per member pair); the transfers that cross to a
// neighbouring range ("crossing" elements, between the last block of one range and the first of the next) are
// simulated separately, with both ends' real states. A range of two or more blocks is exact only while its crossing
// elements equal its family elements (same posts, same flow state, same pending events), checked at the end of each
// time step (within a step the general engine, too, runs ranks one after another, so a neighbour may have posted
// before or after); whenever one differs, the edge block is peeled off as a range of its own (a copy of the state,
// exact at that instant). Within a step only transfer ends feed back into a rank's state, and a twin ending apart
// from its family stops the run. A range also splits
// before its representatives read a program position where its blocks' ops differ (RangeSplitIndex: the head-tail
// junction moves one rank per ring step). Neighbouring ranges whose whole state (ranks, pending events, flows,
// crossing elements) coincides are merged at the end of each time step. Per-rank totals are kept per range since its
// last split or merge and added to its blocks then (integer picoseconds: exact in any order).
//
// The result equals the general engine's only if events of one time commute; the engine applies the symmetric run's
// checks (no port shared; with compute slowed beside comm, no compute end at a rank's comm completion) and stops
// with broken() set on any violation or any case it does not handle; the caller then runs the general engine.
// Like the phased run it lets a rank's compute start or stop at the instant one of its flows starts or ends (only the
// stale-event count can depend on that order, and it does now and then under windows and documents, where ranges
// split and run one instant's events in another order than the general engine: sim/README.md "Large W").
#pragma once

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/engine.h"
#include "sim/engine_params.h"
#include "sim/program_table.h"
#include "sim/range_split_index.h"
#include "sim/topology.h"
#include "sim/trace_recorder.h"
#include "sim/transfer_tally.h"

namespace ringlab::sim {

class RangeEngine {
 public:
  // `period`: block size P >= 2 (routes repeat every P ranks; W / P >= 3). All must outlive the engine.
  RangeEngine(const Topology& topology, const EngineParams& params, const ProgramTable& table,
              const RangeSplitIndex& index, int period);
  // Records one trace event per op of `rank` (any rank: it does what its block's range representative does);
  // `schedule` is that rank's schedule. Call before Run.
  void TraceRank(int rank, const RankSchedule* schedule) { traced_.Add(rank, schedule); }
  Status Run();
  const std::vector<TraceEvent>& events() const { return traced_.events(); }
  bool broken() const { return !why_broken_.empty(); }
  const std::string& why_broken() const { return why_broken_; }
  const std::vector<RankTotals>& totals() const { return totals_; }  // per rank, after Run
  const EngineStats& stats() const { return stats_; }
  const TransferTally& transfers() const { return transfers_; }
  int max_ranges() const { return max_ranges_; }  // the most ranges alive at once
  // Splits where the blocks' programs differ, peels of an edge whose crossing transfer differed, merges.
  int64_t program_splits() const { return program_splits_; }
  int64_t edge_peels() const { return edge_peels_; }
  int64_t merges() const { return merges_; }

  struct Pend {  // a posted, unmatched send or receive (its peer is implied by where it is stored)
    int32_t tag, pos;
    TimePs ready;
    bool ring;  // the poster's group is a ring step (Engine::Pending::ring)
    bool operator==(const Pend&) const = default;
  };

 private:
  enum EventType : uint8_t { kComputeDone = 0, kFlowDone = 1, kWake = 2 };
  enum FlowKind : uint8_t { kInBlock = 0, kFamily = 1, kCrossing = 2 };
  struct Out {  // an event pushed and not yet popped
    TimePs t;
    uint32_t version;
    uint8_t type;
  };
  // One representative rank: Engine::Rank's fields, plus its pending family posts and its outstanding events.
  struct Rep {
    int32_t range = -1, i = 0;
    bool alive = true;
    int32_t next[kStreamCount] = {0, 0}, done[kStreamCount] = {0, 0};
    bool comp_busy = false, comm_busy = false, comp_slow = false, started = false, wake_pushed = false;
    bool first_wait = false, tail_displaced = false, slow_from_start = false;
    uint32_t comp_version = 0;
    double comp_left_ps = 0;
    TimePs comp_last = 0, comp_start = 0;
    int32_t grp_begin = 0, grp_end = 0, grp_left = 0, launch_held_slots = 0;
    TimePs grp_post = 0;  // when the running comm group was posted (a traced op's start)
    TimePs mark = 0, comp_end = -1, last_comp_done = -1, last_comm_done = -1;
    TimePs comp_sched_at = -1;  // when the running op's end was last scheduled
    int32_t comm_waits_for = -1;
    std::vector<Pend> sends_to_me, recvs;  // posted, unmatched, from the previous rank of the same range
    std::vector<Out> out;
    RankTotals tot;  // compute/comm/both since the range's last flush; start/end absolute
  };
  struct Flow {
    FlowKind kind = kInBlock;
    bool alive = true, finished = false, ring = false;
    int32_t src = -1, dst = -1;  // reps
    int32_t src_pos = 0, dst_pos = 0;
    int32_t out_port = 0, in_port = 0;  // port kinds (Topology::Route % 4)
    double left_bytes = 0, rate = 0, scale = 1;
    TimePs last = 0, bytes_end = 0, latency = 0;
    uint32_t version = 0;
    std::vector<Out> out;
  };
  struct Range {
    int32_t lo = 0, hi = 0, left = -1, right = -1;
    bool alive = true, touched = false, dirty = false;
    std::vector<int32_t> rep;                 // P reps
    std::vector<Pend> edge_sends, edge_recvs;  // at block lo's rank 0, from the left range's last rank
    std::vector<int32_t> flows;               // family flows of this range, crossing flows with an end in it
    std::vector<int32_t> hp[kStreamCount];    // per rep: positions below are equal across the blocks
    int32_t n() const { return hi - lo + 1; }
  };
  struct Ev {
    TimePs t;
    uint64_t seq;
    uint8_t type;
    int32_t id;
    uint32_t version;
    bool operator>(const Ev& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  // range_engine.cc: ranges, events, splits and merges, totals.
  void Break(const std::string& why) {
    if (why_broken_.empty()) why_broken_ = why;
  }
  void PushRep(int32_t r, TimePs t, uint8_t type, uint32_t version);
  void PushFlow(int32_t f, TimePs t);
  static void TakeOut(std::vector<Out>* out, const Ev& e);
  int64_t Multiplicity(const Ev& e) const;
  int32_t NewRep(Rep copy, int32_t range);  // by value: `copy` may be an element of reps_
  int32_t NewFlow(Flow copy);
  void Touch(int32_t range);
  void Homogenize(int32_t range);
  void Split(int32_t range, int32_t first_unit_of_right);
  bool TryMerge(int32_t left);
  void Flush(int32_t range, TimePs now);
  void MirrorChecks();
  void EndOfStep();
  // Signatures for equality: a rank's state (its outstanding events by time and validity; rep 0's family posts are
  // left to the element sets), a flow (view 0: both positions, 1: the sender's, 2: the receiver's).
  using Sig = std::vector<int64_t>;
  Sig RepSig(int32_t r) const;
  Sig FlowSig(int32_t f, int view) const;
  // The send (hi side) or receive (lo side) elements of a range's family, or of its edge's crossing transfers.
  std::vector<Sig> FamilySet(int32_t range, bool send_side) const;
  std::vector<Sig> CrossingSet(int32_t range, bool hi_side) const;
  std::vector<Sig> InBlockSet(int32_t range) const;
  void Merge(int32_t left);
  void CollectTotals();
  void HandleEvent(const Ev& e);
  Status StallCheck() const;

  // range_rules.cc: Engine's per-rank rules on a representative.
  const SimOp& OpAt(int32_t r, int stream, int pos) const;
  int32_t StreamSize(int32_t r, int stream) const;
  int ActualRank(int32_t r) const;  // the rank a representative's block lo stands for
  void Mark(int32_t r, TimePs now);
  void TryAdvance(int32_t r, TimePs now);
  TimePs ReadyAt(int32_t r, TimePs now) const;
  void DisplaceTail(int32_t r, TimePs now);
  int32_t HeldSlotsBeside(int32_t r, const SimOp& kernel) const;
  bool GroupIsRing(int32_t r) const;
  void UpdateComputeRate(int32_t r, TimePs now);
  void PushCompute(int32_t r, TimePs t);
  void Post(int32_t r, int pos, TimePs now);
  void StartFlow(FlowKind kind, int32_t src, int32_t dst, int src_pos, int dst_pos, int64_t bytes, TimePs extra,
                 bool ring, TimePs now);
  bool PortBusy(int32_t rep, bool egress, FlowKind kind) const;
  void RescheduleFlow(int32_t f, TimePs now);
  double FlowFactor(const Flow& fl) const;
  void ComputeStateChanged(int32_t r, TimePs now);
  void FinishFlow(int32_t f, TimePs now);
  void CompleteComm(int32_t r, int pos, TimePs now);
  void ComputeDone(int32_t r, TimePs now);
  // The op at `pos` of `stream` ended on representative r: an event for every traced rank the range stands for.
  void Record(int32_t r, int stream, int pos, TimePs start, TimePs end);

  const Topology& topo_;
  const EngineParams params_;
  const HardwareProfile& hw_;
  const ProgramTable& table_;
  const RangeSplitIndex& index_;
  const int world_, period_, units_;
  double kernel_first_chance_[2] = {0, 0};  // for 1 and 2 participants
  std::vector<TimePs> first_kernel_at_;     // per rank index i (equal for every block)
  static constexpr unsigned kScratch = 16;
  mutable SimOp scratch_[kScratch];
  mutable unsigned scratch_next_ = 0;
  std::vector<Rep> reps_;
  std::vector<Flow> flows_;
  std::vector<Range> ranges_;
  std::vector<int32_t> touched_, dirty_;
  std::priority_queue<Ev, std::vector<Ev>, std::greater<Ev>> queue_;
  uint64_t seq_ = 0;
  TimePs now_ = 0;
  int alive_ranges_ = 0, max_ranges_ = 0;
  int64_t program_splits_ = 0, edge_peels_ = 0, merges_ = 0;
  std::vector<int64_t> sum_[3];  // per rank: compute/comm/both added by range (difference arrays)
  struct Paint {
    int32_t lo, hi, i;
    TimePs start, end;
  };
  std::vector<Paint> paints_;
  std::vector<RankTotals> totals_;
  EngineStats stats_;
  TransferTally transfers_;
  TraceRecorder traced_;
  std::string why_broken_;
};

}  // namespace ringlab::sim
