#include "sim/collective_groups.h"

#include <stdexcept>
#include <string>

#include "core/ulysses_layout.h"

namespace ringlab::sim {

void AssignCollectiveGroups(const ScheduleConfig& cfg, int rank, RankProgram* program) {
  for (SimOp& op : program->streams[int(StreamKind::kComm)]) {
    if (op.kind != OpKind::kAllGather && op.kind != OpKind::kReduceScatter && op.kind != OpKind::kAllToAll) continue;
    const CommGroup g = CollectiveGroup(cfg, rank, op.kind);
    if (g.size == cfg.world && op.kind != OpKind::kAllToAll) continue;  // every rank: group_size stays 0
    if (GroupFirst(rank, g.stride, g.size) != g.first || g.Rank(GroupIndex(rank, g.stride, g.size)) != rank)
      throw std::logic_error("collective group of rank " + std::to_string(rank) + " is not a tiled (stride, size)");
    op.group_stride = g.stride;
    op.group_size = g.size;
  }
}

bool NeedsGeneralEngine(const RankProgram& program) {
  for (const SimOp& op : program.streams[int(StreamKind::kComm)])
    if (op.kind == OpKind::kAllToAll || op.group_size > 0) return true;
  return false;
}

}  // namespace ringlab::sim
