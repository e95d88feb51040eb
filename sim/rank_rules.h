// Per-rank rules that the general engine (engine.cc, engine_transfers.cc) and the rank-range run (range_rules.cc)
// apply alike, written once so that both simulate the same model. They take a rank's state by template (Engine::Rank,
// RangeEngine::Rep: the same field names) and the rank's ops through a lookup, so neither engine exposes its tables.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/schedule.h"
#include "sim/rank_program.h"
#include "sim/time_ps.h"
#include "sim/wave_model.h"

namespace ringlab::sim {

// Whether the rank's posted comm group [grp_begin, grp_end) is one ring step: a send and a receive with two different
// peers. `comm_size` is the length of its comm stream, `comm_op(pos)` its op at pos.
template <typename RankState, typename CommOpAt>
bool CommGroupIsRing(const RankState& k, int comm_size, CommOpAt comm_op) {
  int send_peer = -1, recv_peer = -1;
  for (int pos = k.grp_begin; pos < k.grp_end && pos < comm_size; ++pos) {
    const SimOp& m = comm_op(pos);
    if (m.kind == OpKind::kSend) send_peer = m.peer_offset;
    if (m.kind == OpKind::kRecv) recv_peer = m.peer_offset;
  }
  return send_peer >= 0 && recv_peer >= 0 && send_peer != recv_peer;
}

// A rank's running compute op (`running`) when its comm stream starts or stops being busy: `slow` says whether it now
// runs beside communication ((1 + slowdown)× slower). Updates the rank's progress fields and returns the op's new end.
// A kernel that shared the GPU with NCCL since its launch and sees NCCL leave is list-scheduled instead (CTAs already
// placed keep running; the rest take the freed slots), which a rate cannot express for a kernel of a few rounds.
template <typename RankState>
TimePs RerateCompute(RankState& k, const SimOp& running, bool slow, bool nccl_takes_sms, TimePs now) {
  const double sd = running.slowdown;
  if (!slow && k.slow_from_start && running.ctas > 0 && nccl_takes_sms) {
    const TimePs end =
        std::max(now, k.comp_start + HeldSlotsMakespan(int64_t(std::llround(running.ctas)), running.slots,
                                                       k.launch_held_slots, running.round_ps, now - k.comp_start));
    k.slow_from_start = false;
    k.comp_slow = false;
    k.comp_last = now;
    k.comp_left_ps = double(end - now);
    return end;
  }
  k.slow_from_start = false;
  const double old_rate = k.comp_slow ? 1.0 / (1.0 + sd) : 1.0;
  k.comp_left_ps = std::max(0.0, k.comp_left_ps - double(now - k.comp_last) * old_rate);
  k.comp_last = now;
  k.comp_slow = slow;
  const double factor = slow ? 1.0 + sd : 1.0;
  return now + RoundPs(k.comp_left_ps * factor);
}

// A compute op starting at `now` on the rank: sets its progress fields and whether it starts beside communication
// (then it runs (1 + slowdown)× slower until NCCL leaves; `held_slots()`, the SMs NCCL holds at its launch, is asked
// only then). Returns its duration from now.
template <typename RankState, typename HeldSlots>
TimePs StartCompute(RankState& k, const SimOp& op, bool slows_beside_comm, TimePs now, HeldSlots held_slots) {
  k.comp_busy = true;
  k.comp_start = k.comp_last = now;
  k.comp_left_ps = double(op.dur_ps);
  if (k.first_wait && k.comm_busy && k.next[0] == 0) k.comm_waits_for = 0;  // NCCL waits for this kernel's SMs
  k.first_wait = false;
  k.tail_displaced = false;
  k.comp_slow = slows_beside_comm && k.comm_busy && k.comm_waits_for < 0;
  k.slow_from_start = k.comp_slow;
  if (k.slow_from_start) k.launch_held_slots = held_slots();
  return k.comp_slow ? RoundPs(double(op.dur_ps) * (1.0 + op.slowdown)) : op.dur_ps;
}

// The comm group starting at op `next` of a comm stream of `comm_ops` ops: ops flagged group_with_next are posted
// together. Returns one past its last op; *all_ready says whether `ready` accepts every op of it.
template <typename CommOpAt, typename Ready>
int CommGroupEnd(int next, int comm_ops, CommOpAt comm_op, Ready ready, bool* all_ready) {
  int end = next;
  *all_ready = true;
  while (true) {
    const SimOp& m = comm_op(end);
    *all_ready = *all_ready && ready(m);
    if (!m.group_with_next || end + 1 >= comm_ops) break;
    ++end;
  }
  return end + 1;
}

}  // namespace ringlab::sim
