#include "sim/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "sim/rank_rules.h"

namespace ringlab::sim {
Engine::Engine(const Topology& topology, const EngineParams& params, const std::vector<RankProgram>& programs,
               const std::vector<uint32_t>& program_of_rank, int period)
    : Engine(topology, params, std::make_shared<const ProgramTable>(programs, program_of_rank), period) {}

Engine::Engine(const Topology& topology, const EngineParams& params, const ProgramTable& table, int period)
    : Engine(topology, params, std::shared_ptr<const ProgramTable>(), period, &table) {}

Engine::Engine(const Topology& topology, const EngineParams& params, std::shared_ptr<const ProgramTable> owned,
               int period, const ProgramTable* table)
    : topo_(topology),
      params_(params),
      hw_(*params.profile),
      owned_(std::move(owned)),
      table_(table ? table : owned_.get()),
      spliced_(table_->spliced()),
      world_(topology.world()),
      period_(period > 0 && period < topology.world() && topology.world() % period == 0 ? period
                                                                                        : topology.world()),
      symmetric_(period_ < world_),
      ranks_(period_),
      totals_(period_),
      traced_(period_) {
  const double f = params_.kernel_first_fraction;
  const int participants[3] = {1, 2, world_};
  for (int i = 0; i < 3; ++i)
    kernel_first_chance_[i] = f <= 0 ? 0 : 1 - std::pow(1 - std::min(1.0, f), std::max(1, participants[i]));
  // A rank whose host posts an NCCL group (no dependencies, listed before the first kernel) launches that kernel
  // only after the host is done posting.
  for (int r = 0; r < period_; ++r) {
    TimePs at = 0;
    if (StreamSize(r, 0) > 0 && StreamSize(r, 1) > 0) {
      const SimOp& comm = OpAt(r, 1, 0);
      const bool posted_first =
          comm.op_id < OpAt(r, 0, 0).op_id && comm.need_done[0] == 0 && comm.need_done[1] == 0;
      at = posted_first ? params_.first_kernel_delay_ps : 0;
    }
    ranks_[r].first_kernel_at = at;
  }
}

void Engine::TraceRank(int rank, const RankSchedule* schedule) { traced_.Add(rank, schedule); }

void Engine::PushCompute(int r, TimePs t) {
  Rank& k = ranks_[r];
  k.comp_end = t;
  Push(t, kComputeDone, uint32_t(r), ++k.comp_version);
}

void Engine::Mark(int r, TimePs now) {
  Rank& k = ranks_[r];
  RankTotals& m = k.tot;
  const TimePs dt = now - k.mark;
  if (dt > 0) {
    if (k.comp_busy) m.compute_ps += dt;
    if (k.comm_busy) m.comm_ps += dt;
    if (k.comp_busy && k.comm_busy) m.both_ps += dt;
  }
  k.mark = now;
}

void Engine::Record(int rank, int stream, int pos, TimePs start, TimePs end) {
  if (traced_.any()) traced_.Record(rank, stream, pos, start, end, *table_);
}

void Engine::UpdateComputeRate(int r, TimePs now) {
  Rank& k = ranks_[r];
  if (!k.comp_busy || !params_.compute_slows_beside_comm) return;
  const bool slow = k.comm_busy && k.comm_waits_for < 0;
  if (slow == k.comp_slow) return;
  PushCompute(r, RerateCompute(k, OpAt(r, 0, k.next[0] - 1), slow, params_.nccl_takes_sms, now));
}

void Engine::TryAdvance(int r, TimePs now) {
  Rank& k = ranks_[r];
  auto ready = [&](const SimOp& op) {
    return k.done[0] >= op.need_done[0] && k.done[1] >= op.need_done[1] && k.next[1] >= op.need_posted;
  };
  bool progress = true;
  while (progress) {
    progress = false;
    const int32_t compute_ops = StreamSize(r, 0);
    const bool held = k.next[0] == 0 && params_.first_kernel_delay_ps > 0 && now < FirstKernelAt(r);
    if (held && !k.wake_pushed && k.next[0] < compute_ops) {
      Push(FirstKernelAt(r), kWake, uint32_t(r), 0);
      k.wake_pushed = true;
    }
    if (!held && !k.comp_busy && k.next[0] < compute_ops && ready(OpAt(r, 0, k.next[0]))) {
      const SimOp& op = OpAt(r, 0, k.next[0]);
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
        k.grp_ring = ComputeGroupIsRing(r);
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
  bool collective = false;
  int64_t bytes = 0;
  for (int pos = k.grp_begin; pos < k.grp_end; ++pos) {
    const SimOp& m = OpAt(r, 1, pos);
    bytes = std::max(bytes, m.bytes);
    if (m.kind == OpKind::kAllGather || m.kind == OpKind::kReduceScatter) collective = true;
  }
  const bool ring = GroupIsRing(r);
  return int32_t(std::lround(HeldSms(collective, ring, bytes) * kernel.slots_per_sm));
}

void Engine::DisplaceTail(int r, TimePs now) {
  Rank& k = ranks_[r];
  if (k.comm_waits_for < 0 || !k.comp_busy || k.tail_displaced || k.comp_end <= now) return;
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (running.displaced_ps <= 0 || running.idle_frac < 0 || k.comp_slow) return;
  // NCCL's kernel is pending when the last round starts only if it was posted before that instant.
  const TimePs last_round = k.comp_start + RoundPs(double(running.idle_frac) * double(k.comp_end - k.comp_start));
  if (now >= last_round) return;
  double q = params_.displaced_tail_fraction;  // expected value
  if (k.comp_start == now && now == 0) q *= KernelFirstChance(1);  // kernel-first ranks only
  const TimePs extra = RoundPs(q * double(running.displaced_ps));
  if (extra <= 0) return;
  k.tail_displaced = true;
  k.comp_left_ps += double(extra);
  PushCompute(r, k.comp_end + extra);
}

TimePs Engine::ReadyAt(int r, TimePs now, int participants) const {
  const Rank& k = ranks_[r];
  if (now == 0 && !k.comp_busy && params_.kernel_first_fraction > 0 && k.next[0] == 0 && FirstKernelAt(r) > 0) {
    // The first kernel is held for the host's posting on the ranks that are not kernel-first; on the kernel-first
    // ones it runs from t = 0 and the transfer waits for its first idle slot: the expected wait, as below.
    const SimOp& first = OpAt(r, 0, 0);
    if (params_.comm_start_wait <= 0 || !first.fills_gpu) return now;
    const double q = KernelFirstChance(participants);
    const double at = first.idle_frac >= 0 ? double(first.idle_frac) * double(first.dur_ps)
                                           : params_.comm_start_wait * double(first.dur_ps);
    return RoundPs(q * at);
  }
  // A compute op that started at this very instant holds the SMs too: on the GPU it was released in stream order,
  // while the transfer waits on another stream's event, which lands a few microseconds later. At time 0 it depends on
  // the host: one that posted ahead of its GPU (held by the barrier) has the kernel first, one that did not issues the
  // ops in list order and a transfer listed before the kernel gets its SMs first (EngineParams::kernel_first_fraction).
  if (params_.comm_start_wait <= 0 || !k.comp_busy || k.comp_end <= now || k.comp_start > now) return now;
  double q = 1;
  if (k.comp_start == now && now == 0) {
    q = KernelFirstChance(participants);
    if (q <= 0) return now;
  }
  const SimOp& running = OpAt(r, 0, k.next[0] - 1);
  if (!running.fills_gpu) return now;  // free SMs: NCCL's kernel starts at once
  // With a wave model: NCCL's kernel gets an SM when the first slot goes idle with no CTA left to hand out (the
  // running op's first-idle fraction of its span); otherwise comm_start_wait × its remaining time.
  const TimePs at = running.idle_frac >= 0
                        ? k.comp_start + RoundPs(double(running.idle_frac) * double(k.comp_end - k.comp_start))
                        : now + RoundPs(params_.comm_start_wait * double(k.comp_end - now));
  return at <= now ? now : now + RoundPs(q * double(at - now));
}

void Engine::CompleteComm(int r, int pos, TimePs now) {
  Rank& k = ranks_[r];
  if (symmetric_ && params_.compute_slows_beside_comm) {
    if (k.last_comp_done == now || (k.comp_busy && k.comp_end == now)) broken_ = true;
    k.last_comm_done = now;
  }
  Record(r, 1, pos, k.grp_post, now);
  ++stats_.ops;
  k.tot.end_ps = std::max(k.tot.end_ps, now);
  if (--k.grp_left > 0) return;
  Mark(r, now);
  k.comm_busy = false;
  k.comm_waits_for = -1;
  k.done[1] = k.grp_end;
  UpdateComputeRate(r, now);
  TryAdvance(r, now);
}

void Engine::ComputeDone(int r, TimePs now) {
  Rank& k = ranks_[r];
  if (symmetric_ && params_.compute_slows_beside_comm) {
    if (k.last_comm_done == now) broken_ = true;
    k.last_comp_done = now;
  }
  Mark(r, now);
  k.comp_busy = false;
  if (k.comm_waits_for == k.next[0] - 1) k.comm_waits_for = -1;  // its SMs free: the NCCL kernels start now
  ComputeStateChanged(r, now);
  ++k.done[0];
  ++stats_.ops;
  k.tot.end_ps = std::max(k.tot.end_ps, now);
  Record(r, 0, k.next[0] - 1, k.comp_start, now);
  TryAdvance(r, now);
}

Status Engine::Run() {
  Status st = RunEvents();
  for (int r = 0; r < period_; ++r) totals_[r] = ranks_[r].tot;
  return st;
}

Status Engine::RunEvents() {
  for (int r = 0; r < period_; ++r) TryAdvance(r, 0);
  if (broken_) return Status::Ok();
  TimePs now = 0;
  int64_t to_run = 0;
  for (int r = 0; r < period_ && progress_; ++r) to_run += StreamSize(r, 0) + StreamSize(r, 1);
  while (!queue_.empty()) {
    if (progress_ && (stats_.events & 0xFFFF) == 0) progress_(stats_.ops, to_run);
    const EventQueue::Slot top = queue_.Top();
    if (top.t < now) return Status::Internal("simulation time went backwards");
    now = top.t;
    // Process the time's events in push order; events pushed for `now` meanwhile land at its end.
    for (size_t i = 0; i < queue_.Size(top); ++i) {
      const EventQueue::Event e = queue_.At(top, i);
      ++stats_.events;
      if (e.type == kComputeDone) {
        const Rank& k = ranks_[e.id];
        if (e.version != k.comp_version || !k.comp_busy) continue;
        ComputeDone(int(e.id), now);
      } else if (e.type == kWake) {
        TryAdvance(int(e.id), now);
      } else {
        if (e.version != flows_[e.id].version) continue;
        FinishFlow(int32_t(e.id), now);
      }
      if (broken_) return Status::Ok();
    }
    queue_.Retire(top);
  }
  return StallCheck();
}

Status Engine::StallCheck() const {
  for (int r = 0; r < period_; ++r) {
    const Rank& k = ranks_[r];
    for (int s = 0; s < kStreamCount; ++s)
      if (k.done[s] < StreamSize(r, s)) {
        const int pos = std::min<int>(k.next[s] > k.done[s] ? k.done[s] : k.next[s], StreamSize(r, s) - 1);
        const SimOp& op = OpAt(r, s, pos);
        return Status::Internal("simulation stalled: rank " + std::to_string(r) + " " +
                                std::string(StreamName(StreamKind(s))) + " stream never finished op " +
                                std::to_string(op.op_id) + " (" + std::string(OpKindName(op.kind)) + ")");
      }
  }
  return Status::Ok();
}

}  // namespace ringlab::sim
