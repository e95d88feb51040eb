// The engine's transfers: posting and matching sends, receives and collectives, and the flows that carry their bytes
// over the topology's ports (equal shares, re-rated when a flow joins or leaves a port or an end starts or stops
// computing). The rest of the engine (streams, compute, the run loop) is in engine.cc.
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "sim/engine.h"
#include "sim/rank_rules.h"

namespace ringlab::sim {
bool Engine::TakePending(InlineVec<Pending, 2>* posted, int src, int tag, Pending* match) {
  for (int i = 0; i < posted->size(); ++i)
    if ((*posted)[i].src == src && (*posted)[i].tag == tag) {
      *match = (*posted)[i];
      posted->erase(i);
      return true;
    }
  return false;
}

void Engine::Post(int r, int pos, TimePs now) {
  const SimOp& op = OpAt(r, 1, pos);
  const bool collective =
      op.kind == OpKind::kAllGather || op.kind == OpKind::kReduceScatter || op.kind == OpKind::kAllToAll;
  const TimePs ready = ReadyAt(r, now, collective ? world_ : 2);
  switch (op.kind) {
    case OpKind::kSend: {
      // Actual receiver d; its representative dc sees this send as coming from r shifted by −(d − dc).
      const int dst = Wrap(r + op.peer_offset);
      const int dc = symmetric_ ? dst % period_ : dst;
      const int as_src = symmetric_ ? (r - (dst - dc) + world_) % world_ : r;
      Pending recv;
      if (TakePending(&ranks_[dc].recvs, as_src, op.tag, &recv)) {
        StartFlow(r, dc, r, dst, op.bytes, std::max(ready, recv.ready) - now, false, pos, recv.pos, now,
                  GroupIsRing(r) || recv.ring);
        return;
      }
      ranks_[dc].sends_to_me.push_back(Pending{as_src, op.tag, pos, ready, GroupIsRing(r)});
      return;
    }
    case OpKind::kRecv: {
      const int src = Wrap(r + op.peer_offset);
      Pending send;
      if (TakePending(&ranks_[r].sends_to_me, src, op.tag, &send)) {
        StartFlow(symmetric_ ? src % period_ : src, r, src, r, op.bytes, std::max(ready, send.ready) - now, false, send.pos, pos, now,
                  GroupIsRing(r) || send.ring);
        return;
      }
      ranks_[r].recvs.push_back(Pending{src, op.tag, pos, ready, GroupIsRing(r)});
      return;
    }
    case OpKind::kAllGather:
    case OpKind::kReduceScatter: {
      // A group collective (group_size > 0) runs on the general engine (period_ == world_): ranks are actual ranks.
      const int n = op.group_size > 0 ? op.group_size : world_;
      const int first = op.group_size > 0 ? r - r % (op.group_stride * n) + r % op.group_stride : 0;
      const int key = CollectiveKey(op.tag, first);
      Collective& c = collectives_[key];
      if (c.pos.empty()) {
        const int slots = op.group_size > 0 ? n : period_;
        c.first = first;
        c.stride = op.group_stride;
        c.size = op.group_size;
        c.pos.assign(slots, -1);
        c.sent.assign(slots, 0);
        c.recvd.assign(slots, 0);
        c.sending.assign(slots, 0);
        c.ready.assign(slots, 0);
        c.chunk = n > 1 ? op.bytes / (n - 1) : 0;
      }
      c.pos[c.Slot(r)] = pos;
      c.ready[c.Slot(r)] = ready;
      if (++c.arrived == int(c.pos.size()))
        for (int i = 0; i < int(c.pos.size()); ++i) TryCollectiveStep(c, key, c.size == 0 ? i : first + i * c.stride, now);
      return;
    }
    case OpKind::kAllToAll:
      PostAllToAll(r, pos, now, ready);
      return;
    default:
      throw std::logic_error("compute op kind on the comm stream");
  }
}

int Engine::CollectiveNext(const Collective& c, int x) const {
  return c.size == 0 ? (x + 1) % world_ : c.first + (c.Slot(x) + 1) % c.size * c.stride;
}

void Engine::TryCollectiveStep(Collective& c, int key, int x, TimePs now) {
  const int steps = c.size == 0 ? world_ - 1 : c.size - 1;
  const int i = c.Slot(x);
  if (c.sending[i] || c.sent[i] >= steps || c.recvd[i] < c.sent[i]) return;
  c.sending[i] = 1;
  const int next = CollectiveNext(c, x);
  const TimePs wait =
      c.sent[i] == 0 ? std::max<TimePs>(0, std::max(c.ready[i], c.ready[c.Slot(next % period_)]) - now) : 0;
  const TimePs step_latency = params_.collective_hop_latency_ps >= 0 ? 0 : params_.collective_step_latency_ps;
  StartFlow(x, next % period_, x, next, c.chunk, step_latency + wait, true, x, key, now);
}

void Engine::StartFlow(int src, int dst, int route_src, int route_dst, int64_t bytes, TimePs extra_latency,
                       bool collective, int src_pos, int dst_pos, TimePs now, bool ring, bool alltoall) {
  int32_t f;
  if (!free_flows_.empty()) {
    f = free_flows_.back();
    free_flows_.pop_back();
  } else {
    f = int32_t(flows_.size());
    flows_.emplace_back();
    flow_scale_.push_back(1);
  }
  Flow& fl = flows_[f];
  TimePs lat;
  int out_port, in_port;
  topo_.Route(route_src, route_dst, &out_port, &in_port, &lat);
  TallyTransfer(route_src, route_dst, out_port, bytes, collective, ring, alltoall);
  // Ports are numbered by (representative) rank: 4·rank + kind. A port's rate depends only on its kind.
  fl.port[0] = 4 * src + out_port % 4;
  fl.port[1] = 4 * dst + in_port % 4;
  // A shared port makes the result depend on the order of same-time joins and leaves: not provably symmetric.
  if (symmetric_ && (PortAt(fl.port[0]).n > 0 || PortAt(fl.port[1]).n > 0)) broken_ = true;
  fl.left_bytes = double(bytes);
  fl.rate = 0;
  fl.last = now;
  fl.bytes_end = std::numeric_limits<TimePs>::max();
  const TimePs hop_latency = params_.collective_hop_latency_ps;
  fl.latency = (collective && !alltoall && hop_latency >= 0 ? hop_latency : lat) + extra_latency;
  fl.collective = collective;
  fl.alltoall = alltoall;
  fl.src_pos = src_pos;
  fl.dst_pos = dst_pos;
  double scale = 1;
  if ((!collective || alltoall) && out_port % 4 < 2 && in_port % 4 < 2 && bytes > 0) {
    // NVLink with a measured time table: the whole measured time becomes the flow's (its latency included, so a
    // transfer beside a kernel stretches as a whole, as measured), at the rate that gives it.
    const double table_us = TableTimeUs(alltoall, ring, bytes);
    if (table_us > 0) {
      const double line_us = double(bytes) / std::min(topo_.PortBytesPerPs(out_port), topo_.PortBytesPerPs(in_port)) * 1e-6;
      scale = std::clamp(line_us / table_us, 1e-3, 5.0);
      fl.latency = extra_latency;
    }
  }
  flow_scale_[f] = scale;
  ++stats_.flows;
  for (int p : fl.port) PortAdd(&PortAt(p), f);
  if (PortAt(fl.port[0]).n == 1 && PortAt(fl.port[1]).n == 1) {
    // Alone on both ports (the common case): what Reflow would do, directly. The rate is the smaller port rate.
    fl.rate = std::min(topo_.PortBytesPerPs(fl.port[0]), topo_.PortBytesPerPs(fl.port[1])) * FlowFactor(fl, scale);
    fl.bytes_end = now + RoundPs(fl.left_bytes / fl.rate);
    Push(fl.bytes_end + fl.latency, kFlowDone, uint32_t(f), ++fl.version);
    return;
  }
  for (int p : fl.port) Reflow(p, now);
}

void Engine::TallyTransfer(int route_src, int route_dst, int out_port, int64_t bytes, bool collective, bool ring,
                           bool alltoall) {
  TransferExtrapolation why = TransferExtrapolation::kNone;
  if (out_port % 4 >= 2) {
    why = TransferExtrapolation::kNic;
  } else if (alltoall) {
    if (!hw_.AllToAllMeasured(bytes))
      why = hw_.alltoall_time_us.empty() ? TransferExtrapolation::kNoTable : TransferExtrapolation::kSizeOutsideTable;
  } else if (!collective && !hw_.P2pMeasured(ring, bytes)) {
    const bool table = !hw_.p2p_time_pair_us.empty() || !hw_.p2p_time_ring_us.empty();
    why = table ? TransferExtrapolation::kSizeOutsideTable : TransferExtrapolation::kNoTable;
  }
  transfers_.Add(bytes, why);
  if (why == TransferExtrapolation::kNone || !transfers_.first.empty()) return;
  const char* what = alltoall ? " (all-to-all)" : collective ? " (collective ring step)" : "";
  transfers_.first = "rank " + std::to_string(route_src) + " sends " + std::to_string(bytes) + " bytes to rank " +
                     std::to_string(route_dst) + what + ": " + TransferExtrapolationName(why);
  if (why == TransferExtrapolation::kSizeOutsideTable) {
    const auto& t = alltoall ? hw_.alltoall_time_us
                             : ring && !hw_.p2p_time_ring_us.empty() ? hw_.p2p_time_ring_us : hw_.p2p_time_pair_us;
    transfers_.first += " (" + std::to_string(t.front().first) + ".." + std::to_string(t.back().first) + " bytes)";
  }
}

void Engine::RescheduleFlow(int32_t f, TimePs now) {
  Flow& fl = flows_[f];
  if (now >= fl.bytes_end) return;  // bytes already through; only the latency tail is left
  fl.left_bytes = std::max(0.0, fl.left_bytes - fl.rate * double(now - fl.last));
  fl.last = now;
  double rate = 1e300;
  for (int p : fl.port) rate = std::min(rate, topo_.PortBytesPerPs(p) / double(PortAt(p).n));
  rate *= FlowFactor(fl, flow_scale_[f]);
  if (rate == fl.rate && fl.bytes_end != std::numeric_limits<TimePs>::max()) return;
  fl.rate = rate;
  fl.bytes_end = now + RoundPs(fl.left_bytes / rate);
  Push(fl.bytes_end + fl.latency, kFlowDone, uint32_t(f), ++fl.version);
}

double Engine::FlowFactor(const Flow& fl, double scale) const {
  if (params_.beside_rate >= 1) return scale;
  return scale * (ranks_[fl.port[0] / 4].comp_busy || ranks_[fl.port[1] / 4].comp_busy ? params_.beside_rate : 1);
}

double Engine::TableTimeUs(bool alltoall, bool ring, int64_t bytes) const {
  const int32_t key = alltoall ? 2 : ring ? 1 : 0;
  Memo& m = table_us_memo_;
  if (m.bytes != bytes || m.key != key) m = Memo{bytes, key, alltoall ? hw_.AllToAllTimeUs(bytes) : hw_.P2pTimeUs(ring, bytes)};
  return m.value;
}

double Engine::HeldSms(bool collective, bool ring, int64_t bytes) const {
  const int32_t key = (collective ? 2 : 0) + (ring ? 1 : 0);
  Memo& m = held_sms_memo_;
  if (m.bytes != bytes || m.key != key) m = Memo{bytes, key, hw_.HeldSmsFor(collective, ring, bytes)};
  return m.value;
}

bool Engine::ComputeGroupIsRing(int r) const {
  return CommGroupIsRing(ranks_[r], StreamSize(r, 1), [&](int pos) -> const SimOp& { return OpAt(r, 1, pos); });
}

void Engine::ComputeStateChanged(int r, TimePs now) {
  if (params_.beside_rate >= 1) return;
  if (symmetric_ && !rerate_order_free_) {  // a rate change that coincides with a flow starting or its bytes ending
    for (int p = 4 * r; p < 4 * r + 4; ++p)
      for (int i = 0; i < PortAt(p).n; ++i) {
        const Flow& fl = flows_[PortFlowAt(PortAt(p), i)];
        if (fl.last == now || fl.bytes_end == now) broken_ = true;
      }
  }
  for (int p = 4 * r; p < 4 * r + 4; ++p)
    if (PortAt(p).n > 0) Reflow(p, now);
}

void Engine::Reflow(int port, TimePs now) {
  const PortFlows& pf = PortAt(port);
  for (int i = 0; i < pf.n; ++i) RescheduleFlow(PortFlowAt(pf, i), now);
}

void Engine::PortAdd(PortFlows* pf, int32_t f) {
  if (pf->n < PortFlows::kInline) {
    pf->inline_ids[pf->n] = f;
  } else {
    if (pf->more < 0) {
      pf->more = int32_t(port_overflow_.size());
      port_overflow_.emplace_back();
    }
    port_overflow_[pf->more].push_back(f);
  }
  ++pf->n;
}

void Engine::PortRemove(PortFlows* pf, int32_t f) {
  int i = 0;
  while (PortFlowAt(*pf, i) != f) ++i;
  const int32_t last = PortFlowAt(*pf, pf->n - 1);  // order within a port does not matter for rates; keep it deterministic
  if (i < PortFlows::kInline) pf->inline_ids[i] = last;
  else port_overflow_[pf->more][i - PortFlows::kInline] = last;
  if (pf->n - 1 >= PortFlows::kInline) port_overflow_[pf->more].pop_back();
  --pf->n;
}

void Engine::FinishFlow(int32_t f, TimePs now) {
  Flow& live = flows_[f];
  for (int p : live.port) PortRemove(&PortAt(p), f);
  ++live.version;
  const Flow fl = live;
  free_flows_.push_back(f);
  for (int p : fl.port)
    if (PortAt(p).n > 0) Reflow(p, now);
  if (!fl.collective) {
    CompleteComm(fl.src(), fl.src_pos, now);
    CompleteComm(fl.dst(), fl.dst_pos, now);
    return;
  }
  if (fl.alltoall) {
    FinishAllToAllFlow(fl, now);
    return;
  }
  const int key = fl.dst_pos;
  Collective& c = collectives_.at(key);
  c.sending[c.Slot(fl.src())] = 0;
  ++c.sent[c.Slot(fl.src())];
  ++c.recvd[c.Slot(fl.dst())];
  const int steps = c.size == 0 ? world_ - 1 : c.size - 1;
  for (int x : {fl.src(), fl.dst()}) {
    const int i = c.Slot(x);
    if (c.sent[i] == steps && c.recvd[i] == steps && c.pos[i] >= 0) {
      const int pos = c.pos[i];
      c.pos[i] = -1;
      ++c.finished;
      CompleteComm(x, pos, now);
    } else {
      TryCollectiveStep(c, key, x, now);
    }
  }
  if (c.finished == int(c.pos.size())) collectives_.erase(key);
}

}  // namespace ringlab::sim
