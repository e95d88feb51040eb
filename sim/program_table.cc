#include "sim/program_table.h"

#include "sim/collective_groups.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <utility>

namespace ringlab::sim {

ProgramTable::ProgramTable(std::vector<RankProgram> programs, std::vector<uint32_t> program_of)
    : sources_(std::move(programs)), ranks_(program_of.size()), distinct_(int(sources_.size())) {
  for (size_t r = 0; r < program_of.size(); ++r) SetWhole(int(r), program_of[r]);
  program_of_ = std::move(program_of);
}

void ProgramTable::SetWhole(int rank, uint32_t src) {
  RankEntry& e = ranks_[rank];
  const RankProgram& p = sources_[src];
  for (int s = 0; s < kStreamCount; ++s) {
    e.size[s] = int32_t(p.streams[s].size());
    for (Segment& seg : e.seg[s]) seg = Segment{};
    e.seg[s][0].body_src = e.seg[s][0].dep_src = src;
    e.seg[s][0].end = e.size[s];
    for (int i = 1; i < kMaxSegments; ++i) e.seg[s][i].begin = e.seg[s][i].end = e.size[s];
  }
  e.flops = p.flops;
  e.memory_bytes = p.memory_bytes;
  e.id = src;
}

SimOp ProgramTable::Shifted(const Segment& s, int stream, int pos, const SimOp& body) const {
  const SimOp& dep = sources_[s.dep_src].streams[stream][s.dep_begin + pos - s.begin];
  SimOp op = body;
  op.op_id = dep.op_id + s.shift_id;
  for (int i = 0; i < kStreamCount; ++i) op.need_done[i] = dep.need_done[i] > 0 ? dep.need_done[i] + s.shift_done[i] : 0;
  op.need_posted = dep.need_posted > 0 ? dep.need_posted + s.shift_posted : 0;
  return op;
}

std::vector<int> SampleRanks(int w) {
  std::vector<int> s = {0, 1, 2, w / 2, w - 2, w - 1};
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 10; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s.push_back(int(x % uint64_t(w)));
  }
  return s;
}

namespace {

// A whole compiled rank and where each ring step's ops begin in each stream.
struct Source {
  RankProgram prog;
  // step_start[s][t]: the first position of stream s holding an op of step >= t (t = 0..W; ops are in step order;
  // the final reduce-scatter counts as the last step).
  std::vector<int32_t> step_start[kStreamCount];
  std::vector<double> flops_before;  // per step t: the compute flops of the ops before step t (exact integers)
  bool integral_flops = true;
};

Source CompileSource(const ScheduleConfig& cfg, int rank, const CostModel& cost, bool listed_start_order) {
  const int w = cfg.world;
  const RankSchedule rs = BuildRankSchedule(cfg, rank);
  Source src;
  src.prog = CompileRank(rs, rank, w, cost, listed_start_order);
  for (auto& v : src.step_start) v.assign(w + 1, 0);
  src.flops_before.assign(w + 1, 0);
  int32_t count[kStreamCount] = {0, 0};
  double flops = 0;
  int step = 0;
  auto close_steps_up_to = [&](int t) {  // steps step+1..t begin here
    for (; step < t; ++step) {
      for (int s = 0; s < kStreamCount; ++s) src.step_start[s][step + 1] = count[s];
      src.flops_before[step + 1] = flops;
    }
  };
  for (const Op& op : rs.ops) {
    // The backward reduce-scatter follows every step's ops but carries step 0: it belongs to the last step.
    close_steps_up_to(op.kind == OpKind::kReduceScatter ? w - 1 : std::max(step, int(op.step)));
    ++count[int(op.stream)];
    flops += op.flops;
    if (op.flops != std::floor(op.flops)) src.integral_flops = false;
  }
  close_steps_up_to(w);
  if (!(flops < 0x1p52)) src.integral_flops = false;
  return src;
}

// Builds the splice of rank r (see program_table.h) from sources A (rank W−1), B (rank 0) and M (rank m).
class Splicer {
 public:
  static constexpr int kJunctionSteps = 3;
  Splicer(const Source& a, const Source& b, const Source& m, int m_rank, uint32_t ia, uint32_t ib, uint32_t im)
      : a_(a), b_(b), m_(m), m_rank_(m_rank), ia_(ia), ib_(ib), im_(im) {}
  // Whether rank r can be spliced: its junction lies in the middle of the ring, as rank m's does.
  static bool Splicable(int r, int w) { return r >= kJunctionSteps && r + kJunctionSteps <= w - 2; }
  // Whether the sources have the layout the splice assumes (B's steps after the first are alike; equal buffers).
  bool Consistent(int w) const;
  template <typename Entry, typename Segment>
  void Fill(int r, Entry* e) const;

 private:
  const Source &a_, &b_, &m_;
  int m_rank_;
  uint32_t ia_, ib_, im_;
};

bool Splicer::Consistent(int w) const {
  if (!a_.integral_flops || !b_.integral_flops) return false;
  if (a_.prog.memory_bytes != b_.prog.memory_bytes || m_.prog.memory_bytes != b_.prog.memory_bytes) return false;
  const int j = kJunctionSteps;
  for (int s = 0; s < kStreamCount; ++s) {
    const int32_t step = b_.step_start[s][2] - b_.step_start[s][1];
    for (int t = 1; t + 1 < w; ++t)
      if (b_.step_start[s][t + 1] - b_.step_start[s][t] != step) return false;
    if (m_.step_start[s][m_rank_ + 1 + j] - m_.step_start[s][m_rank_ + 1] != j * step) return false;
  }
  return true;
}

template <typename Entry, typename Segment>
void Splicer::Fill(int r, Entry* e) const {
  const int j = kJunctionSteps;
  int32_t pre[kStreamCount], mid[kStreamCount], junction_end[kStreamCount];
  for (int s = 0; s < kStreamCount; ++s) {
    pre[s] = a_.step_start[s][r + 1];
    mid[s] = m_.step_start[s][m_rank_ + 1];
    junction_end[s] = pre[s] + b_.step_start[s][r + 1 + j] - b_.step_start[s][r + 1];
  }
  for (int s = 0; s < kStreamCount; ++s) {
    Segment* seg = e->seg[s];
    seg[0] = Segment{};
    seg[0].end = pre[s];
    seg[0].body_src = seg[0].dep_src = ia_;
    Segment& jn = seg[1];
    jn = Segment{};
    jn.begin = pre[s];
    jn.end = junction_end[s];
    jn.body_src = ib_;
    jn.body_begin = b_.step_start[s][r + 1];
    jn.dep_src = im_;
    jn.dep_begin = mid[s];
    for (int i = 0; i < kStreamCount; ++i) jn.shift_done[i] = pre[i] - mid[i];
    jn.shift_posted = jn.shift_done[1];
    jn.shift_id = (pre[0] + pre[1]) - (mid[0] + mid[1]);
    jn.plain = false;
    Segment& tail = seg[2];
    tail = Segment{};
    tail.begin = junction_end[s];
    tail.body_src = tail.dep_src = ib_;
    tail.body_begin = tail.dep_begin = b_.step_start[s][r + 1 + j];
    tail.end = tail.begin + int32_t(b_.prog.streams[s].size()) - tail.body_begin;
    for (int i = 0; i < kStreamCount; ++i) tail.shift_done[i] = junction_end[i] - b_.step_start[i][r + 1 + j];
    tail.shift_posted = tail.shift_done[1];
    tail.shift_id = (junction_end[0] + junction_end[1]) - (b_.step_start[0][r + 1 + j] + b_.step_start[1][r + 1 + j]);
    // Equal step layouts (head-tail) need no shift: the tail is then a plain copy of B.
    tail.plain = tail.shift_done[0] == 0 && tail.shift_done[1] == 0 && tail.shift_id == 0;
    e->size[s] = tail.end;
  }
  // Exact: every partial sum is an integer below 2^52, so the order of the additions does not matter.
  e->flops = a_.flops_before[r + 1] + (b_.flops_before.back() - b_.flops_before[r + 1]);
  e->memory_bytes = b_.prog.memory_bytes;
}

// Every rank compiled whole; equal programs stored once (found by hash).
ProgramTable CompileEveryRank(const ScheduleConfig& cfg, const CostModel& cost, bool listed, int64_t* op_count) {
  const int w = cfg.world;
  std::vector<RankProgram> programs;
  std::vector<uint32_t> program_of(w, 0);
  std::unordered_multimap<uint64_t, uint32_t> by_hash;
  *op_count = 0;
  for (int r = 0; r < w; ++r) {
    RankProgram p = CompileRank(BuildRankSchedule(cfg, r), r, w, cost, listed);
    AssignCollectiveGroups(cfg, r, &p);
    *op_count += p.OpCount();
    const uint64_t h = HashProgram(p);
    int found = -1;
    auto [lo, hi] = by_hash.equal_range(h);
    for (auto it = lo; it != hi; ++it)
      if (programs[it->second] == p) found = int(it->second);
    if (found < 0) {
      found = int(programs.size());
      programs.push_back(std::move(p));
      by_hash.emplace(h, uint32_t(found));
    }
    program_of[r] = uint32_t(found);
  }
  return ProgramTable(std::move(programs), std::move(program_of));
}

// Whether rank r's entry in `t` is op for op the whole compile `p`.
bool SameAsWhole(const ProgramTable& t, int r, const RankProgram& p) {
  for (int s = 0; s < kStreamCount; ++s) {
    if (t.Size(r, s) != int32_t(p.streams[s].size())) return false;
    for (int32_t i = 0; i < t.Size(r, s); ++i)
      if (!(t.Op(r, s, i) == p.streams[s][i])) return false;
  }
  return t.Flops(r) == p.flops && t.MemoryBytes(r) == p.memory_bytes;
}

}  // namespace

uint64_t HashProgram(const RankProgram& p) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (int s = 0; s < kStreamCount; ++s) {
    mix(p.streams[s].size());
    for (const SimOp& o : p.streams[s]) {
      mix(uint64_t(o.op_id) << 8 | uint64_t(o.kind) | uint64_t(o.group_with_next) << 40);
      mix(uint64_t(uint32_t(o.need_done[0])) << 32 | uint32_t(o.need_done[1]));
      mix(uint64_t(uint32_t(o.peer_offset)) << 32 | uint32_t(o.tag));
      mix(uint64_t(o.bytes));
      mix(uint64_t(o.dur_ps));
    }
  }
  return h;
}

class ProgramTableBuilder {
 public:
  // The splice of every middle rank (program_table.h), or false when the sources or the sample say it does not hold.
  static bool TrySplice(const ScheduleConfig& cfg, const CostModel& cost, bool listed, ProgramTable* out);
};

bool ProgramTableBuilder::TrySplice(const ScheduleConfig& cfg, const CostModel& cost, bool listed,
                                    ProgramTable* out) {
  const int w = cfg.world;
  const int j = Splicer::kJunctionSteps;
  if (w < 2 * j + 6) return false;
  const int m = w / 2;
  // Whole sources: every rank that cannot be spliced (the ends of the ring), and the middle rank m.
  std::vector<Source> whole;
  std::vector<int> whole_rank;
  ProgramTable t;
  t.ranks_.resize(w);
  for (int r = 0; r < w; ++r)
    if (!Splicer::Splicable(r, w) || r == m) {
      whole.push_back(CompileSource(cfg, r, cost, listed));
      whole_rank.push_back(r);
    }
  auto index_of = [&](int r) { return uint32_t(std::find(whole_rank.begin(), whole_rank.end(), r) - whole_rank.begin()); };
  const uint32_t ia = index_of(w - 1), ib = index_of(0), im = index_of(m);
  const Splicer splicer(whole[ia], whole[ib], whole[im], m, ia, ib, im);
  if (!splicer.Consistent(w)) return false;
  for (const Source& s : whole) t.sources_.push_back(s.prog);
  for (size_t i = 0; i < whole_rank.size(); ++i) t.SetWhole(whole_rank[i], uint32_t(i));
  for (int r = 0; r < w; ++r) {
    if (!Splicer::Splicable(r, w) || r == m) continue;
    splicer.Fill<ProgramTable::RankEntry, ProgramTable::Segment>(r, &t.ranks_[r]);
    t.ranks_[r].id = uint32_t(t.sources_.size() + r);
  }
  t.spliced_ = true;
  // The check: the sampled ranks (and the ranks next to the unspliced ones) compiled whole equal their splices.
  std::vector<int> check = SampleRanks(w);
  for (int r : {j, j + 1, m - 1, m + 1, w - 3 - j, w - 2 - j}) check.push_back(r);
  for (int r : check) {
    if (!Splicer::Splicable(r, w) || r == m) continue;
    if (!SameAsWhole(t, r, CompileRank(BuildRankSchedule(cfg, r), r, w, cost, listed))) return false;
  }
  t.distinct_ = w - int(whole.size()) + int(t.sources_.size());
  *out = std::move(t);
  return true;
}

ProgramTable BuildProgramTable(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above,
                               int64_t* schedule_op_count) {
  const int w = cfg.world;
  const CostModel cost(hw, cfg);
  const bool listed = hw.listed_start_order;
  // Sharing and splicing are proven for whole-world collectives only: Ulysses and hybrid schedules compile every rank.
  if (share_probe_above > 0 && w > share_probe_above && cfg.ulysses <= 1) {
    std::vector<RankProgram> sample;
    bool equal = true;
    for (int r : SampleRanks(w)) {
      RankProgram p = CompileRank(BuildRankSchedule(cfg, r), r, w, cost, listed);
      if (!sample.empty() && !(p == sample.front())) {
        equal = false;
        break;
      }
      if (sample.empty()) sample.push_back(std::move(p));
    }
    if (equal) {
      *schedule_op_count = sample.front().OpCount() * w;
      ProgramTable t(std::move(sample), std::vector<uint32_t>(w, 0));
      t.shared_by_sample_ = true;
      return t;
    }
    ProgramTable t;
    if (ProgramTableBuilder::TrySplice(cfg, cost, listed, &t)) {
      *schedule_op_count = 0;
      for (int r = 0; r < w; ++r) *schedule_op_count += t.OpCount(r);
      return t;
    }
  }
  return CompileEveryRank(cfg, cost, listed, schedule_op_count);
}

ExtrapolationTally TallyRanks(const ProgramTable& table, int* first_rank) {
  const int w = table.world();
  if (!table.spliced()) {
    std::vector<uint32_t> ids(w);
    for (int r = 0; r < w; ++r) ids[r] = table.ProgramId(r);
    return TallyRanks(table.sources(), ids, first_rank);
  }
  // Spliced: per segment from prefix sums over the sources' compute ops (O(segments) per rank, not O(ops)). The sums
  // are of integer picoseconds, exact in int64 and in the double they end in, so the order does not matter.
  struct Prefix {
    std::vector<int64_t> total;
    std::vector<std::array<int64_t, kExtrapolationKinds>> ext;
    std::vector<int32_t> next_ext;  // the first position >= i with an extrapolated op (size when none)
  };
  std::vector<Prefix> pre;
  for (const RankProgram& src : table.sources()) {
    const auto& ops = src.streams[int(StreamKind::kCompute)];
    Prefix p;
    p.total.assign(ops.size() + 1, 0);
    p.ext.assign(ops.size() + 1, {});
    p.next_ext.assign(ops.size() + 1, int32_t(ops.size()));
    for (size_t i = 0; i < ops.size(); ++i) {
      p.total[i + 1] = p.total[i] + ops[i].dur_ps;
      p.ext[i + 1] = p.ext[i];
      p.ext[i + 1][ops[i].extrapolated] += ops[i].dur_ps;
    }
    for (size_t i = ops.size(); i-- > 0;) p.next_ext[i] = ops[i].extrapolated != 0 ? int32_t(i) : p.next_ext[i + 1];
    pre.push_back(std::move(p));
  }
  ExtrapolationTally all;
  if (first_rank) *first_rank = -1;
  const int stream = int(StreamKind::kCompute);
  for (int r = 0; r < w; ++r) {
    int64_t total = 0;
    std::array<int64_t, kExtrapolationKinds> ext{};
    ExtrapolationTally rank;
    for (const ProgramTable::Segment& seg : table.ranks_[r].seg[stream]) {
      if (seg.begin >= seg.end) continue;
      const Prefix& p = pre[seg.body_src];
      const int32_t lo = seg.body_begin, hi = seg.body_begin + seg.end - seg.begin;
      total += p.total[hi] - p.total[lo];
      for (int k = 1; k < kExtrapolationKinds; ++k) ext[k] += p.ext[hi][k] - p.ext[lo][k];
      if (rank.first_op < 0 && p.next_ext[lo] < hi) {
        const SimOp op = table.Op(r, stream, seg.begin + p.next_ext[lo] - lo);
        rank.first_op = op.op_id;
        rank.first_why = Extrapolation(op.extrapolated);
      }
    }
    rank.compute_ps = double(total);
    for (int k = 1; k < kExtrapolationKinds; ++k) rank.extrapolated_ps[k] = double(ext[k]);
    if (first_rank && *first_rank < 0 && rank.first_op >= 0) *first_rank = r;
    all.Merge(rank);
  }
  return all;
}

}  // namespace ringlab::sim
