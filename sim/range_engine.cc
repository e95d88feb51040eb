// The rank-range engine's ranges (range_engine.h): events and their multiplicity, splitting a range (program
// differences, an edge whose crossing transfer differs from the family), merging equal neighbours, per-rank totals.
// The per-rank rules are in range_rules.cc.
#include "sim/range_engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace ringlab::sim {

RangeEngine::RangeEngine(const Topology& topology, const EngineParams& params, const ProgramTable& table,
                         const RangeSplitIndex& index, int period)
    : topo_(topology),
      params_(params),
      hw_(*params.profile),
      table_(table),
      index_(index),
      world_(topology.world()),
      period_(period),
      units_(topology.world() / period),
      traced_(period) {
  const double f = params_.kernel_first_fraction;
  for (int i = 0; i < 2; ++i) kernel_first_chance_[i] = f <= 0 ? 0 : 1 - std::pow(1 - std::min(1.0, f), i + 1);
  for (auto& s : sum_) s.assign(size_t(world_ + period_), 0);
}

void RangeEngine::PushRep(int32_t r, TimePs t, uint8_t type, uint32_t version) {
  queue_.push(Ev{t, seq_++, type, r, version});
  reps_[r].out.push_back(Out{t, version, type});
}

void RangeEngine::PushFlow(int32_t f, TimePs t) {
  Flow& fl = flows_[f];
  // Its ends' ranges: a crossing transfer that changes must be compared with both families again.
  Touch(reps_[fl.src].range);
  Touch(reps_[fl.dst].range);
  ++fl.version;
  queue_.push(Ev{t, seq_++, kFlowDone, f, fl.version});
  fl.out.push_back(Out{t, fl.version, kFlowDone});
}

void RangeEngine::TakeOut(std::vector<Out>* out, const Ev& e) {
  for (size_t i = 0; i < out->size(); ++i)
    if ((*out)[i].t == e.t && (*out)[i].version == e.version && (*out)[i].type == e.type) {
      out->erase(out->begin() + long(i));
      return;
    }
}

int64_t RangeEngine::Multiplicity(const Ev& e) const {
  if (e.type != kFlowDone) return ranges_[reps_[e.id].range].n();
  const Flow& fl = flows_[e.id];
  const int64_t n = ranges_[reps_[fl.src].range].n();
  return fl.kind == kInBlock ? n : fl.kind == kFamily ? n - 1 : 1;
}

int32_t RangeEngine::NewRep(Rep copy, int32_t range) {
  const int32_t r = int32_t(reps_.size());
  copy.range = range;
  reps_.push_back(std::move(copy));
  for (const Out& o : reps_[r].out) queue_.push(Ev{o.t, seq_++, o.type, r, o.version});
  return r;
}

int32_t RangeEngine::NewFlow(Flow copy) {
  const int32_t f = int32_t(flows_.size());
  flows_.push_back(std::move(copy));
  for (const Out& o : flows_[f].out) queue_.push(Ev{o.t, seq_++, o.type, f, o.version});
  return f;
}

void RangeEngine::Touch(int32_t id) {
  Range& g = ranges_[id];
  if (!g.touched) g.touched = true, touched_.push_back(id);
  if (!g.dirty) g.dirty = true, dirty_.push_back(id);
}

void RangeEngine::Flush(int32_t id, TimePs now) {
  const Range& g = ranges_[id];
  for (int i = 0; i < period_; ++i) {
    const int32_t r = g.rep[i];
    Mark(r, now);
    RankTotals& t = reps_[r].tot;
    const TimePs v[3] = {t.compute_ps, t.comm_ps, t.both_ps};
    for (int k = 0; k < 3; ++k) {
      sum_[k][size_t(g.lo) * period_ + i] += v[k];
      sum_[k][size_t(g.hi + 1) * period_ + i] -= v[k];
    }
    if (t.start_ps > 0 || t.end_ps > 0) paints_.push_back(Paint{g.lo, g.hi, i, t.start_ps, t.end_ps});
    t = RankTotals{};
  }
}

void RangeEngine::Homogenize(int32_t id) {
  if (ranges_[id].n() < 2) return;
  std::vector<int32_t> units;
  {
    Range& g = ranges_[id];
    for (int i = 0; i < period_; ++i) {
      const Rep& k = reps_[g.rep[i]];
      const int32_t upto[2] = {k.next[0], k.next[1] + index_.max_group() - 1};
      for (int s = 0; s < kStreamCount; ++s) {
        for (int p = g.hp[s][i]; p <= upto[s]; ++p) index_.SplitUnits(i, s, p, g.lo, g.hi, &units);
        g.hp[s][i] = std::max(g.hp[s][i], upto[s] + 1);
      }
    }
  }
  std::sort(units.begin(), units.end());
  units.erase(std::unique(units.begin(), units.end()), units.end());
  program_splits_ += int64_t(units.size());
  for (auto it = units.rbegin(); it != units.rend(); ++it) Split(id, *it + 1);
}

void RangeEngine::Split(int32_t id, int32_t k) {
  Flush(id, now_);
  const int32_t nid = int32_t(ranges_.size());
  ranges_.emplace_back();
  Range& g = ranges_[id];
  Range& h = ranges_[nid];
  h.lo = k;
  h.hi = g.hi;
  g.hi = k - 1;
  h.left = id;
  h.right = g.right;
  ranges_[g.right].left = nid;
  g.right = nid;
  for (int s = 0; s < kStreamCount; ++s) h.hp[s] = g.hp[s];
  h.rep.resize(size_t(period_));
  for (int i = 0; i < period_; ++i) h.rep[i] = NewRep(reps_[g.rep[i]], nid);
  const int32_t first = g.rep[0], last = g.rep[period_ - 1];
  // A crossing transfer into the first block or out of the last one that ended at this instant left that end to the
  // family's end, due at this instant too (FinishFlow, kFamily); a part without a family any more takes it itself.
  std::vector<std::pair<int32_t, int>> deferred;  // (representative, comm position)
  for (int32_t f : g.flows) {
    const Flow& fam = flows_[f];
    if (!fam.alive || fam.finished || fam.kind != kFamily) continue;
    for (int32_t x : g.flows) {
      const Flow& c = flows_[x];
      if (!c.alive || !c.finished || c.kind != kCrossing) continue;
      if (g.n() == 1 && c.dst == first && c.dst_pos == fam.dst_pos) deferred.push_back({first, c.dst_pos});
      if (h.n() == 1 && c.src == last && c.src_pos == fam.src_pos) deferred.push_back({h.rep[period_ - 1], c.src_pos});
    }
  }
  // The family's pending posts at the new boundary become crossing posts of the right part's first block.
  h.edge_sends = reps_[first].sends_to_me;
  h.edge_recvs = reps_[first].recvs;
  std::vector<int32_t> old;
  old.swap(g.flows);
  for (int32_t f : old) {
    if (!flows_[f].alive || (flows_[f].finished && flows_[f].out.empty())) continue;
    Flow copy = flows_[f];
    if (copy.kind == kInBlock) {
      g.flows.push_back(f);
      copy.src = h.rep[reps_[copy.src].i];
      copy.dst = h.rep[reps_[copy.dst].i];
      ranges_[nid].flows.push_back(NewFlow(copy));
    } else if (copy.kind == kFamily) {
      Flow cross = copy;
      cross.kind = kCrossing;
      cross.dst = h.rep[0];
      const int32_t x = NewFlow(cross);
      ranges_[id].flows.push_back(x);
      ranges_[nid].flows.push_back(x);
      if (ranges_[nid].n() >= 2) {
        copy.src = h.rep[period_ - 1];
        copy.dst = h.rep[0];
        ranges_[nid].flows.push_back(NewFlow(copy));
      }
      if (ranges_[id].n() >= 2) ranges_[id].flows.push_back(f);
      else flows_[f].alive = false;
    } else if (copy.src == last) {  // crossing out of the old last block: now the right part's
      flows_[f].src = h.rep[period_ - 1];
      ranges_[nid].flows.push_back(f);
    } else {
      ranges_[id].flows.push_back(f);
    }
  }
  for (int32_t piece : {id, nid})
    if (ranges_[piece].n() == 1) {
      reps_[ranges_[piece].rep[0]].sends_to_me.clear();
      reps_[ranges_[piece].rep[0]].recvs.clear();
    }
  Touch(id);
  Touch(nid);
  max_ranges_ = std::max(max_ranges_, ++alive_ranges_);
  for (const auto& [r, pos] : deferred) CompleteComm(r, pos, now_);
}

RangeEngine::Sig RangeEngine::RepSig(int32_t r) const {
  const Rep& k = reps_[r];
  Sig s = {k.next[0], k.next[1], k.done[0], k.done[1], k.comp_busy, k.comm_busy, k.started, k.wake_pushed,
           k.first_wait, k.comm_waits_for, k.mark};
  if (k.comp_busy)
    s.insert(s.end(), {k.comp_slow, k.tail_displaced, k.slow_from_start, k.launch_held_slots,
                       std::bit_cast<int64_t>(k.comp_left_ps), k.comp_last, k.comp_start, k.comp_end});
  if (k.comm_busy) s.insert(s.end(), {k.grp_begin, k.grp_end, k.grp_left});
  // Blocks whose comm groups were posted apart are one range only without a trace (the post is a traced op's start).
  if (k.comm_busy && traced_.any()) s.push_back(k.grp_post);
  // Only whether these equal a later time matters.
  s.push_back(k.last_comp_done >= now_ ? k.last_comp_done : -1);
  s.push_back(k.last_comm_done >= now_ ? k.last_comm_done : -1);
  std::vector<Out> out = k.out;
  std::sort(out.begin(), out.end(), [](const Out& a, const Out& b) { return a.t != b.t ? a.t < b.t : a.type < b.type; });
  for (const Out& o : out) s.insert(s.end(), {o.t, o.type, o.type == kWake || o.version == k.comp_version});
  if (k.i != 0)
    for (const auto* list : {&k.sends_to_me, &k.recvs}) {
      s.push_back(int64_t(list->size()));
      for (const Pend& p : *list) s.insert(s.end(), {p.tag, p.pos, p.ready, p.ring});
    }
  return s;
}

RangeEngine::Sig RangeEngine::FlowSig(int32_t f, int view) const {
  const Flow& fl = flows_[f];
  Sig s = {1, fl.finished, view == 2 ? -1 : fl.src_pos, view == 1 ? -1 : fl.dst_pos, fl.ring, fl.out_port,
           fl.in_port, std::bit_cast<int64_t>(fl.left_bytes), std::bit_cast<int64_t>(fl.rate),
           std::bit_cast<int64_t>(fl.scale), fl.last, fl.bytes_end, fl.latency};
  std::vector<Out> out = fl.out;
  std::sort(out.begin(), out.end(), [](const Out& a, const Out& b) { return a.t < b.t; });
  for (const Out& o : out) s.insert(s.end(), {o.t, !fl.finished && o.version == fl.version});
  return s;
}

std::vector<RangeEngine::Sig> RangeEngine::FamilySet(int32_t id, bool send_side) const {
  const Range& g = ranges_[id];
  std::vector<Sig> set;
  for (const Pend& p : send_side ? reps_[g.rep[0]].sends_to_me : reps_[g.rep[0]].recvs)
    set.push_back({0, p.tag, p.pos, p.ready, p.ring});
  for (int32_t f : g.flows)
    if (flows_[f].alive && flows_[f].kind == kFamily && !(flows_[f].finished && flows_[f].out.empty()))
      set.push_back(FlowSig(f, send_side ? 1 : 2));
  std::sort(set.begin(), set.end());
  return set;
}

std::vector<RangeEngine::Sig> RangeEngine::CrossingSet(int32_t id, bool hi_side) const {
  const Range& g = ranges_[id];
  std::vector<Sig> set;
  for (const Pend& p : hi_side ? ranges_[g.right].edge_sends : g.edge_recvs)
    set.push_back({0, p.tag, p.pos, p.ready, p.ring});
  for (int32_t f : g.flows) {
    const Flow& fl = flows_[f];
    if (!fl.alive || fl.kind != kCrossing || (fl.finished && fl.out.empty())) continue;
    if (hi_side ? fl.src == g.rep[period_ - 1] : fl.dst == g.rep[0]) set.push_back(FlowSig(f, hi_side ? 1 : 2));
  }
  std::sort(set.begin(), set.end());
  return set;
}

std::vector<RangeEngine::Sig> RangeEngine::InBlockSet(int32_t id) const {
  std::vector<Sig> set;
  for (int32_t f : ranges_[id].flows)
    if (flows_[f].alive && flows_[f].kind == kInBlock && !(flows_[f].finished && flows_[f].out.empty())) {
      Sig s = FlowSig(f, 0);
      s.push_back(reps_[flows_[f].src].i);
      s.push_back(reps_[flows_[f].dst].i);
      set.push_back(std::move(s));
    }
  std::sort(set.begin(), set.end());
  return set;
}

void RangeEngine::MirrorChecks() {
  while (!dirty_.empty()) {
    const int32_t id = dirty_.back();
    dirty_.pop_back();
    ranges_[id].dirty = false;
    if (!ranges_[id].alive || ranges_[id].n() < 2) continue;
    // An edge block whose crossing transfer differs from its range's family runs differently from here on.
    if (FamilySet(id, true) != CrossingSet(id, true)) Split(id, ranges_[id].hi), ++edge_peels_;
    if (ranges_[id].n() >= 2 && FamilySet(id, false) != CrossingSet(id, false)) Split(id, ranges_[id].lo + 1), ++edge_peels_;
  }
}

}  // namespace ringlab::sim
