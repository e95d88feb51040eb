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

// Counters (ph C): each numeric value of an event's args is a sample of a series (pid, name.key). Values per event are
// bounded so that an event's samples stay within what its event and args objects are charged (kModelBytesPerObject
// each); series, which copy their name several times, are bounded by the bytes they take (kCounterSeriesBytes each
// plus three copies of the name). A single args object of four million keys used to take 1.6 GB from a 50 MB file,
// estimated at 51 MB: past the budget, and an abort (std::bad_alloc) under ulimit -v.
inline constexpr size_t kMaxCounterValues = 16;
inline constexpr uint64_t kCounterSeriesBytes = 512;
inline constexpr uint64_t kMaxCounterSeriesBytes = uint64_t(32) << 20;

// Upper bound of what loading `json` costs: the input itself plus kModelBytesPerObject per '{'.
uint64_t EstimateLoadBytes(std::string_view json);

// InvalidArgument naming the file, the estimate and the budget when `needed` (added to `already`, what the files
// before it take) exceeds the budget.
Status CheckTraceFits(const std::string& path, uint64_t needed, uint64_t already, const MemoryBudget& budget);

// "1.5 GB", "300 MB"
std::string FormatMegabytes(uint64_t bytes);

}  // namespace ringlab::viz::loader
