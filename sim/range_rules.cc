// The rank-range engine's per-rank rules (range_engine.h): Engine's stream, compute and transfer rules (engine.cc,
// engine_transfers.cc) applied to one representative rank, with point-to-point matching split into the family part
// (peer block in the same range) and the crossing part (peer block in the neighbouring range). Ranges, events,
// splits and merges are in range_engine.cc.
#include <algorithm>
#include <cmath>

#include "sim/range_engine.h"
#include "sim/rank_rules.h"
#include "sim/wave_model.h"

namespace ringlab::sim {

int RangeEngine::ActualRank(int32_t r) const { return ranges_[reps_[r].range].lo * period_ + reps_[r].i; }

const SimOp& RangeEngine::OpAt(int32_t r, int stream, int pos) const {
  return table_.Op(ActualRank(r), stream, pos, &scratch_[scratch_next_++ % kScratch]);
}

int32_t RangeEngine::StreamSize(int32_t r, int stream) const { return table_.Size(ActualRank(r), stream); }

void RangeEngine::PushCompute(int32_t r, TimePs t) {
  Rep& k = reps_[r];
  k.comp_end = t;
  k.comp_sched_at = now_;
  PushRep(r, t, kComputeDone, ++k.comp_version);
}

void RangeEngine::Mark(int32_t r, TimePs now) {
  Rep& k = reps_[r];
  const TimePs dt = now - k.mark;
  if (dt > 0) {
    if (k.comp_busy) k.tot.compute_ps += dt;
    if (k.comm_busy) k.tot.comm_ps += dt;
    if (k.comp_busy && k.comm_busy) k.tot.both_ps += dt;
  }
  k.mark = now;
}

void RangeEngine::UpdateComputeRate(int32_t r, TimePs now) {
  Rep& k = reps_[r];
  if (!k.comp_busy || !params_.compute_slows_beside_comm) return;
  const bool slow = k.comm_busy && k.comm_waits_for < 0;
  if (slow == k.comp_slow) return;
  PushCompute(r, RerateCompute(k, OpAt(r, 0, k.next[0] - 1), slow, params_.nccl_takes_sms, now));
}

void RangeEngine::TryAdvance(int32_t r, TimePs now) {
  Rep& k = reps_[r];
  auto ready = [&](const SimOp& op) {
    return k.done[0] >= op.need_done[0] && k.done[1] >= op.need_done[1] && k.next[1] >= op.need_posted;
  };
  // When the first compute op may start (Engine::FirstKernelAt): the host posts a leading comm group first.
  auto first_kernel_at = [&]() -> TimePs {
    if (StreamSize(r, 0) == 0 || StreamSize(r, 1) == 0) return 0;
    const SimOp comm = OpAt(r, 1, 0);
    const SimOp& first = OpAt(r, 0, 0);
    return comm.op_id < first.op_id && comm.need_done[0] == 0 && comm.need_done[1] == 0 ? params_.first_kernel_delay_ps
                                                                                          : 0;
  };
  bool progress = true;
  while (progress) {
    progress = false;
    const int32_t compute_ops = StreamSize(r, 0);
    const bool held = k.next[0] == 0 && params_.first_kernel_delay_ps > 0 && now < first_kernel_at();
    if (held && !k.wake_pushed && k.next[0] < compute_ops) {
      PushRep(r, first_kernel_at(), kWake, 0);
      k.wake_pushed = true;
    }
    if (!held && !k.comp_busy && k.next[0] < compute_ops && ready(OpAt(r, 0, k.next[0]))) {
      const SimOp op = OpAt(r, 0, k.next[0]);
      Mark(r, now);
      if (!k.started) k.tot.start_ps = now, k.started = true;
      const TimePs dur =
          StartCompute(k, op, params_.compute_slows_beside_comm, now, [&] { return HeldSlotsBeside(r, op); });
      PushCompute(r, now + dur);
      ++k.next[0];
      ComputeStateChanged(r, now);
    }
    const int32_t comm_ops = StreamSize(r, 1);
    if (!k.comm_busy && k.next[1] < comm_ops) {
      bool all_ready = false;
      const int end =
          CommGroupEnd(k.next[1], comm_ops, [&](int pos) -> const SimOp& { return OpAt(r, 1, pos); }, ready, &all_ready);
      if (all_ready) {
        Mark(r, now);
        if (!k.started) k.tot.start_ps = now, k.started = true;
        k.comm_busy = true;
        k.grp_begin = k.next[1];
        k.grp_end = end;
        k.grp_left = end - k.next[1];
        k.grp_post = now;
        k.next[1] = end;
        k.comm_waits_for = ReadyAt(r, now) > now ? k.next[0] - 1 : -1;
        k.first_wait = k.next[0] == 0 && ReadyAt(r, now) > now;
        DisplaceTail(r, now);
        UpdateComputeRate(r, now);
        for (int pos = k.grp_begin; pos < end; ++pos) Post(r, pos, now);
        progress = true;
      }
    }
  }
}

int32_t RangeEngine::HeldSlotsBeside(int32_t r, const SimOp& kernel) const {
  const Rep& k = reps_[r];
  int64_t bytes = 0;
  for (int pos = k.grp_begin; pos < k.grp_end; ++pos) bytes = std::max(bytes, OpAt(r, 1, pos).bytes);
  return int32_t(std::lround(hw_.HeldSmsFor(false, GroupIsRing(r), bytes) * kernel.slots_per_sm));
}

void RangeEngine::DisplaceTail(int32_t r, TimePs now) {
  Rep& k = reps_[r];
  if (k.comm_waits_for < 0 || !k.comp_busy || k.tail_displaced || k.comp_end <= now) return;
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (running.displaced_ps <= 0 || running.idle_frac < 0 || k.comp_slow) return;
  const TimePs last_round = k.comp_start + RoundPs(double(running.idle_frac) * double(k.comp_end - k.comp_start));
  if (now >= last_round) return;
  double q = params_.displaced_tail_fraction;
  if (k.comp_start == now && now == 0) q *= kernel_first_chance_[0];
  const TimePs extra = RoundPs(q * double(running.displaced_ps));
  if (extra <= 0) return;
  k.tail_displaced = true;
  k.comp_left_ps += double(extra);
  PushCompute(r, k.comp_end + extra);
}

TimePs RangeEngine::ReadyAt(int32_t r, TimePs now) const {
  const Rep& k = reps_[r];
  if (now == 0 && !k.comp_busy && params_.kernel_first_fraction > 0 && k.next[0] == 0 &&
      params_.first_kernel_delay_ps > 0 && StreamSize(r, 0) > 0 && StreamSize(r, 1) > 0) {
    const SimOp comm = OpAt(r, 1, 0);
    const SimOp first = OpAt(r, 0, 0);
    if (comm.op_id < first.op_id && comm.need_done[0] == 0 && comm.need_done[1] == 0) {  // FirstKernelAt > 0
      if (params_.comm_start_wait <= 0 || !first.fills_gpu) return now;
      const double at = first.idle_frac >= 0 ? double(first.idle_frac) * double(first.dur_ps)
                                             : params_.comm_start_wait * double(first.dur_ps);
      return RoundPs(kernel_first_chance_[1] * at);
    }
  }
  if (params_.comm_start_wait <= 0 || !k.comp_busy || k.comp_end <= now || k.comp_start > now) return now;
  double q = 1;
  if (k.comp_start == now && now == 0) {
    q = kernel_first_chance_[1];
    if (q <= 0) return now;
  }
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (!running.fills_gpu) return now;
  const TimePs at = running.idle_frac >= 0
                        ? k.comp_start + RoundPs(double(running.idle_frac) * double(k.comp_end - k.comp_start))
                        : now + RoundPs(params_.comm_start_wait * double(k.comp_end - now));
  return at <= now ? now : now + RoundPs(q * double(at - now));
}

bool RangeEngine::GroupIsRing(int32_t r) const {
  return CommGroupIsRing(reps_[r], StreamSize(r, 1), [&](int pos) -> const SimOp& { return OpAt(r, 1, pos); });
}

namespace {
bool TakeByTag(std::vector<RangeEngine::Pend>* posted, int tag, RangeEngine::Pend* match) {
  for (size_t i = 0; i < posted->size(); ++i)
    if ((*posted)[i].tag == tag) {
      *match = (*posted)[i];
      posted->erase(posted->begin() + long(i));
      return true;
    }
  return false;
}
}  // namespace

void RangeEngine::Post(int32_t r, int pos, TimePs now) {
  const SimOp op = OpAt(r, 1, pos);
  const TimePs ready = ReadyAt(r, now);
  const bool ring = GroupIsRing(r);
  const int32_t range = reps_[r].range, i = reps_[r].i;
  Touch(range);
  Pend m;
  if (op.kind == OpKind::kSend && op.peer_offset == 1 % world_) {
    const bool crosses = i == period_ - 1;
    if (!crosses || ranges_[range].n() >= 2) {  // the peers inside this range (or this block)
      const int32_t d = ranges_[range].rep[(i + 1) % period_];
      if (TakeByTag(&reps_[d].recvs, op.tag, &m))
        StartFlow(crosses ? kFamily : kInBlock, r, d, pos, m.pos, op.bytes, std::max(ready, m.ready) - now,
                  ring || m.ring, now);
      else
        reps_[d].sends_to_me.push_back(Pend{op.tag, pos, ready, ring});
    }
    if (crosses) {  // the range's last block sends to the next range's first
      const int32_t right = ranges_[range].right;
      Touch(right);
      if (TakeByTag(&ranges_[right].edge_recvs, op.tag, &m))
        StartFlow(kCrossing, r, ranges_[right].rep[0], pos, m.pos, op.bytes, std::max(ready, m.ready) - now,
                  ring || m.ring, now);
      else
        ranges_[right].edge_sends.push_back(Pend{op.tag, pos, ready, ring});
    }
  } else if (op.kind == OpKind::kRecv && op.peer_offset == (world_ - 1) % world_) {
    const bool crosses = i == 0;
    if (!crosses || ranges_[range].n() >= 2) {
      const int32_t s = ranges_[range].rep[(i + period_ - 1) % period_];
      if (TakeByTag(&reps_[r].sends_to_me, op.tag, &m))
        StartFlow(crosses ? kFamily : kInBlock, s, r, m.pos, pos, op.bytes, std::max(ready, m.ready) - now,
                  ring || m.ring, now);
      else
        reps_[r].recvs.push_back(Pend{op.tag, pos, ready, ring});
    }
    if (crosses) {
      const int32_t left = ranges_[range].left;
      Touch(left);
      if (TakeByTag(&ranges_[range].edge_sends, op.tag, &m))
        StartFlow(kCrossing, ranges_[left].rep[period_ - 1], r, m.pos, pos, op.bytes, std::max(ready, m.ready) - now,
                  ring || m.ring, now);
      else
        ranges_[range].edge_recvs.push_back(Pend{op.tag, pos, ready, ring});
    }
  } else {
    Break("a comm op other than a send to the next rank or a receive from the previous one");
  }
}

bool RangeEngine::PortBusy(int32_t rep, bool egress, FlowKind kind) const {
  for (int32_t f : ranges_[reps_[rep].range].flows) {
    const Flow& fl = flows_[f];
    if (!fl.alive || fl.finished || (egress ? fl.src : fl.dst) != rep) continue;
    // In-block flows use every block's port; family flows all but the edge block's; crossing flows only the edge's.
    if (kind == kInBlock || fl.kind == kInBlock || fl.kind == kind) return true;
  }
  return false;
}

void RangeEngine::StartFlow(FlowKind kind, int32_t src, int32_t dst, int src_pos, int dst_pos, int64_t bytes,
                            TimePs extra, bool ring, TimePs now) {
  const Range& rs = ranges_[reps_[src].range];
  const Range& rd = ranges_[reps_[dst].range];
  // The actual ranks whose route the transfer takes (every block has the same routes).
  const int a = (kind == kCrossing ? rs.hi : rs.lo) * period_ + reps_[src].i;
  const int b = kind == kInBlock ? rs.lo * period_ + reps_[dst].i
                                 : (kind == kFamily ? rs.lo + 1 : rd.lo) * period_ + reps_[dst].i;
  const int64_t mult = kind == kInBlock ? rs.n() : kind == kFamily ? rs.n() - 1 : 1;
  if (PortBusy(src, true, kind) || PortBusy(dst, false, kind)) Break("a transfer shares a port");
  Flow fl;
  fl.kind = kind;
  fl.ring = ring;
  fl.src = src;
  fl.dst = dst;
  fl.src_pos = src_pos;
  fl.dst_pos = dst_pos;
  TimePs lat;
  topo_.Route(a, b, &fl.out_port, &fl.in_port, &lat);
  fl.out_port %= 4;
  fl.in_port %= 4;
  TransferExtrapolation why = TransferExtrapolation::kNone;
  if (fl.out_port >= 2) {
    why = TransferExtrapolation::kNic;
  } else if (!hw_.P2pMeasured(ring, bytes)) {
    const bool table = !hw_.p2p_time_pair_us.empty() || !hw_.p2p_time_ring_us.empty();
    why = table ? TransferExtrapolation::kSizeOutsideTable : TransferExtrapolation::kNoTable;
  }
  TransferTally one;
  one.Add(bytes, why);
  one.Scale(mult);
  transfers_.Merge(one);
  fl.left_bytes = double(bytes);
  fl.last = now;
  fl.latency = lat + extra;
  const double port_rate = std::min(topo_.PortBytesPerPs(fl.out_port), topo_.PortBytesPerPs(fl.in_port));
  if (fl.out_port < 2 && fl.in_port < 2 && bytes > 0) {
    const double table_us = hw_.P2pTimeUs(ring, bytes);
    if (table_us > 0) {
      const double line_us = double(bytes) / port_rate * 1e-6;
      fl.scale = std::clamp(line_us / table_us, 1e-3, 5.0);
      fl.latency = extra;
    }
  }
  stats_.flows += mult;
  fl.rate = port_rate * FlowFactor(fl);
  fl.bytes_end = now + RoundPs(fl.left_bytes / fl.rate);
  const int32_t f = NewFlow(fl);
  ranges_[reps_[src].range].flows.push_back(f);
  if (reps_[dst].range != reps_[src].range) ranges_[reps_[dst].range].flows.push_back(f);
  PushFlow(f, flows_[f].bytes_end + flows_[f].latency);
}

void RangeEngine::RescheduleFlow(int32_t f, TimePs now) {
  Flow& fl = flows_[f];
  if (now >= fl.bytes_end) return;
  fl.left_bytes = std::max(0.0, fl.left_bytes - fl.rate * double(now - fl.last));
  fl.last = now;
  double rate = 1e300;
  for (int p : {fl.out_port, fl.in_port}) rate = std::min(rate, topo_.PortBytesPerPs(p) / 1.0);
  rate *= FlowFactor(fl);
  if (rate == fl.rate) return;
  fl.rate = rate;
  fl.bytes_end = now + RoundPs(fl.left_bytes / rate);
  PushFlow(f, fl.bytes_end + fl.latency);
}

double RangeEngine::FlowFactor(const Flow& fl) const {
  if (params_.beside_rate >= 1) return fl.scale;
  return fl.scale * (reps_[fl.src].comp_busy || reps_[fl.dst].comp_busy ? params_.beside_rate : 1);
}

void RangeEngine::ComputeStateChanged(int32_t r, TimePs now) {
  if (params_.beside_rate >= 1) return;
  const std::vector<int32_t>& list = ranges_[reps_[r].range].flows;
  for (size_t j = 0; j < list.size(); ++j) {
    const Flow& fl = flows_[list[j]];
    if (fl.alive && !fl.finished && (fl.src == r || fl.dst == r)) RescheduleFlow(list[j], now);
  }
  Touch(reps_[r].range);
}

void RangeEngine::Record(int32_t r, int stream, int pos, TimePs start, TimePs end) {
  if (!traced_.any()) return;
  const Range& g = ranges_[reps_[r].range];
  traced_.Record(reps_[r].i, stream, pos, start, end, table_, [&](int rank) {
    const int block = rank / period_;
    return block >= g.lo && block <= g.hi;
  });
}

void RangeEngine::CompleteComm(int32_t r, int pos, TimePs now) {
  Rep& k = reps_[r];
  if (params_.compute_slows_beside_comm) {
    if (k.last_comp_done == now || (k.comp_busy && k.comp_end == now))
      Break("a compute op ends at the instant a comm op completes");
    k.last_comm_done = now;
  }
  stats_.ops += ranges_[k.range].n();
  k.tot.end_ps = std::max(k.tot.end_ps, now);
  Record(r, 1, pos, k.grp_post, now);
  Touch(k.range);
  if (--k.grp_left > 0) return;
  Mark(r, now);
  k.comm_busy = false;
  k.comm_waits_for = -1;
  k.done[1] = k.grp_end;
  UpdateComputeRate(r, now);
  TryAdvance(r, now);
}

void RangeEngine::ComputeDone(int32_t r, TimePs now) {
  Rep& k = reps_[r];
  if (params_.compute_slows_beside_comm) {
    // Unless that completion scheduled this end (NCCL left the kernel with nothing to run): then every order of the
    // time's events runs the end after the completion.
    if (k.last_comm_done == now && k.comp_sched_at < now) Break("a compute op ends at the instant a comm op completes");
    k.last_comp_done = now;
  }
  Mark(r, now);
  k.comp_busy = false;
  if (k.comm_waits_for == k.next[0] - 1) k.comm_waits_for = -1;
  ComputeStateChanged(r, now);
  ++k.done[0];
  stats_.ops += ranges_[k.range].n();
  k.tot.end_ps = std::max(k.tot.end_ps, now);
  Record(r, 0, k.next[0] - 1, k.comp_start, now);
  TryAdvance(r, now);
}

}  // namespace ringlab::sim
