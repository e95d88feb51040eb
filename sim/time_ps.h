// Simulated time: integer picoseconds, so that event order is exact and a run is deterministic.
#pragma once

#include <cstdint>

namespace ringlab::sim {

using TimePs = int64_t;

// A non-negative duration in (fractional) picoseconds to TimePs: faster than llround, the same result for x >= 0.
inline TimePs RoundPs(double x) { return TimePs(x + 0.5); }

}  // namespace ringlab::sim
