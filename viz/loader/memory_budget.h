// How much memory the viewer lets its traces take, and the estimate checked against it before anything is parsed,
// so an input too large for the machine is refused with a one-line message instead of growing until it is killed.
//
//   const MemoryBudget b = ViewerMemoryBudget();
//   RINGLAB_RETURN_IF_ERROR(CheckTraceFits("rank0.json", json_bytes, b));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ringlab::viz::loader {

struct MemoryBudget {
  uint64_t bytes = 0;
  std::string source;  // where the number comes from, for messages ("60% of ulimit -v", ...)
};

// RINGLAB_VIEW_MEMORY_MB when set (a positive integer), else the smaller of half the physical memory and 60% of the
// address-space limit (ulimit -v; the GL driver and threads need the rest).
MemoryBudget ViewerMemoryBudget();

// Model bytes per '{' of the input at most: an Event (56), its running max end (8), the far-out coverage sums (up
// to ~100) and the statistics intervals (48), rounded up. Every event is an object, so '{' bounds the event count.
inline constexpr uint64_t kModelBytesPerObject = 256;
// Lanes (distinct pid/tid pairs) a model may have: every frame lays out all lanes.
inline constexpr size_t kMaxLanes = size_t(1) << 18;

// Upper bound of what loading `json` costs: the input itself plus kModelBytesPerObject per '{'.
uint64_t EstimateLoadBytes(std::string_view json);

// InvalidArgument naming the file, the estimate and the budget when `needed` (added to `already`, what the files
// before it take) exceeds the budget.
Status CheckTraceFits(const std::string& path, uint64_t needed, uint64_t already, const MemoryBudget& budget);

// "1.5 GB", "300 MB"
std::string FormatMegabytes(uint64_t bytes);

}  // namespace ringlab::viz::loader
