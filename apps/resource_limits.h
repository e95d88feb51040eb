// Size checks before allocating: what a request would need (memory, threads) against what this process may use, so
// that an oversized request gets one line with the estimate and the limit (exit 2) instead of std::bad_alloc or a
// failed thread start (exit 134). The limits are the process's own: getrlimit(RLIMIT_AS) less what is mapped,
// MemAvailable in /proc/meminfo, the cgroup's memory.max, RLIMIT_NPROC and kernel.threads-max.
//
//   RINGLAB_RETURN_IF_ERROR(CheckMemory("the schedule (every rank's ops)", ScheduleBytes(cfg)));
#pragma once

#include <cstdint>
#include <string>

#include "core/schedule.h"
#include "core/status.h"

namespace ringlab::cli {

// Bytes this process can still allocate, and which limit says so ("ulimit -v", "MemAvailable", "cgroup memory.max").
double AvailableMemoryBytes(std::string* which);

// InvalidArgument("<what> needs about X GiB; this process may use Y GiB (<which limit>) ...") when `bytes` is more
// than the memory available; `hint` says how to make the request smaller.
Status CheckMemory(const std::string& what, double bytes, const std::string& hint);
// The same for `threads` more threads (each also reserves its stack's address space).
Status CheckThreads(const std::string& what, int64_t threads, const std::string& hint);

// Bytes of the whole schedule of `cfg` (every rank's ops and buffers), from rank 0's ops when that is cheap, else a
// lower bound (every rank holds at least one op per ring step) that is already too large; *ops gets the op count.
double ScheduleBytes(const ScheduleConfig& cfg, int64_t* ops = nullptr);

// Bytes the simulator needs for `cfg` at least: O(W) per-rank state and programs (the shared, spliced, symmetric and
// phased paths and the general engine all keep O(W)), plus the traced ranks' schedules and events (O(ranks × W)),
// plus every rank's whole program when ulysses > 1.
double SimulationBytes(const ScheduleConfig& cfg, int traced_ranks);

// The most ops a run may give the general engine (sim::SimOptions::max_general_ops): about an hour on one core of
// the development machine. Runs with an exact fast path (shared, symmetric, phased) are not limited by it.
int64_t GeneralEngineOpCap();

// "12.3 GiB"
std::string FormatBytes(double bytes);

}  // namespace ringlab::cli
