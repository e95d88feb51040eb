#include "sim/rank_program.h"

#include <algorithm>
#include <utility>

#include "core/start_order.h"

namespace ringlab::sim {

ExtrapolationTally TallyRanks(const std::vector<RankProgram>& programs, const std::vector<uint32_t>& program_of,
                              int* first_rank) {
  std::vector<double> ranks_of(programs.size(), 0);
  if (first_rank) *first_rank = -1;
  for (size_t r = 0; r < program_of.size(); ++r) {
    ranks_of[program_of[r]] += 1;
    if (first_rank && *first_rank < 0 && programs[program_of[r]].extrapolation.first_op >= 0) *first_rank = int(r);
  }
  ExtrapolationTally t;
  if (first_rank && *first_rank >= 0) t.Merge(programs[program_of[*first_rank]].extrapolation, 0);
  for (size_t p = 0; p < programs.size(); ++p) t.Merge(programs[p].extrapolation, ranks_of[p]);
  return t;
}

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
      const OpCost c = cost.Cost(op);
      so.dur_ps = c.duration_ps;
      so.fills_gpu = c.fills_gpu;
      so.idle_frac = float(c.first_idle_fraction);
      so.displaced_ps = c.displaced_tail_ps;
      if (c.equal_ctas) {
        so.ctas = float(c.ctas);
        so.slots = c.slots;
        so.slots_per_sm = c.slots_per_sm;
        so.round_ps = c.round_ps;
      }
      so.slowdown = float(c.beside_comm_slowdown);
      p.flops += op.flops;
      so.extrapolated = uint8_t(c.extrapolated);
      p.extrapolation.Add(op.id, c.duration_ps, c.extrapolated);
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

}  // namespace ringlab::sim
