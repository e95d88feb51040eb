// Which ranks a compiled collective runs among, in rank-relative form, so that programs of ranks doing the same thing
// stay equal (and shareable). A communicator of `size` ranks spaced `stride` apart (core/ulysses_layout.h's
// CommGroup) is fully described by (stride, size) and the rank itself: every group the layout forms tiles blocks of
// stride·size consecutive ranks, so
//   first = rank − rank mod (stride·size) + rank mod stride,   member index = (rank / stride) mod size.
// SimOp::group_size = 0 means every rank (plain context parallelism; the engine's original path).
//
//   RankProgram p = CompileRank(BuildRankSchedule(cfg, r), r, w, cost);
//   AssignCollectiveGroups(cfg, r, &p);
#pragma once

#include "core/schedule.h"
#include "sim/rank_program.h"

namespace ringlab::sim {

// The first rank of the communicator (stride, size) that `rank` belongs to, and `rank`'s index in it.
inline int GroupFirst(int rank, int stride, int size) {
  const int block = stride * size;
  return rank - rank % block + rank % stride;
}
inline int GroupIndex(int rank, int stride, int size) { return (rank / stride) % size; }

// Sets group_stride/group_size of `rank`'s collective ops from CollectiveGroup(cfg, rank, kind); leaves them at
// (1, 0) when the group is every rank. Throws std::logic_error if a layout group does not have the tiled form above.
void AssignCollectiveGroups(const ScheduleConfig& cfg, int rank, RankProgram* program);

// True when a program needs the general engine: an all-to-all, or a collective over less than every rank (the
// symmetric run's representatives and the sampled program sharing are proven for whole-world collectives only).
bool NeedsGeneralEngine(const RankProgram& program);

}  // namespace ringlab::sim
