#include "sim/engine.h"

#include "core/start_order.h"

#include <algorithm>
#include <limits>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ringlab::sim {
namespace {
// Non-negative durations to integer ps (faster than llround, same result for x >= 0).
inline int64_t Round(double x) { return int64_t(x + 0.5); }
}  // namespace

RankProgram CompileRank(const RankSchedule& schedule, int rank, int world, const CostModel& cost,
                        bool listed_start_order) {
  RankProgram p;
  const std::vector<std::vector<int32_t>> go_first =
      listed_start_order ? ListedStartWaits(schedule) : std::vector<std::vector<int32_t>>(schedule.ops.size());
  std::vector<std::pair<int, int>> where(schedule.ops.size());  // op id -> (stream, position)
  for (const Op& op : schedule.ops) {
    const int s = int(op.stream);
    where[op.id] = {s, int(p.streams[s].size())};
    SimOp so;
    so.op_id = op.id;
    so.kind = op.kind;
    for (int32_t d : op.deps) {
      const auto [ds, dp] = where[d];
      so.need_done[ds] = std::max(so.need_done[ds], dp + 1);
    }
    for (int32_t g : go_first[op.id]) so.need_posted = std::max(so.need_posted, where[g].second + 1);
    so.peer_offset = op.peer >= 0 ? (op.peer - rank + world) % world : -1;
    so.tag = op.tag;
    if (op.stream == StreamKind::kCompute) {
      so.dur_ps = cost.ComputePs(op);
      so.fills_gpu = cost.FillsGpu(op);
      so.idle_frac = float(cost.FirstIdleFraction(op));
      so.displaced_ps = cost.DisplacedTailPs(op);
      double ctas = 0;
      int slots = 0;
      int64_t round_ps = 0;
      if (cost.EqualCtaWaves(op, &ctas, &slots, &round_ps)) {
        so.ctas = float(ctas);
        so.slots = slots;
        so.slots_per_sm = cost.SlotsPerSm(op);
        so.round_ps = round_ps;
      }
      so.slowdown = float(cost.BesideCommSlowdown(op));
      p.flops += op.flops;
    } else {
      so.bytes = op.bytes;
    }
    p.streams[s].push_back(so);
  }
  // Groups: consecutive comm ops with the same group id.
  for (int s = 0; s < kStreamCount; ++s) {
    std::vector<SimOp>& v = p.streams[s];
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      const Op& a = schedule.ops[v[i].op_id];
      const Op& b = schedule.ops[v[i + 1].op_id];
      v[i].group_with_next = a.group >= 0 && a.group == b.group;
    }
  }
  for (const BufferInfo& b : schedule.buffers) p.memory_bytes += b.bytes;
  return p;
}

Engine::Engine(const Topology& topology, const HardwareProfile& hw, const std::vector<RankProgram>& programs,
               const std::vector<uint32_t>& program_of_rank, int period)
    : topo_(topology),
      hw_(hw),
      programs_(programs),
      program_of_rank_(program_of_rank),
      world_(topology.world()),
      period_(period > 0 && period < topology.world() && topology.world() % period == 0 ? period
                                                                                        : topology.world()),
      symmetric_(period_ < world_),
      slowdown_(hw.comm_slowdown > 0 || hw.nccl_sms > 0 ? 1.0 : 0.0),  // > 0: some op may slow beside comm
      start_wait_(hw.comm_start_wait),
      beside_(hw.comm_rate_beside_compute),
      coll_step_latency_(Round(hw.collective_step_latency_us * 1e6)),
      coll_hop_latency_(hw.collective_hop_latency_us >= 0 ? Round(hw.collective_hop_latency_us * 1e6) : -1),
      ranks_(period_),
      totals_(period_),
      port_flows_(4 * size_t(period_)),
      traced_(period_, nullptr) {}

void Engine::TraceRank(int rank, const RankSchedule* schedule) { traced_.at(rank) = schedule; }

uint32_t Engine::BucketFor(TimePs t) {
  for (const TimeKey& c : cache_)
    if (c.t == t && c.bucket != UINT32_MAX) return c.bucket;
  uint32_t id;
  auto it = open_.find(t);
  if (it != open_.end()) {
    id = it->second;
  } else {
    if (!free_buckets_.empty()) {
      id = free_buckets_.back();
      free_buckets_.pop_back();
    } else {
      id = uint32_t(buckets_.size());
      buckets_.emplace_back();
    }
    buckets_[id].t = t;
    open_.emplace(t, id);
    // 4-ary heap insert of the new distinct time.
    size_t i = heap_.size();
    heap_.push_back(TimeKey{t, id});
    while (i > 0) {
      const size_t parent = (i - 1) / 4;
      if (heap_[parent].t <= t) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = TimeKey{t, id};
  }
  cache_[cache_next_] = TimeKey{t, id};
  cache_next_ = (cache_next_ + 1) % kCache;
  return id;
}

void Engine::Push(TimePs t, uint32_t type, uint32_t id, uint32_t version) {
  ++seq_;
  buckets_[BucketFor(t)].items.push_back(Event{type, id, version});
}

void Engine::PushCompute(int r, TimePs t) {
  Rank& k = ranks_[r];
  k.comp_end = t;
  Push(t, kComputeDone, uint32_t(r), ++k.comp_version);
}

void Engine::Mark(int r, TimePs now) {
  Rank& k = ranks_[r];
  RankTotals& m = totals_[r];
  const TimePs dt = now - k.mark;
  if (dt > 0) {
    if (k.comp_busy) m.compute_ps += dt;
    if (k.comm_busy) m.comm_ps += dt;
    if (k.comp_busy && k.comm_busy) m.both_ps += dt;
  }
  k.mark = now;
}

void Engine::Record(int rank, int stream, int pos, TimePs start, TimePs end) {
  const RankSchedule* rs = traced_[rank];
  if (!rs) return;
  TraceEvent e = EventFor(rank, rs->ops[OpAt(rank, stream, pos).op_id]);
  e.ts_us = double(start) * 1e-6;
  e.dur_us = double(end - start) * 1e-6;
  trace_.push_back(e);
}

void Engine::UpdateComputeRate(int r, TimePs now) {
  Rank& k = ranks_[r];
  if (!k.comp_busy || slowdown_ <= 0) return;
  const bool slow = k.comm_busy && k.comm_waits_for < 0;
  if (slow == k.comp_slow) return;
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  const double sd = running.slowdown;
  if (!slow && k.slow_from_start && running.ctas > 0 && hw_.nccl_sms > 0) {
    // NCCL leaves a kernel it shared the GPU with since launch: CTAs already placed keep running; the rest take the
    // freed slots (list scheduling), which a rate cannot express for a kernel of a few rounds.
    const TimePs end = std::max(now, k.comp_start + HeldSlotsMakespan(int64_t(std::llround(running.ctas)), running.slots,
                                                                      k.launch_held_slots, running.round_ps,
                                                                      now - k.comp_start));
    k.slow_from_start = false;
    k.comp_slow = false;
    k.comp_last = now;
    k.comp_left_ps = double(end - now);
    PushCompute(r, end);
    return;
  }
  k.slow_from_start = false;
  const double old_rate = k.comp_slow ? 1.0 / (1.0 + sd) : 1.0;
  k.comp_left_ps = std::max(0.0, k.comp_left_ps - double(now - k.comp_last) * old_rate);
  k.comp_last = now;
  k.comp_slow = slow;
  const double factor = slow ? 1.0 + sd : 1.0;
  PushCompute(r, now + Round(k.comp_left_ps * factor));
}

void Engine::TryAdvance(int r, TimePs now) {
  Rank& k = ranks_[r];
  const RankProgram& prog = programs_[program_of_rank_[r]];
  auto ready = [&](const SimOp& op) {
    return k.done[0] >= op.need_done[0] && k.done[1] >= op.need_done[1] && k.next[1] >= op.need_posted;
  };
  bool progress = true;
  while (progress) {
    progress = false;
    const std::vector<SimOp>& cs = prog.streams[0];
    const bool held = k.next[0] == 0 && first_kernel_delay_ > 0 && now < FirstKernelAt(r);
    if (held && !k.wake_pushed && k.next[0] < int(cs.size())) {
      Push(FirstKernelAt(r), kWake, uint32_t(r), 0);
      k.wake_pushed = true;
    }
    if (!held && !k.comp_busy && k.next[0] < int(cs.size()) && ready(cs[k.next[0]])) {
      const SimOp& op = cs[k.next[0]];
      Mark(r, now);
      if (!k.started) totals_[r].start_ps = now, k.started = true;
      k.comp_busy = true;
      k.comp_start = k.comp_last = now;
      k.comp_left_ps = double(op.dur_ps);
      if (k.first_wait && k.comm_busy && k.next[0] == 0) k.comm_waits_for = 0;  // NCCL waits for this kernel's SMs
      k.first_wait = false;
      k.tail_displaced = false;
      k.comp_slow = slowdown_ > 0 && k.comm_busy && k.comm_waits_for < 0;
      k.slow_from_start = k.comp_slow;
      if (k.slow_from_start) k.launch_held_slots = HeldSlotsBeside(r, op);
      const TimePs dur = k.comp_slow ? Round(double(op.dur_ps) * (1.0 + op.slowdown)) : op.dur_ps;
      PushCompute(r, now + dur);
      ++k.next[0];
      ComputeStateChanged(r, now);
    }
    const std::vector<SimOp>& ms = prog.streams[1];
    if (!k.comm_busy && k.next[1] < int(ms.size())) {
      int end = k.next[1];
      bool all_ready = true;
      while (true) {
        all_ready = all_ready && ready(ms[end]);
        if (!ms[end].group_with_next || end + 1 >= int(ms.size())) break;
        ++end;
      }
      ++end;
      if (all_ready) {
        Mark(r, now);
        if (!k.started) totals_[r].start_ps = now, k.started = true;
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

int32_t Engine::HeldSlotsBeside(int r, const SimOp& kernel) const {
  const Rank& k = ranks_[r];
  // The group in flight: a collective, or a send and a receive with two peers (a ring step) or one (a pair).
  const std::vector<SimOp>& ms = programs_[program_of_rank_[r]].streams[1];
  bool collective = false;
  int64_t bytes = 0;
  for (int pos = k.grp_begin; pos < k.grp_end; ++pos) {
    bytes = std::max(bytes, ms[pos].bytes);
    if (ms[pos].kind == OpKind::kAllGather || ms[pos].kind == OpKind::kReduceScatter) collective = true;
  }
  const bool ring = GroupIsRing(r);
  return int32_t(std::lround(hw_.HeldSmsFor(collective, ring, bytes) * kernel.slots_per_sm));
}

void Engine::DisplaceTail(int r, TimePs now) {
  Rank& k = ranks_[r];
  if (k.comm_waits_for < 0 || !k.comp_busy || k.tail_displaced || k.comp_end <= now) return;
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (running.displaced_ps <= 0 || running.idle_frac < 0 || k.comp_slow) return;
  // NCCL's kernel is pending when the last round starts only if it was posted before that instant.
  const TimePs last_round = k.comp_start + Round(double(running.idle_frac) * double(k.comp_end - k.comp_start));
  if (now >= last_round) return;
  double q = displaced_fraction_ >= 0 ? displaced_fraction_ : hw_.displaced_tail_fraction;  // expected value
  if (k.comp_start == now && now == 0) q *= KernelFirstChance(r, 1);  // kernel-first ranks only
  const TimePs extra = Round(q * double(running.displaced_ps));
  if (extra <= 0) return;
  k.tail_displaced = true;
  k.comp_left_ps += double(extra);
  PushCompute(r, k.comp_end + extra);
}

TimePs HeldSlotsMakespan(int64_t ctas, int slots, int held_slots, TimePs round, TimePs held) {
  const int64_t b = std::clamp(held_slots, 0, slots - 1), a = slots - b;  // free from the launch / from `held`
  // Dispatch in time order: a slots free at 0, R, 2R, ...; b slots at held, held + R, ...
  int64_t left = ctas;
  TimePs ta = 0, tb = b > 0 ? held : std::numeric_limits<TimePs>::max() / 4, end = 0;
  while (left > 0) {
    const bool use_a = ta <= tb;
    TimePs& t = use_a ? ta : tb;
    const int64_t take = std::min(left, use_a ? a : b);
    end = std::max(end, t + round);
    left -= take;
    t += round;
  }
  return end;
}

TimePs Engine::FirstKernelAt(int r) const {
  const RankProgram& prog = programs_[program_of_rank_[r]];
  if (prog.streams[0].empty() || prog.streams[1].empty()) return 0;
  const SimOp& comm = prog.streams[1][0];
  const bool posted_first = comm.op_id < prog.streams[0][0].op_id && comm.need_done[0] == 0 && comm.need_done[1] == 0;
  return posted_first ? first_kernel_delay_ : 0;
}

double Engine::KernelFirstChance(int r, int participants) const {
  if (kernel_first_ <= 0) return 0;
  return 1 - std::pow(1 - std::min(1.0, kernel_first_), std::max(1, participants));
}

TimePs Engine::ReadyAt(int r, TimePs now, int participants) const {
  const Rank& k = ranks_[r];
  if (now == 0 && !k.comp_busy && kernel_first_ > 0 && k.next[0] == 0 && FirstKernelAt(r) > 0) {
    // The first kernel is held for the host's posting on the ranks that are not kernel-first; on the kernel-first
    // ones it runs from t = 0 and the transfer waits for its first idle slot: the expected wait, as below.
    const SimOp& first = OpAt(r, 0, 0);
    if (start_wait_ <= 0 || !first.fills_gpu) return now;
    const double q = KernelFirstChance(r, participants);
    const double at = first.idle_frac >= 0 ? double(first.idle_frac) * double(first.dur_ps)
                                           : start_wait_ * double(first.dur_ps);
    return Round(q * at);
  }
  // A compute op that started at this very instant holds the SMs too: on the GPU it was released in stream order,
  // while the transfer waits on another stream's event, which lands a few microseconds later. At time 0 it depends on
  // the host: one that posted ahead of its GPU (held by the barrier) has the kernel first, one that did not issues the
  // ops in list order and a transfer listed before the kernel gets its SMs first (SetKernelFirstFraction).
  if (start_wait_ <= 0 || !k.comp_busy || k.comp_end <= now || k.comp_start > now) return now;
  double q = 1;
  if (k.comp_start == now && now == 0) {
    q = KernelFirstChance(r, participants);
    if (q <= 0) return now;
  }
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (!running.fills_gpu) return now;  // free SMs: NCCL's kernel starts at once
  // With a wave model: NCCL's kernel gets an SM when the first slot goes idle with no CTA left to hand out (the
  // running op's first-idle fraction of its span); otherwise comm_start_wait × its remaining time.
  const TimePs at = running.idle_frac >= 0
                        ? k.comp_start + Round(double(running.idle_frac) * double(k.comp_end - k.comp_start))
                        : now + Round(start_wait_ * double(k.comp_end - now));
  return at <= now ? now : now + Round(q * double(at - now));
}

void Engine::Post(int r, int pos, TimePs now) {
  const SimOp& op = OpAt(r, 1, pos);
  const bool collective = op.kind == OpKind::kAllGather || op.kind == OpKind::kReduceScatter;
  const TimePs ready = ReadyAt(r, now, collective ? world_ : 2);
  switch (op.kind) {
    case OpKind::kSend: {
      // Actual receiver d; its representative dc sees this send as coming from r shifted by −(d − dc).
      const int dst = (r + op.peer_offset) % world_;
      const int dc = dst % period_;
      const int as_src = (r - (dst - dc) + world_) % world_;
      auto& recvs = ranks_[dc].recvs;
      for (int i = 0; i < recvs.size(); ++i)
        if (recvs[i].src == as_src && recvs[i].tag == op.tag) {
          const int dst_pos = recvs[i].pos;
          const TimePs wait = std::max(ready, recvs[i].ready) - now;
          recvs.erase(i);
          StartFlow(r, dc, r, dst, op.bytes, wait, false, pos, dst_pos, now, GroupIsRing(r));
          return;
        }
      ranks_[dc].sends_to_me.push_back(Pending{as_src, op.tag, pos, ready});
      return;
    }
    case OpKind::kRecv: {
      const int src = (r + op.peer_offset) % world_;
      auto& sends = ranks_[r].sends_to_me;
      for (int i = 0; i < sends.size(); ++i)
        if (sends[i].src == src && sends[i].tag == op.tag) {
          const int src_pos = sends[i].pos;
          const TimePs wait = std::max(ready, sends[i].ready) - now;
          sends.erase(i);
          StartFlow(src % period_, r, src, r, op.bytes, wait, false, src_pos, pos, now, GroupIsRing(r));
          return;
        }
      ranks_[r].recvs.push_back(Pending{src, op.tag, pos, ready});
      return;
    }
    case OpKind::kAllGather:
    case OpKind::kReduceScatter: {
      Collective& c = collectives_[op.tag];
      if (c.pos.empty()) {
        c.pos.assign(period_, -1);
        c.sent.assign(period_, 0);
        c.recvd.assign(period_, 0);
        c.sending.assign(period_, 0);
        c.ready.assign(period_, 0);
        c.chunk = world_ > 1 ? op.bytes / (world_ - 1) : 0;
      }
      c.pos[r] = pos;
      c.ready[r] = ready;
      if (++c.arrived == period_)
        for (int x = 0; x < period_; ++x) TryCollectiveStep(c, op.tag, x, now);
      return;
    }
    default:
      throw std::logic_error("compute op kind on the comm stream");
  }
}

void Engine::TryCollectiveStep(Collective& c, int tag, int x, TimePs now) {
  const int steps = world_ - 1;
  if (c.sending[x] || c.sent[x] >= steps || c.recvd[x] < c.sent[x]) return;
  c.sending[x] = 1;
  const int next = (x + 1) % world_;
  const TimePs wait = c.sent[x] == 0 ? std::max<TimePs>(0, std::max(c.ready[x], c.ready[next % period_]) - now) : 0;
  StartFlow(x, next % period_, x, next, c.chunk, (coll_hop_latency_ >= 0 ? 0 : coll_step_latency_) + wait, true, x, tag,
            now);
}

void Engine::StartFlow(int src, int dst, int route_src, int route_dst, int64_t bytes, TimePs extra_latency,
                       bool collective, int src_pos, int dst_pos, TimePs now, bool ring) {
  int32_t f;
  if (!free_flows_.empty()) {
    f = free_flows_.back();
    free_flows_.pop_back();
  } else {
    f = int32_t(flows_.size());
    flows_.emplace_back();
  }
  Flow& fl = flows_[f];
  TimePs lat;
  int out_port, in_port;
  topo_.Route(route_src, route_dst, &out_port, &in_port, &lat);
  // Ports are numbered by (representative) rank: 4·rank + kind. A port's rate depends only on its kind.
  fl.port[0] = 4 * src + out_port % 4;
  fl.port[1] = 4 * dst + in_port % 4;
  // A shared port makes the result depend on the order of same-time joins and leaves: not provably symmetric.
  if (symmetric_ && (port_flows_[fl.port[0]].n > 0 || port_flows_[fl.port[1]].n > 0)) broken_ = true;
  fl.left_bytes = double(bytes);
  fl.rate = 0;
  fl.last = now;
  fl.bytes_end = std::numeric_limits<TimePs>::max();
  fl.latency = (collective && coll_hop_latency_ >= 0 ? coll_hop_latency_ : lat) + extra_latency;
  fl.collective = collective;
  fl.src = src;
  fl.dst = dst;
  fl.src_pos = src_pos;
  fl.dst_pos = dst_pos;
  fl.scale = 1;
  if (!collective && out_port % 4 < 2 && in_port % 4 < 2 && bytes > 0) {
    // NVLink with a measured time table: the whole measured time becomes the flow's (its latency included, so a
    // transfer beside a kernel stretches as a whole, as measured), at the rate that gives it.
    const double table_us = hw_.P2pTimeUs(ring, bytes);
    if (table_us > 0) {
      const double line_us = double(bytes) / std::min(topo_.PortBytesPerPs(out_port), topo_.PortBytesPerPs(in_port)) * 1e-6;
      fl.scale = std::clamp(line_us / table_us, 1e-3, 5.0);
      fl.latency = extra_latency;
    }
  }
  ++stats_.flows;
  for (int p : fl.port) port_flows_[p].add(f);
  if (port_flows_[fl.port[0]].n == 1 && port_flows_[fl.port[1]].n == 1) {
    // Alone on both ports (the common case): what Reflow would do, directly. The rate is the smaller port rate.
    fl.rate = std::min(topo_.PortBytesPerPs(fl.port[0]), topo_.PortBytesPerPs(fl.port[1])) * FlowFactor(fl);
    fl.bytes_end = now + Round(fl.left_bytes / fl.rate);
    Push(fl.bytes_end + fl.latency, kFlowDone, uint32_t(f), ++fl.version);
    return;
  }
  for (int p : fl.port) Reflow(p, now);
}

void Engine::RescheduleFlow(int32_t f, TimePs now) {
  Flow& fl = flows_[f];
  if (now >= fl.bytes_end) return;  // bytes already through; only the latency tail is left
  fl.left_bytes = std::max(0.0, fl.left_bytes - fl.rate * double(now - fl.last));
  fl.last = now;
  double rate = 1e300;
  for (int p : fl.port) rate = std::min(rate, topo_.PortBytesPerPs(p) / double(port_flows_[p].n));
  rate *= FlowFactor(fl);
  if (rate == fl.rate && fl.bytes_end != std::numeric_limits<TimePs>::max()) return;
  fl.rate = rate;
  fl.bytes_end = now + Round(fl.left_bytes / rate);
  Push(fl.bytes_end + fl.latency, kFlowDone, uint32_t(f), ++fl.version);
}

double Engine::FlowFactor(const Flow& fl) const {
  if (beside_ >= 1) return fl.scale;
  return fl.scale * (ranks_[fl.port[0] / 4].comp_busy || ranks_[fl.port[1] / 4].comp_busy ? beside_ : 1);
}

bool Engine::GroupIsRing(int r) const {
  const Rank& k = ranks_[r];
  const std::vector<SimOp>& ms = programs_[program_of_rank_[r]].streams[1];
  int send_peer = -1, recv_peer = -1;
  for (int pos = k.grp_begin; pos < k.grp_end && pos < int(ms.size()); ++pos) {
    if (ms[pos].kind == OpKind::kSend) send_peer = ms[pos].peer_offset;
    if (ms[pos].kind == OpKind::kRecv) recv_peer = ms[pos].peer_offset;
  }
  return send_peer >= 0 && recv_peer >= 0 && send_peer != recv_peer;
}

void Engine::ComputeStateChanged(int r, TimePs now) {
  if (beside_ >= 1) return;
  if (symmetric_) {  // a rate change that coincides with a flow starting or its bytes ending: order matters
    for (int p = 4 * r; p < 4 * r + 4; ++p)
      for (int i = 0; i < port_flows_[p].size(); ++i) {
        const Flow& fl = flows_[port_flows_[p].at(i)];
        if (fl.last == now || fl.bytes_end == now) broken_ = true;
      }
  }
  for (int p = 4 * r; p < 4 * r + 4; ++p)
    if (port_flows_[p].n > 0) Reflow(p, now);
}

void Engine::Reflow(int port, TimePs now) {
  const PortFlows& pf = port_flows_[port];
  for (int i = 0; i < pf.size(); ++i) RescheduleFlow(pf.at(i), now);
}

void Engine::FinishFlow(int32_t f, TimePs now) {
  Flow& live = flows_[f];
  for (int p : live.port) port_flows_[p].remove(f);
  ++live.version;
  const Flow fl = live;
  free_flows_.push_back(f);
  for (int p : fl.port)
    if (port_flows_[p].n > 0) Reflow(p, now);
  if (!fl.collective) {
    CompleteComm(fl.src, fl.src_pos, now);
    CompleteComm(fl.dst, fl.dst_pos, now);
    return;
  }
  const int tag = fl.dst_pos;
  Collective& c = collectives_.at(tag);
  c.sending[fl.src] = 0;
  ++c.sent[fl.src];
  ++c.recvd[fl.dst];
  const int steps = world_ - 1;
  for (int x : {fl.src, fl.dst}) {
    if (c.sent[x] == steps && c.recvd[x] == steps && c.pos[x] >= 0) {
      const int pos = c.pos[x];
      c.pos[x] = -1;
      ++c.finished;
      CompleteComm(x, pos, now);
    } else {
      TryCollectiveStep(c, tag, x, now);
    }
  }
  if (c.finished == period_) collectives_.erase(tag);
}

void Engine::CompleteComm(int r, int pos, TimePs now) {
  Rank& k = ranks_[r];
  if (symmetric_ && slowdown_ > 0) {
    if (k.last_comp_done == now || (k.comp_busy && k.comp_end == now)) broken_ = true;
    k.last_comm_done = now;
  }
  Record(r, 1, pos, k.grp_post, now);
  ++stats_.ops;
  totals_[r].end_ps = std::max(totals_[r].end_ps, now);
  if (--k.grp_left > 0) return;
  Mark(r, now);
  k.comm_busy = false;
  k.comm_waits_for = -1;
  k.done[1] = k.grp_end;
  UpdateComputeRate(r, now);
  TryAdvance(r, now);
}

Status Engine::Run() {
  for (TimeKey& c : cache_) c = TimeKey{0, UINT32_MAX};
  for (int r = 0; r < period_; ++r) TryAdvance(r, 0);
  if (broken_) return Status::Ok();
  TimePs now = 0;
  while (!heap_.empty()) {
    const TimeKey top = heap_[0];
    if (top.t < now) return Status::Internal("simulation time went backwards");
    now = top.t;
    // Process the bucket in FIFO (= sequence) order; events pushed for `now` meanwhile land at its end.
    for (size_t i = 0; i < buckets_[top.bucket].items.size(); ++i) {
      const Event e = buckets_[top.bucket].items[i];
      ++stats_.events;
      if (e.type == kComputeDone) {
        Rank& k = ranks_[e.id];
        if (e.version != k.comp_version || !k.comp_busy) continue;
        if (symmetric_ && slowdown_ > 0) {
          if (k.last_comm_done == now) broken_ = true;
          k.last_comp_done = now;
        }
        Mark(int(e.id), now);
        k.comp_busy = false;
        if (k.comm_waits_for == k.next[0] - 1) k.comm_waits_for = -1;  // its SMs free: the NCCL kernels start now
        ComputeStateChanged(int(e.id), now);
        ++k.done[0];
        ++stats_.ops;
        totals_[e.id].end_ps = std::max(totals_[e.id].end_ps, now);
        Record(int(e.id), 0, k.next[0] - 1, k.comp_start, now);
        TryAdvance(int(e.id), now);
      } else if (e.type == kWake) {
        TryAdvance(int(e.id), now);
      } else {
        if (e.version != flows_[e.id].version) continue;
        FinishFlow(int32_t(e.id), now);
      }
      if (broken_) return Status::Ok();
    }
    // Retire the bucket and pop its time from the heap.
    buckets_[top.bucket].items.clear();
    free_buckets_.push_back(top.bucket);
    open_.erase(top.t);
    for (TimeKey& c : cache_)
      if (c.bucket == top.bucket) c = TimeKey{0, UINT32_MAX};
    const TimeKey last = heap_.back();
    heap_.pop_back();
    const size_t n = heap_.size();
    if (n > 0) {
      size_t i = 0;
      while (true) {
        const size_t c0 = 4 * i + 1;
        if (c0 >= n) break;
        size_t best = c0;
        for (size_t c = c0 + 1; c < std::min(c0 + 4, n); ++c)
          if (heap_[c].t < heap_[best].t) best = c;
        if (heap_[best].t >= last.t) break;
        heap_[i] = heap_[best];
        i = best;
      }
      heap_[i] = last;
    }
  }
  for (int r = 0; r < period_; ++r) {
    const Rank& k = ranks_[r];
    const RankProgram& p = programs_[program_of_rank_[r]];
    for (int s = 0; s < kStreamCount; ++s)
      if (k.done[s] < int(p.streams[s].size())) {
        const int pos = std::min<int>(k.next[s] > k.done[s] ? k.done[s] : k.next[s], int(p.streams[s].size()) - 1);
        return Status::Internal("simulation stalled: rank " + std::to_string(r) + " " +
                                std::string(StreamName(StreamKind(s))) + " stream never finished op " +
                                std::to_string(p.streams[s][pos].op_id) + " (" +
                                std::string(OpKindName(p.streams[s][pos].kind)) + ")");
      }
  }
  return Status::Ok();
}

}  // namespace ringlab::sim
