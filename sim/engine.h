// The discrete-event engine: runs compiled rank programs (rank_program.h) over a topology and reports per-rank busy
// time and, for chosen ranks, one trace event per op.
//
// Semantics are core/schedule.h's: per rank a compute and a comm stream, each running its ops in order; an op starts
// when its stream is free and its dependencies are done; consecutive comm ops of one group are posted together and
// the stream is free again when all of them finish (dependents see them done then, as after an NCCL group);
// send/recv match by (sender, receiver, tag) as a rendezvous; all-gather and reduce-scatter match by (tag, first rank
// of their communicator: every rank, or the rank's ring group when ulysses > 1) and run as n−1 ring steps over its n
// ranks (each sends a 1/(n−1) chunk to its successor each step, and starts step k+1 once its step-k send and receive
// are done); all-to-alls match the same way among a Ulysses group (engine_alltoall.cc). A transfer takes latency + bytes / rate, where the rate is the smallest equal share of the two
// ports it uses (egress of the sender, ingress of the receiver), recomputed whenever a flow joins or leaves a port.
// Compute runs (1 + comm_slowdown)× slower while the rank's comm stream is busy. A transfer posted while a compute op
// runs on either end starts only after comm_start_wait × that op's remaining time when the op has at least one CTA
// per SM (NCCL's kernels wait for SMs; a kernel with fewer CTAs leaves them free), and
// runs at comm_rate_beside_compute × its rate while either end computes.
//
// Time is integer picoseconds. Events are ordered by (time, sequence number), so a run is deterministic; the run
// loop checks that time never goes backwards. The engine is an object; nothing is global.
//
//   Engine engine(topology, EngineParams::ForPass(hw, forward, world), programs, program_of_rank);
//   engine.TraceRank(0, &rank0_schedule);
//   Status st = engine.Run();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"
#include "core/trace.h"
#include "sim/engine_params.h"
#include "sim/event_queue.h"
#include "sim/profile.h"
#include "sim/program_table.h"
#include "sim/rank_program.h"
#include "sim/time_ps.h"
#include "sim/topology.h"
#include "sim/trace_recorder.h"
#include "sim/transfer_tally.h"

namespace ringlab::sim {

struct EngineStats {
  int64_t ops = 0;           // ops executed
  int64_t events = 0;        // events popped (including stale ones)
  int64_t flows = 0;         // transfers simulated (collective ring steps count one per rank and step)
};

struct RankTotals {
  TimePs start_ps = 0, end_ps = 0;
  TimePs compute_ps = 0, comm_ps = 0, both_ps = 0;
};

class Engine {
 public:
  // program_of_rank[r] indexes `programs`; both must outlive the engine, and so must `params.profile`.
  //
  // `period` P (a divisor of W; 0 means W) simulates only ranks 0..P−1 as representatives of their classes
  // {r, r+P, r+2P, ...}: valid when shifting every rank by P maps the whole system onto itself (equal programs and
  // equal routes, see FindSymmetryPeriod in simulate.h). Rank r stands for the actual rank r; a message to actual
  // rank d is delivered to representative d mod P as if sent by (sender − (d − d mod P)) mod W, and each transfer
  // uses the ports of the representatives. totals()[r] then holds the totals of every rank of class r. Such a run is
  // exact only while the events of one time commute (see README "Symmetry"); when a transfer would share a port or
  // (with comm_slowdown > 0) a rank's compute end coincides with one of its transfers ending, Run() stops and
  // symmetry_broken() is set, and the caller must run the general engine (period W) instead.
  Engine(const Topology& topology, const EngineParams& params, const std::vector<RankProgram>& programs,
         const std::vector<uint32_t>& program_of_rank, int period = 0);
  // The same over a program table (program_table.h), which must outlive the engine.
  Engine(const Topology& topology, const EngineParams& params, const ProgramTable& table, int period = 0);
  // Records one trace event per op of `rank`; `schedule` is that rank's schedule (for the op facts). In a symmetric
  // run any rank may be traced: it does what its representative r mod P does (trace_recorder.h).
  void TraceRank(int rank, const RankSchedule* schedule);
  Status Run();
  // Calls progress(ops done, ops to run) every 65536 events of Run(): the CLI's progress line on long simulations.
  void SetProgress(std::function<void(int64_t, int64_t)> progress) { progress_ = std::move(progress); }
  // A symmetric run normally stops when a rank's compute starts or stops at the instant one of its flows starts or
  // ends. The flow's timing does not depend on that order (its bytes left are unchanged at that instant and its new
  // rate depends only on the final state: the port shares and whether either end computes); only how many of its
  // events go stale can. The phased run (phased_run.h) allows it; its tests check the event counts at W <= 512.
  void AllowSameTimeRerates() { rerate_order_free_ = true; }

  const std::vector<RankTotals>& totals() const { return totals_; }
  const std::vector<TraceEvent>& events() const { return traced_.events(); }
  const EngineStats& stats() const { return stats_; }
  // Every transfer started (a collective ring step or all-to-all flow counts one) and which are extrapolated
  // (transfer_tally.h); a symmetric run's counts are for its P ranks.
  const TransferTally& transfers() const { return transfers_; }
  int period() const { return period_; }
  bool symmetry_broken() const { return broken_; }

 private:
  enum EventType : uint32_t { kComputeDone = 0, kFlowDone = 1, kWake = 2 };
  std::function<void(int64_t, int64_t)> progress_;
  struct Pending {
    int32_t src, tag, pos;
    TimePs ready;  // when the poster's communication kernel gets SMs (comm_start_wait)
    bool ring;     // the poster's group is a ring step (GroupIsRing); the transfer is one if either end's group is
  };
  // A list that keeps its first N items inline (no heap access in the common case); order is kept on erase. The
  // overflow lives behind a pointer so that the list stays small inside Rank.
  template <typename T, int N>
  struct InlineVec {
    int32_t n = 0;
    T first[N];
    std::unique_ptr<std::vector<T>> rest;
    int32_t size() const { return n; }
    T& operator[](int i) { return i < N ? first[i] : (*rest)[i - N]; }
    void push_back(const T& v) {
      if (n < N) {
        first[n] = v;
      } else {
        if (!rest) rest = std::make_unique<std::vector<T>>();
        rest->push_back(v);
      }
      ++n;
    }
    void erase(int i) {
      for (int j = i; j + 1 < n; ++j) (*this)[j] = (*this)[j + 1];
      if (n > N) rest->pop_back();
      --n;
    }
  };
  // A rank's whole state, its totals included, in one cache-line-aligned record: the general engine's time is mostly
  // memory traffic over W of these.
  // The flows on one port: two inline (the common case), more in port_overflow_[more]; 16 bytes, so a rank's four
  // ports share one cache line.
  struct PortFlows {
    static constexpr int kInline = 2;
    int32_t n = 0;
    int32_t inline_ids[kInline] = {0, 0};
    int32_t more = -1;
  };
  struct alignas(64) Rank {
    int32_t next[kStreamCount] = {0, 0}, done[kStreamCount] = {0, 0};
    uint32_t comp_version = 0;
    // The posted comm group's NCCL kernels wait for this compute op (stream position) to free the SMs: until it ends
    // they hold no SMs, so they slow nothing; -1 when they are not waiting.
    int32_t comm_waits_for = -1;
    int32_t grp_begin = 0, grp_end = 0, grp_left = 0;
    int32_t launch_held_slots = 0;  // slots NCCL's kernel held when the running kernel launched beside it
    bool comp_busy = false, comm_busy = false, comp_slow = false, started = false, wake_pushed = false;
    bool first_wait = false;  // the pass-start transfer waits for the held first kernel's SMs (expected wait)
    bool tail_displaced = false;
    bool slow_from_start = false;  // the running kernel launched beside NCCL's kernel and has run beside it since
    bool grp_ring = false;  // the posted comm group sends and receives with two peers (ComputeGroupIsRing)
    double comp_left_ps = 0;  // work left, in ps at full speed
    TimePs comp_last = 0, comp_start = 0;
    TimePs grp_post = 0, mark = 0;
    TimePs comp_end = -1, last_comp_done = -1, last_comm_done = -1;  // coincidence checks (symmetric runs)
    TimePs first_kernel_at = 0;  // FirstKernelAt
    RankTotals tot;
    PortFlows ports[4];  // port 4 · rank + kind (Topology::PortKind)
    InlineVec<Pending, 2> sends_to_me, recvs;  // posted, unmatched
  };
  // One transfer in flight: exactly one cache line (the rate multiplier of a table-timed transfer, read only when the
  // flow is re-rated, lives in flow_scale_).
  struct alignas(64) Flow {
    int32_t port[2];
    double left_bytes, rate;  // bytes per ps
    TimePs last, bytes_end, latency;
    uint32_t version;
    int32_t src_pos, dst_pos;  // p2p: comm positions; collective and all-to-all: dst_pos = CollectiveKey
    bool collective;
    bool alltoall = false;  // one member's all-to-all traffic through one port kind (engine_alltoall.cc)
    // The (representative) ranks at its ends: ports are numbered 4 · rank + kind.
    int32_t src() const { return port[0] / 4; }
    int32_t dst() const { return port[1] / 4; }
  };
  struct Collective {
    int32_t arrived = 0;
    int64_t chunk = 0;
    std::vector<int32_t> pos, sent, recvd;
    std::vector<TimePs> ready;  // per rank: when its first ring step can start (comm_start_wait)
    std::vector<uint8_t> sending;
    int32_t finished = 0;
    // The communicator: every rank (size 0, arrays indexed by representative) or the members first + i·stride
    // (arrays indexed by member i; group collectives run on the general engine only).
    int32_t first = 0, stride = 1, size = 0;
    int Slot(int rank) const { return size == 0 ? rank : (rank / stride) % size; }
  };
  // An all-to-all of one Ulysses group (engine_alltoall.cc): starts when every member has posted, completes on every
  // member when the last member's flows are done.
  struct AllToAll {
    int32_t first = 0, stride = 1, size = 0, arrived = 0, flows_left = 0;
    int64_t bytes = 0;  // each member sends this much in all (op.bytes)
    std::vector<int32_t> pos;
    std::vector<TimePs> ready;
  };
  // x mod W for 0 <= x < 2W (a rank plus a peer offset) without a division.
  int Wrap(int x) const { return x >= world_ ? x - world_ : x; }
  // The map key of a collective: its tag and the first rank of its communicator.
  int32_t CollectiveKey(int tag, int first) const { return tag * world_ + first; }

  Engine(const Topology& topology, const EngineParams& params, std::shared_ptr<const ProgramTable> owned, int period,
         const ProgramTable* table = nullptr);
  // Valid until 16 more OpAt calls (a shifted op of a spliced program lives in a small ring of scratch copies).
  const SimOp& OpAt(int rank, int stream, int pos) const {
    if (!spliced_) return table_->WholeOp(rank, stream, pos);
    return table_->Op(rank, stream, pos, &scratch_[scratch_next_++ % kScratch]);
  }
  int32_t StreamSize(int rank, int stream) const { return table_->Size(rank, stream); }
  void Push(TimePs t, uint32_t type, uint32_t id, uint32_t version) { queue_.Push(t, {type, id, version}); }
  void Mark(int rank, TimePs now);
  void TryAdvance(int rank, TimePs now);
  // When a communication kernel rank `r` posts at `now` gets SMs: later by comm_start_wait × the running compute op's
  // remaining time (at t = 0 the expected wait over kernel-first participants, `participants` of them).
  TimePs ReadyAt(int r, TimePs now, int participants = 2) const;
  // When rank r's first compute op may start (EngineParams::first_kernel_delay_ps): 0 or the delay.
  TimePs FirstKernelAt(int r) const { return ranks_[r].first_kernel_at; }
  // A transfer just posted waits for the running kernel's first idle slot: when that kernel's last round starts on
  // every slot at once, NCCL's kernel takes some of them and the kernel runs SimOp::displaced_ps longer.
  void DisplaceTail(int r, TimePs now);
  // Slots NCCL's kernel holds beside `kernel` (launched while rank r's comm group is in flight): the SMs it occupies
  // for that transfer (HardwareProfile::HeldSmsFor) × the kernel's CTAs per SM.
  int32_t HeldSlotsBeside(int r, const SimOp& kernel) const;
  void Post(int rank, int pos, TimePs now);
  // Removes and returns (in `match`) the first of `posted` from `src` with `tag`; false when there is none.
  static bool TakePending(InlineVec<Pending, 2>* posted, int src, int tag, Pending* match);
  void CompleteComm(int rank, int pos, TimePs now);
  void UpdateComputeRate(int rank, TimePs now);
  // src/dst: representatives (state); route_src/route_dst: the actual ranks whose route the transfer takes.
  // `alltoall`: an all-to-all flow (collective set too): the link latency, no table scaling (engine_alltoall.cc).
  void StartFlow(int src, int dst, int route_src, int route_dst, int64_t bytes, TimePs extra_latency,
                 bool collective, int src_pos, int dst_pos, TimePs now, bool ring = false, bool alltoall = false);
  // Whether rank r's comm group in flight sends and receives with two peers (a ring step), not one (Rank::grp_ring,
  // set when the group is posted).
  bool GroupIsRing(int r) const { return ranks_[r].grp_ring; }
  bool ComputeGroupIsRing(int r) const;
  // The profile's measured transfer time (HardwareProfile::AllToAllTimeUs / P2pTimeUs) and the SMs NCCL holds
  // (HeldSmsFor), through one-entry memos: every rank of a ring asks the same question at each step, and the table
  // interpolation (logs and exps) was a visible share of the general engine's time.
  double TableTimeUs(bool alltoall, bool ring, int64_t bytes) const;
  double HeldSms(bool collective, bool ring, int64_t bytes) const;
  struct Memo {
    int64_t bytes = -1;
    int32_t key = -1;
    double value = 0;
  };
  mutable Memo table_us_memo_, held_sms_memo_;
  void PushCompute(int rank, TimePs t);
  void Reflow(int port, TimePs now);
  // Rate factor of a flow of table scale `scale`: × comm_rate_beside_compute while either end's compute stream is busy.
  double FlowFactor(const Flow& fl, double scale) const;
  // A rank's compute stream started or stopped: its flows change rate (when comm_rate_beside_compute < 1).
  void ComputeStateChanged(int rank, TimePs now);
  void RescheduleFlow(int32_t f, TimePs now);
  void FinishFlow(int32_t f, TimePs now);
  void TryCollectiveStep(Collective& c, int key, int rank, TimePs now);
  // The ring successor of `rank` in collective c (the next rank of the world, or of its group).
  int CollectiveNext(const Collective& c, int rank) const;
  // All-to-all (engine_alltoall.cc): a member posts; one of its flows is done.
  void PostAllToAll(int rank, int pos, TimePs now, TimePs ready);
  void FinishAllToAllFlow(const Flow& fl, TimePs now);
  void Record(int rank, int stream, int pos, TimePs start, TimePs end);
  // Counts a transfer route_src → route_dst of `bytes` in transfers_ (out_port: its egress port kind).
  void TallyTransfer(int route_src, int route_dst, int out_port, int64_t bytes, bool collective, bool ring,
                     bool alltoall);
  // Run()'s loop; Run() then copies the ranks' totals into totals_.
  Status RunEvents();
  // Rank r's running compute op ends at `now`.
  void ComputeDone(int r, TimePs now);
  // After the last event: an error naming the first op some rank never finished (a deadlock), else Ok.
  Status StallCheck() const;

  const Topology& topo_;
  const EngineParams params_;
  const HardwareProfile& hw_;  // params_.profile: its transfer tables
  static constexpr unsigned kScratch = 16;
  mutable SimOp scratch_[kScratch];
  mutable unsigned scratch_next_ = 0;
  std::shared_ptr<const ProgramTable> owned_;  // the table built by the constructor over programs, if that was used
  const ProgramTable* table_;
  bool spliced_;  // table_->spliced()
  int world_;
  int period_;
  bool symmetric_;      // period_ < world_
  bool broken_ = false;  // a symmetric run met a case it cannot prove exact
  bool rerate_order_free_ = false;  // AllowSameTimeRerates
  // The chance that the pass-start kernel of a rank gets the SMs before a transfer among `participants` ranks (1, 2
  // or W), 1 − (1 − kernel-first fraction)^participants.
  double KernelFirstChance(int participants) const {
    return participants == 1 ? kernel_first_chance_[0] : participants == 2 ? kernel_first_chance_[1]
                                                                           : kernel_first_chance_[2];
  }
  double kernel_first_chance_[3] = {0, 0, 0};  // for 1, 2 and W participants
  std::vector<Rank> ranks_;
  std::vector<RankTotals> totals_;  // copied from ranks_ when Run() returns
  EventQueue queue_;
  std::vector<Flow> flows_;
  // Per flow: p2p on NVLink with a measured time table, the table's time over the line's (rate multiplier), else 1.
  std::vector<double> flow_scale_;
  std::vector<int32_t> free_flows_;
  // A port's flows (ports are numbered 4 · rank + kind; each lives in its rank's record).
  PortFlows& PortAt(int port) { return ranks_[port >> 2].ports[port & 3]; }
  const PortFlows& PortAt(int port) const { return ranks_[port >> 2].ports[port & 3]; }
  int32_t PortFlowAt(const PortFlows& pf, int i) const {
    return i < PortFlows::kInline ? pf.inline_ids[i] : port_overflow_[pf.more][i - PortFlows::kInline];
  }
  void PortAdd(PortFlows* pf, int32_t f);
  void PortRemove(PortFlows* pf, int32_t f);
  std::vector<std::vector<int32_t>> port_overflow_;  // flows beyond a port's inline two
  std::map<int32_t, Collective> collectives_;
  std::map<int32_t, AllToAll> alltoalls_;
  TraceRecorder traced_;  // the traced ranks, by representative (r mod P)
  EngineStats stats_;
  TransferTally transfers_;
};

}  // namespace ringlab::sim
