#include "viz/deps.h"

#include <algorithm>
#include <unordered_set>

namespace ringlab::viz {

DepGraph::DepGraph(const TraceModel& m) : m_(m) {
  if (const ScheduleConfig* c = m.Config()) {
    cfg_ = *c;
    exact_ = ValidateConfig(cfg_).ok() && !m.op_index.empty();
  }
}

const RankSchedule* DepGraph::Rank(int rank) {
  if (!exact_ || rank < 0 || rank >= cfg_.world) return nullptr;
  auto it = ranks_.find(rank);
  if (it != ranks_.end()) return it->second.get();
  auto rs = std::make_unique<RankSchedule>(BuildRankSchedule(cfg_, rank));
  auto& tags = tag_ops_[rank];
  for (const Op& op : rs->ops)
    if (op.kind == OpKind::kSend || op.kind == OpKind::kRecv) tags[op.tag].push_back(op.id);
  return ranks_.emplace(rank, std::move(rs)).first->second.get();
}

bool DepGraph::ScheduleMatches(const Event& e, const RankSchedule* rs) const {
  return rs && e.op >= 0 && size_t(e.op) < rs->ops.size() && VizKind(rs->ops[size_t(e.op)].kind) == e.kind;
}

int64_t DepGraph::MessagePartner(uint32_t ev) {
  const Event& e = m_.events[ev];
  if (e.kind != VizKind::kSend && e.kind != VizKind::kRecv) return -1;
  const int rank = m_.lanes[e.lane].rank;
  const RankSchedule* rs = Rank(rank);
  if (ScheduleMatches(e, rs)) {
    const Op& op = rs->ops[size_t(e.op)];
    if (!Rank(op.peer)) return -1;
    const OpKind want = op.kind == OpKind::kSend ? OpKind::kRecv : OpKind::kSend;
    const RankSchedule* ps = Rank(op.peer);
    for (int32_t id : tag_ops_[op.peer][op.tag]) {
      const Op& o = ps->ops[size_t(id)];
      if (o.kind == want && o.peer == rank) return m_.FindOp(op.peer, id);
    }
    return -1;
  }
  if (!derived_index_built_) {
    derived_index_built_ = true;
    for (uint32_t i = 0; i < m_.events.size(); ++i) {
      const Event& x = m_.events[i];
      const int r = m_.lanes[x.lane].rank;
      if (x.kind == VizKind::kSend && x.peer >= 0) sends_.try_emplace({r, x.peer, x.step}, i);
      if (x.kind == VizKind::kRecv && x.peer >= 0) recvs_.try_emplace({x.peer, r, x.step}, i);
    }
  }
  if (e.peer < 0) return -1;
  if (e.kind == VizKind::kSend) {
    auto it = recvs_.find({rank, e.peer, e.step});
    return it == recvs_.end() ? -1 : int64_t(it->second);
  }
  auto it = sends_.find({e.peer, rank, e.step});
  return it == sends_.end() ? -1 : int64_t(it->second);
}

std::vector<DepEdge> DepGraph::DepsOf(uint32_t ev) {
  std::vector<DepEdge> r;
  if (ev >= m_.events.size()) return r;
  const Event& e = m_.events[ev];
  const Lane& lane = m_.lanes[e.lane];
  if (ev > lane.begin) {
    // Stream predecessor: the previous event at the same nesting depth that ended before this one started.
    for (int64_t p = int64_t(ev) - 1; p >= int64_t(lane.begin) && p > int64_t(ev) - 64; --p)
      if (m_.events[size_t(p)].depth == e.depth) {
        r.push_back({uint32_t(p), ev, DepType::kStream});
        break;
      }
  }
  const RankSchedule* rs = Rank(lane.rank);
  if (ScheduleMatches(e, rs)) {
    for (int32_t d : rs->ops[size_t(e.op)].deps) {
      int64_t x = m_.FindOp(lane.rank, d);
      if (x >= 0 && !(r.size() && r[0].from == uint32_t(x))) r.push_back({uint32_t(x), ev, DepType::kSchedule});
    }
  }
  if (e.kind == VizKind::kRecv || e.kind == VizKind::kSend) {
    int64_t p = MessagePartner(ev);
    if (p >= 0) r.push_back({uint32_t(p), ev, DepType::kMessage});
  }
  return r;
}

std::vector<DepEdge> DepGraph::DependantsOf(uint32_t ev) {
  std::vector<DepEdge> r;
  if (ev >= m_.events.size()) return r;
  const Event& e = m_.events[ev];
  const Lane& lane = m_.lanes[e.lane];
  for (uint32_t n = ev + 1; n < lane.end && n < ev + 64; ++n)
    if (m_.events[n].depth == e.depth) {
      r.push_back({ev, n, DepType::kStream});
      break;
    }
  const RankSchedule* rs = Rank(lane.rank);
  if (ScheduleMatches(e, rs)) {
    for (const Op& op : rs->ops)
      for (int32_t d : op.deps)
        if (d == e.op) {
          int64_t x = m_.FindOp(lane.rank, op.id);
          if (x >= 0 && !(r.size() && r[0].to == uint32_t(x))) r.push_back({ev, uint32_t(x), DepType::kSchedule});
        }
  }
  if (e.kind == VizKind::kSend || e.kind == VizKind::kRecv) {
    int64_t p = MessagePartner(ev);
    if (p >= 0) r.push_back({ev, uint32_t(p), DepType::kMessage});
  }
  return r;
}

std::vector<uint32_t> CriticalPath(const TraceModel& m, DepGraph* g) {
  std::vector<uint32_t> path;
  if (m.events.empty()) return path;
  uint32_t cur = 0;
  for (uint32_t i = 0; i < m.events.size(); ++i)
    if (m.events[i].End() > m.events[cur].End()) cur = i;
  std::unordered_set<uint32_t> seen;
  for (;;) {
    path.push_back(cur);
    seen.insert(cur);
    const Event& e = m.events[cur];
    const double tol = 1e-6 + 1e-3 * e.dur;
    int64_t best = -1;
    double best_ready = -1e300;
    for (const DepEdge& d : g->DepsOf(cur)) {
      if (seen.count(d.from)) continue;
      const Event& x = m.events[d.from];
      double ready;
      if (d.type == DepType::kMessage) {
        if (x.ts <= e.ts + tol) continue;  // the partner was already posted: it did not hold this op back
        ready = x.ts;
      } else {
        if (x.End() > e.ts + tol) continue;
        ready = x.End();
      }
      if (ready > best_ready) best_ready = ready, best = d.from;
    }
    if (best < 0 || path.size() > m.events.size()) break;
    cur = uint32_t(best);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace ringlab::viz
