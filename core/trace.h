// The one trace format: Chrome Trace Event JSON, so every trace also opens in Perfetto and chrome://tracing.
//
//   {"traceEvents": [...], "displayTimeUnit": "ns",
//    "ringlab": {"version": 1, "source": "real"|"sim"|"cpu", "problem": {...}, "method", "sharding", "pass", "world",
//                "hardware", "schedule_op_count", "variants": {...}}}
// One complete event ("ph":"X") per executed op: pid = rank, tid = stream (0 compute, 1 comm), name, cat = op kind,
// ts/dur in microseconds (fractions allowed), args {op, step, bytes, flops, peer}. Metadata events ("ph":"M") name
// processes ("rank 3") and threads ("compute", "comm"). (rank, args.op) is the op's identity in the schedule, so a
// simulated and a measured trace of one schedule line up op by op.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"

namespace ringlab {

inline constexpr int kTraceFormatVersion = 1;

struct TraceMeta {
  int version = kTraceFormatVersion;
  std::string source;  // real | sim | cpu
  ScheduleConfig config;
  std::string hardware;  // card or profile name
  int64_t schedule_op_count = 0;
};

struct TraceEvent {
  int32_t rank = 0;
  int32_t stream = 0;
  int32_t op = -1;  // schedule op id on that rank
  OpKind kind = OpKind::kAttend;
  int32_t step = 0;
  int32_t peer = -1;
  double ts_us = 0;
  double dur_us = 0;
  int64_t bytes = 0;
  double flops = 0;
};

struct Trace {
  TraceMeta meta;
  std::vector<TraceEvent> events;
};

// Makes an event for `op` of `rank` with its schedule facts filled in; the caller sets ts_us and dur_us.
TraceEvent EventFor(int rank, const Op& op);
// The event's display name: "attend step 3", "send step 0 -> 4".
std::string EventName(const TraceEvent& e);

// Writes the trace through core/output_file.h: whole or absent; "-" is stdout; errors name the file.
Status WriteTraceJson(const Trace& trace, const std::string& path);
// Streams the trace's JSON into `out` (one of an OutputBatch's outputs, for runs that commit several together).
void WriteTraceJson(const Trace& trace, std::ostream& out);
// Reads a ringlab trace; the message names the file and the offending field.
Status ReadTraceJson(const std::string& path, Trace* trace);

}  // namespace ringlab
