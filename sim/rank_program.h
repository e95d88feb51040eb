// Compiled rank programs: a rank's schedule reduced to what the engine runs (sim/engine.h). Peers are relative to the
// rank and dependencies are counts of done ops per stream, so ranks that do the same thing (a ring) compile to equal
// programs and can share one copy; each compute op carries its whole cost (CostModel::Cost).
//
//   const CostModel cost(hw, cfg);
//   RankProgram p = CompileRank(BuildRankSchedule(cfg, rank), rank, world, cost, hw.listed_start_order);
#pragma once

#include <cstdint>
#include <vector>

#include "core/schedule.h"
#include "sim/cost_model.h"
#include "sim/time_ps.h"

namespace ringlab::sim {

// One schedule op compiled for the engine. The compute ops' cost fields come from one CostModel::Cost call.
struct SimOp {
  int32_t op_id = 0;              // the schedule op id (for traces)
  OpKind kind = OpKind::kAttend;
  bool group_with_next = false;   // the next op of this stream is posted together with this one
  bool fills_gpu = true;          // compute ops: launches at least one CTA per SM (a transfer posted beside it waits)
  float slowdown = 0;             // compute ops: runs (1 + slowdown)× slower while the rank communicates
  float idle_frac = -1;           // compute ops: OpCost::first_idle_fraction (−1: comm_start_wait applies)
  TimePs displaced_ps = 0;        // compute ops: OpCost::displaced_tail_ps (NCCL takes SMs from its last round)
  float ctas = 0;                 // compute ops with equal CTAs (OpCost::equal_ctas), else 0
  int32_t slots = 0;              // slots of the GPU (SMs × CTAs per SM)
  int32_t slots_per_sm = 1;       // CTAs of this kernel per SM (the SMs NCCL occupies × this = the slots it holds)
  TimePs round_ps = 0;
  int32_t need_done[kStreamCount] = {0, 0};  // may start once done[s] >= need_done[s] on both streams
  int32_t need_posted = 0;        // compute ops: and once this many comm ops are posted (core/start_order.h)
  int32_t peer_offset = -1;       // (peer − rank) mod W, or −1
  int32_t tag = -1;
  // Collectives: the communicator as (stride, size), see collective_groups.h; size 0 = every rank.
  int32_t group_stride = 1, group_size = 0;
  int64_t bytes = 0;              // comm ops only (compute ops carry their cost in dur_ps)
  TimePs dur_ps = 0;              // compute ops: duration alone
  uint8_t extrapolated = 0;       // compute ops: the Extrapolation of its cost (0: measured)
  bool operator==(const SimOp&) const = default;
};

struct RankProgram {
  std::vector<SimOp> streams[kStreamCount];
  int64_t memory_bytes = 0;
  double flops = 0;
  ExtrapolationTally extrapolation;  // its compute time and how much of it leaves the profile's measured data
  bool operator==(const RankProgram&) const = default;
  int64_t OpCount() const { return int64_t(streams[0].size() + streams[1].size()); }
};

// The extrapolation tallies of all ranks (rank r runs programs[program_of[r]]); `first_rank` (optional): the first
// rank with an extrapolated op, or −1.
ExtrapolationTally TallyRanks(const std::vector<RankProgram>& programs, const std::vector<uint32_t>& program_of,
                              int* first_rank = nullptr);

// `listed_start_order`: HardwareProfile::listed_start_order (kernels let the transfers listed before them go first).
RankProgram CompileRank(const RankSchedule& schedule, int rank, int world, const CostModel& cost,
                        bool listed_start_order = true);

}  // namespace ringlab::sim
