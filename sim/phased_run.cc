#include "sim/phased_run.h"

#include <algorithm>

#include "sim/simulate.h"

namespace ringlab::sim {

// Sums and checks over a suffix of a rank's compute stream in O(segments): prefix arrays over each source program's
// compute ops (durations, and how many wait for more than one comm op done or posted).
class ComputeSuffixIndex {
 public:
  explicit ComputeSuffixIndex(const ProgramTable& t) : t_(t) {
    for (const RankProgram& p : t.sources()) {
      const auto& ops = p.streams[0];
      std::vector<TimePs> dur(ops.size() + 1, 0);
      std::vector<int32_t> bad(ops.size() + 1, 0);
      for (size_t i = 0; i < ops.size(); ++i) {
        dur[i + 1] = dur[i] + ops[i].dur_ps;
        bad[i + 1] = bad[i] + (WaitsBeyondAllGather(ops[i]) ? 1 : 0);
      }
      dur_.push_back(std::move(dur));
      bad_.push_back(std::move(bad));
    }
  }
  // A compute op of phase 2 may wait only for the all-gather (the first comm op), done or posted.
  static bool WaitsBeyondAllGather(const SimOp& op) { return op.need_done[1] > 1 || op.need_posted > 1; }

  // Sum of dur_ps over compute positions [begin, Size) of `rank`; false in *ok when any of them waits beyond the
  // all-gather.
  TimePs Suffix(int rank, int begin, bool* ok) const {
    const ProgramTable::RankEntry& e = t_.ranks_[rank];
    TimePs sum = 0;
    for (const ProgramTable::Segment& s : e.seg[0]) {
      const int lo = std::max(begin, s.begin), hi = s.end;
      if (lo >= hi) continue;
      sum += dur_[s.body_src][s.body_begin + hi - s.begin] - dur_[s.body_src][s.body_begin + lo - s.begin];
      if (s.plain) {
        *ok = *ok && bad_[s.body_src][s.body_begin + hi - s.begin] == bad_[s.body_src][s.body_begin + lo - s.begin];
      } else if (s.shift_done[1] == 0 && s.shift_posted == 0) {
        *ok = *ok && bad_[s.dep_src][s.dep_begin + hi - s.begin] == bad_[s.dep_src][s.dep_begin + lo - s.begin];
      } else {
        for (int pos = lo; pos < hi && *ok; ++pos) *ok = !WaitsBeyondAllGather(t_.Op(rank, 0, pos));
      }
    }
    return sum;
  }

 private:
  const ProgramTable& t_;
  std::vector<std::vector<TimePs>> dur_;
  std::vector<std::vector<int32_t>> bad_;
};

namespace {

bool IsWorldCollective(const SimOp& op, OpKind kind) {
  return op.kind == kind && op.group_size == 0 && !op.group_with_next;
}

// The phase-1 prefix every rank shares: the compute ops before the first that waits for a comm op. 0 when the
// programs are not of the phased shape (checked for every rank).
int SharedPrefix(const ProgramTable& t) {
  const int w = t.world();
  const int comm = t.Size(0, 1);
  if (comm < 1 || comm > 2) return 0;
  const SimOp gather = t.Op(0, 1, 0);
  if (!IsWorldCollective(gather, OpKind::kAllGather) || gather.need_done[1] != 0) return 0;
  int k0 = 0;
  while (k0 < t.Size(0, 0) && t.Op(0, 0, k0).need_done[1] == 0) ++k0;
  if (k0 == 0 || gather.need_done[0] > k0) return 0;
  std::vector<SimOp> prefix;
  for (int i = 0; i < k0; ++i) {
    prefix.push_back(t.Op(0, 0, i));
    if (prefix.back().need_posted > 1) return 0;
  }
  const SimOp scatter = comm == 2 ? t.Op(0, 1, 1) : SimOp{};
  if (comm == 2 && !IsWorldCollective(scatter, OpKind::kReduceScatter)) return 0;
  for (int r = 0; r < w; ++r) {
    if (t.Size(r, 1) != comm || t.Size(r, 0) < k0 || !(t.Op(r, 1, 0) == gather)) return 0;
    for (int i = 0; i < k0; ++i)
      if (!(t.Op(r, 0, i) == prefix[i])) return 0;
    if (k0 < t.Size(r, 0) && t.Op(r, 0, k0).need_done[1] == 0) return 0;
    if (comm == 2) {
      // The reduce-scatter is posted only once every compute op is done (so nothing computes beside it).
      SimOp s = t.Op(r, 1, 1);
      if (s.need_done[0] != t.Size(r, 0)) return 0;
      s.need_done[0] = scatter.need_done[0];
      s.op_id = scatter.op_id;  // the op count before it differs; op ids only name ops in traces
      if (!(s == scatter)) return 0;
    }
  }
  return k0;
}

// Runs `prog` on every rank with the symmetric engine; false when it cannot prove the run exact.
// `traced` ranks are traced (their ops' ids must be those of `prog`).
Status RunShared(const Topology& topo, const EngineParams& params, RankProgram prog, const TracedRanks& traced,
                 std::vector<RankTotals>* totals, EngineStats* stats, TransferTally* transfers,
                 std::vector<TraceEvent>* events, int* period, bool* exact) {
  const int w = topo.world();
  const ProgramTable table({std::move(prog)}, std::vector<uint32_t>(w, 0));
  *period = FindSymmetryPeriod(topo, table);
  Engine engine(topo, params, table, *period);
  engine.AllowSameTimeRerates();
  for (const auto& [rank, schedule] : traced) engine.TraceRank(rank, schedule);
  RINGLAB_RETURN_IF_ERROR(engine.Run());
  *events = engine.events();
  *exact = !engine.symmetry_broken();
  *totals = engine.totals();
  *stats = engine.stats();
  const int64_t times = w / *period;
  stats->ops *= times;
  stats->events *= times;
  stats->flows *= times;
  *transfers = engine.transfers();
  transfers->Scale(times);
  return Status::Ok();
}

// A traced rank's phase-2 ops, back to back from `start` (each takes its duration, as in RunPhased).
void TracePhaseTwo(const ProgramTable& table, int rank, const RankSchedule& schedule, int k0, TimePs start,
                   std::vector<TraceEvent>* events) {
  for (int pos = k0; pos < table.Size(rank, 0); ++pos) {
    const SimOp op = table.Op(rank, 0, pos);
    events->push_back(OpEvent(rank, schedule, op.op_id, start, start + op.dur_ps));
    start += op.dur_ps;
  }
}

}  // namespace

Status RunPhased(const Topology& topo, const EngineParams& params, const ProgramTable& table,
                 const TracedRanks& traced, PhasedRun* out, bool* applied) {
  *applied = false;
  const int w = topo.world();
  if (w < 2 || table.world() != w) return Status::Ok();
  const int k0 = SharedPrefix(table);
  if (k0 == 0) return Status::Ok();
  const bool backward = table.Size(0, 1) == 2;

  // Phase 1: the all-gather beside the shared prefix.
  RankProgram first;
  for (int i = 0; i < k0; ++i) first.streams[0].push_back(table.Op(0, 0, i));
  first.streams[1].push_back(table.Op(0, 1, 0));
  std::vector<RankTotals> t1;
  int p1 = 0;
  bool exact = false;
  RINGLAB_RETURN_IF_ERROR(RunShared(topo, params, std::move(first), traced, &t1, &out->stats, &out->transfers,
                                    &out->events, &p1, &exact));
  if (!exact) return Status::Ok();
  for (const auto& [rank, schedule] : traced)
    TracePhaseTwo(table, rank, *schedule, k0, t1[rank % p1].end_ps, &out->events);

  // Phase 2: each rank's remaining compute ops, back to back from the end of its phase 1.
  const ComputeSuffixIndex suffix(table);
  out->totals.assign(w, RankTotals{});
  TimePs last_post = 0;
  for (int r = 0; r < w; ++r) {
    RankTotals& m = out->totals[r];
    m = t1[r % p1];
    bool ok = true;
    const TimePs busy = suffix.Suffix(r, k0, &ok);
    if (!ok) return Status::Ok();
    const int64_t ops = table.Size(r, 0) - k0;
    m.compute_ps += busy;
    m.end_ps += busy;  // end_ps was the later of the all-gather's and the prefix's end: phase 2 starts there
    out->stats.ops += ops;
    out->stats.events += ops;
    last_post = std::max(last_post, m.end_ps);
  }
  out->period = p1;

  // Phase 3 (backward): the reduce-scatter, from the last rank's post on.
  if (backward) {
    SimOp scatter = table.Op(0, 1, 1);
    scatter.need_done[0] = scatter.need_done[1] = 0;
    scatter.need_posted = 0;
    RankProgram third;
    third.streams[1].push_back(scatter);
    std::vector<RankTotals> t3;
    EngineStats s3;
    TransferTally x3;
    int p3 = 0;
    std::vector<TraceEvent> unused;
    RINGLAB_RETURN_IF_ERROR(RunShared(topo, params, std::move(third), {}, &t3, &s3, &x3, &unused, &p3, &exact));
    if (!exact) return Status::Ok();
    // A traced rank's reduce-scatter: from its own post (its phase-2 end) to the shared run's end, shifted.
    for (const auto& [rank, schedule] : traced) {
      out->events.push_back(OpEvent(rank, *schedule, table.Op(rank, 1, 1).op_id, out->totals[rank].end_ps,
                                    last_post + t3[rank % p3].end_ps));
    }
    for (int r = 0; r < w; ++r) {
      RankTotals& m = out->totals[r];
      const RankTotals& s = t3[r % p3];
      m.comm_ps += last_post - m.end_ps + s.comm_ps;  // busy from its own post, waiting for the last rank's
      m.end_ps = last_post + s.end_ps;
    }
    out->stats.ops += s3.ops;
    out->stats.events += s3.events;
    out->stats.flows += s3.flows;
    out->transfers.Merge(x3);
    out->period = std::max(p1, p3);
  }
  *applied = true;
  return Status::Ok();
}

}  // namespace ringlab::sim
