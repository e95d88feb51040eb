// Start order: which transfers a kernel lets start before it, so the GPU starts a rank's ops in the order the schedule
// lists them. The GPU executor enforces it (a kernel waits on those transfers' start events) and the simulator models
// it (the kernel is ready only once those transfers are posted): one rule, derived here from the schedule alone.
//
// Why: a transfer and the next kernel often become ready at the same instant (both wait for the previous kernel). On
// the GPU the kernel is then released first (same stream) while NCCL's kernel waits for a cross-stream event; a
// kernel with nearly a CTA per SM takes the SMs and the transfer crawls on what is left until the kernel ends
// (measured: a 16 MiB ring transfer took 210-260 us instead of 137 beside a 128-CTA block on 132 SMs). The list
// says the transfer comes first; honouring it costs nothing when the kernel would wait for the same things anyway.
//
// Rule: a compute op X waits for the start of a comm group G listed after the previous compute op and before X only
// when G's start needs nothing X does not already wait for: every dependency of G's ops is a compute op listed before
// X (done before X starts, one stream) or a comm op at or before the latest comm op X, or a compute op before it,
// depends on; and the comm op before G on the comm stream is such an op too. So the wait never delays X behind an
// unrelated transfer (a backward dK/dV return listed before it, say); it only fixes who goes first.
//
//   std::vector<std::vector<int32_t>> w = ListedStartWaits(schedule.ranks[r]);
//   for (int32_t g : w[x]) ...  // x waits for op g's start (g: the last op of its group, after all its deps)
#pragma once

#include <cstdint>
#include <vector>

#include "core/schedule.h"

namespace ringlab {

// For each op of the rank (by id): the comm ops whose start it waits for (each the last op of its group); empty for
// comm ops and for compute ops that let nothing go first.
std::vector<std::vector<int32_t>> ListedStartWaits(const RankSchedule& rank);

}  // namespace ringlab
