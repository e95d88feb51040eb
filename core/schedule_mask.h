// Schedule internals for masks beyond plain causal/full (a window or documents, core/mask.h): which blocks a rank
// computes against an origin's K/V, and how far each origin's K/V must travel along the ring. Not a public header.
//
// Blocks: one per (query chunk, key chunk) pair the mask does not empty. A block wholly visible is a plain full
// block (dense kernels); a partial one is `masked` and carries the global tokens of its first query and key, so
// executors decide each pair with the problem's mask.
// Reach: the K/V of origin o is used at ring steps 0..reach(o) (step t: rank o + t). Hops beyond the reach are
// skipped, and in backward the travelling dK/dV returns from the rank at step reach(o) straight to o.
#pragma once

#include <memory>
#include <vector>

#include "core/mask.h"
#include "core/schedule.h"
#include "core/sharding.h"

namespace ringlab {

std::vector<AttendBlock> MaskedBlocks(const Mask& mask, const Sharding& sharding, int rank, int origin);

// reach[o] for every origin of the ring (plain masks: W − 1 everywhere). Cached for the last mask and sharding asked,
// so building the ranks of one schedule one at a time computes it once.
std::shared_ptr<const std::vector<int>> RingReach(const Mask& mask, const Sharding& sharding);

}  // namespace ringlab
