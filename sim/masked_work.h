// The per-CTA work of an attention block that a window or documents leave partly visible (AttendBlock::masked), for
// the CTA cost form's list scheduling (WaveModel::ListedKernelUs): the masked kernels loop over every tile the mask
// touches and mask the partly visible ones in registers, so a CTA's cost follows the tiles it touches, not the block's
// visible pairs (bench/results/mask_kernels_h100.md: charged by visible pairs, 256-1k documents came out 28% fast
// forward and 37% forward+backward at the median of 7 shapes; by touched tiles 6% and 18%).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/mask.h"
#include "core/schedule.h"
#include "sim/wave_model.h"

namespace ringlab::sim {

// Per CTA of one (batch, head) grid row, in the order WaveModel::CausalWork uses (forward: query tiles from the last,
// reversed for light_first; backward: key tiles from the first): (tiles it loops over, of them partly visible), the
// backward's scaled by `group` (the query heads a CTA walks). No tile is classified one by one: O(1) per CTA
// (masked_work.cc says why). Empty (the caller charges visible pairs instead) for a block of more than
// kMaxMaskedWorkCtas CTAs per grid row: far past any measured kernel, where the cost form averages its CTAs anyway.
inline constexpr int64_t kMaxMaskedWorkCtas = int64_t(1) << 16;
std::vector<std::pair<double, double>> MaskedWork(const WaveModel& wave, const Mask& mask, const AttendBlock& block,
                                                  double group);

}  // namespace ringlab::sim
